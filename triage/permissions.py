"""IAM action names behind API operations (mostly service:Operation, with
documented exceptions), so triage can say which permission a denied call
needed and print the least-privilege policy for a playbook."""
from __future__ import annotations

# botocore service name -> IAM service prefix, where they differ.
_PREFIX = {
    "stepfunctions": "states", "elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing",
    "sesv2": "ses", "es": "es", "opensearch": "es", "logs": "logs", "cloudwatch": "cloudwatch",
    "s3control": "s3", "apigatewayv2": "apigateway", "rds-data": "rds-data",
    "emr": "elasticmapreduce", "efs": "elasticfilesystem", "resourcegroupstaggingapi": "tag",
    "dynamodbstreams": "dynamodb", "sso-admin": "sso", "pinpoint": "mobiletargeting", "amp": "aps",
    "apigatewaymanagementapi": "execute-api", "sagemaker-runtime": "sagemaker", "timestream-query": "timestream",
    "lex-models": "lex", "iot-data": "iot", "iotevents-data": "iotevents", "mwaa": "airflow",
    "opensearchserverless": "aoss", "marketplace-entitlement": "aws-marketplace",
}

# (service, operation) -> IAM action where the action name differs.
_ACTION = {
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "GetBucketNotification"): "s3:GetBucketNotification",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "GetBucketOwnershipControls"): "s3:GetBucketOwnershipControls",
    ("s3", "GetBucketCors"): "s3:GetBucketCORS",
    ("s3", "GetBucketLifecycle"): "s3:GetLifecycleConfiguration",
    ("s3", "GetBucketAccelerateConfiguration"): "s3:GetAccelerateConfiguration",
    ("s3", "GetBucketAnalyticsConfiguration"): "s3:GetAnalyticsConfiguration",
    ("s3", "ListBucketAnalyticsConfigurations"): "s3:GetAnalyticsConfiguration",
    ("s3", "GetBucketInventoryConfiguration"): "s3:GetInventoryConfiguration",
    ("s3", "ListBucketInventoryConfigurations"): "s3:GetInventoryConfiguration",
    ("s3", "GetBucketMetricsConfiguration"): "s3:GetMetricsConfiguration",
    ("s3", "ListBucketMetricsConfigurations"): "s3:GetMetricsConfiguration",
    ("s3", "GetBucketIntelligentTieringConfiguration"): "s3:GetIntelligentTieringConfiguration",
    ("s3", "ListBucketIntelligentTieringConfigurations"): "s3:GetIntelligentTieringConfiguration",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "ListMultipartUploads"): "s3:ListBucketMultipartUploads",
    ("s3", "ListParts"): "s3:ListMultipartUploadParts",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
    ("s3control", "GetBucket"): "s3-outposts:GetBucket",
    ("s3control", "GetBucketLifecycleConfiguration"): "s3-outposts:GetLifecycleConfiguration",
    ("s3control", "GetBucketReplication"): "s3-outposts:GetReplicationConfiguration",
    ("s3control", "ListRegionalBuckets"): "s3-outposts:ListRegionalBuckets",
    ("lambda", "GetLayerVersionByArn"): "lambda:GetLayerVersion",
    ("dynamodbstreams", "GetShardIterator"): "dynamodb:GetShardIterator",
    ("lambda", "ListFunctions"): "lambda:ListFunctions",
    ("lambda", "GetPolicy"): "lambda:GetPolicy",
    ("cloudwatch", "GetMetricData"): "cloudwatch:GetMetricData",
    ("apigateway", "GetRestApis"): "apigateway:GET",
    ("apigateway", "GetResources"): "apigateway:GET",
    ("apigateway", "GetIntegration"): "apigateway:GET",
    ("apigateway", "GetStages"): "apigateway:GET",
    ("apigateway", "GetStage"): "apigateway:GET",
}

# Calls that need no permission at all.
UNAUTHENTICATED = frozenset({("sts", "GetCallerIdentity")})


def iam_action(service: str, operation: str) -> str | None:
    if (service, operation) in UNAUTHENTICATED:
        return None
    if (service, operation) in _ACTION:
        return _ACTION[(service, operation)]
    if service.startswith("apigateway"):
        return "apigateway:GET"
    return f"{_PREFIX.get(service, service)}:{operation}"
