"""ResourceNotFoundException around Lambda (the cheat sheet's entry): a
function deployed to another region, a name with the wrong separator, event
source mappings whose queue, table or Kinesis stream was deleted (or whose
table was recreated with a new stream) or that are disabled, a bucket
notifying a function that never existed, a bucket not allowed to invoke its
function, and a healthy twin with all of it wired correctly.

Where a fix needs a source only a human can name (the queue or stream that
replaces a deleted one), the scenario seeds that replacement and the case's
fix_vars name it, as the engineer would."""
from __future__ import annotations

from . import ACCOUNT, REGION, Case, Seeder, scenario

OTHER_REGION = "eu-west-1"
PARTNER_ACCOUNT = "210987654321"


def _queue_arn(s: Seeder, name: str) -> tuple[str, str]:
    sqs = s.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _notify(s: Seeder, bucket: str, function_arn: str) -> None:
    s3 = s.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [
        {"Id": f"{bucket}-created", "LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}]})


def _table(s: Seeder, name: str) -> str:
    """A table with a stream; its stream ARN."""
    return s.client("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"]["LatestStreamArn"]


def _kinesis(s: Seeder, name: str) -> str:
    kinesis = s.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


class _Other:
    """Clients acting as another account (moto: credentials from sts:AssumeRole into it)."""

    def __init__(self, s: Seeder, account: str):
        import boto3
        creds = s.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/seeder",
                                            RoleSessionName="seed")["Credentials"]
        self.session = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                     aws_session_token=creds["SessionToken"], region_name=s.region)
        self.endpoint_url = s.endpoint_url

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url)


def _account(s: Seeder, account: str) -> "_Other":
    return _Other(s, account)


def function_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


@scenario("lambda-not-found", "Lambda ResourceNotFoundException: wrong region, wrong name, stale triggers, no permission")
def lambda_not_found(s: Seeder) -> list[Case]:
    lam = s.client("lambda")

    # Deployed to eu-west-1 only; the caller looks for it in us-east-1.
    Seeder(s.endpoint_url, region=OTHER_REGION).function("invoice-render", timeout=30)
    # Exists as checkout-handler; the caller asks for checkout_handler.
    s.function("checkout-handler", timeout=10)

    # The SQS queue behind a mapping was deleted (the mapping stays "Enabled").
    s.function("orders-consumer", timeout=30)
    url, arn = _queue_arn(s, "orders-events")
    lam.create_event_source_mapping(FunctionName="orders-consumer", EventSourceArn=arn, BatchSize=10)
    s.client("sqs").delete_queue(QueueUrl=url)
    _, orders_v2 = _queue_arn(s, "orders-events-v2")        # the queue a human chooses instead

    # The DynamoDB table (and so its stream) behind a mapping was deleted.
    s.function("ledger-projector", timeout=30)
    ddb = s.client("dynamodb")
    lam.create_event_source_mapping(FunctionName="ledger-projector", EventSourceArn=_table(s, "ledger-entries"),
                                    StartingPosition="LATEST", BatchSize=100)
    ddb.delete_table(TableName="ledger-entries")
    ledger_v2 = _table(s, "ledger-entries-v2")              # the table a human recreates instead

    # The table behind a mapping was deleted and recreated: same name, a new
    # stream ARN, and the mapping still on the old one (the old stream reads
    # as ENABLED in moto; DescribeTable's LatestStreamArn tells).
    s.function("audit-projector", timeout=30)
    lam.create_event_source_mapping(FunctionName="audit-projector", EventSourceArn=_table(s, "audit-log"),
                                    StartingPosition="TRIM_HORIZON", BatchSize=50)
    ddb.delete_table(TableName="audit-log")
    _table(s, "audit-log")

    # The Kinesis stream behind a mapping was deleted.
    s.function("clicks-aggregator", timeout=30)
    lam.create_event_source_mapping(FunctionName="clicks-aggregator", EventSourceArn=_kinesis(s, "clickstream"),
                                    StartingPosition="LATEST", BatchSize=200)
    s.client("kinesis").delete_stream(StreamName="clickstream")
    clicks_v2 = _kinesis(s, "clickstream-v2")

    # One function, three stale mappings on different sources (issue 16: every
    # one gets its commands, not the first): two deleted queues, whose
    # replacements a human names (QUEUE_ARN_1, QUEUE_ARN_2), and a recreated
    # table whose new stream triage reads.
    s.function("fanin-projector", timeout=30)
    url, arn = _queue_arn(s, "fanin-orders")
    lam.create_event_source_mapping(FunctionName="fanin-projector", EventSourceArn=arn, BatchSize=5)
    s.client("sqs").delete_queue(QueueUrl=url)
    url, arn = _queue_arn(s, "fanin-refunds")
    lam.create_event_source_mapping(FunctionName="fanin-projector", EventSourceArn=arn, BatchSize=7)
    s.client("sqs").delete_queue(QueueUrl=url)
    lam.create_event_source_mapping(FunctionName="fanin-projector", EventSourceArn=_table(s, "fanin-ledger"),
                                    StartingPosition="TRIM_HORIZON", BatchSize=25)
    ddb.delete_table(TableName="fanin-ledger")
    _table(s, "fanin-ledger")
    _, fanin_orders_v2 = _queue_arn(s, "fanin-orders-v2")
    _, fanin_refunds_v2 = _queue_arn(s, "fanin-refunds-v2")

    # A mapping someone disabled; its queue still exists.
    s.function("payments-listener", timeout=30)
    _, arn = _queue_arn(s, "payments-events")
    lam.create_event_source_mapping(FunctionName="payments-listener", EventSourceArn=arn, Enabled=False)

    # Two mappings someone disabled, on live queues: each gets its command.
    s.function("refunds-listener", timeout=30)
    for name in ("refunds-events", "refunds-retries"):
        _, arn = _queue_arn(s, name)
        lam.create_event_source_mapping(FunctionName="refunds-listener", EventSourceArn=arn, Enabled=False)

    # A bucket notifies a function that does not exist (and a queue, which
    # the fix must keep).
    _notify(s, "uploads-incoming-demo", function_arn("thumbnail-resizer"))
    _, audit_queue = _queue_arn(s, "uploads-audit")
    s.client("s3").put_bucket_notification_configuration(Bucket="uploads-incoming-demo", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"Id": "uploads-incoming-demo-created", "LambdaFunctionArn":
                                          function_arn("thumbnail-resizer"), "Events": ["s3:ObjectCreated:*"]}],
        "QueueConfigurations": [{"Id": "uploads-audit", "QueueArn": audit_queue, "Events": ["s3:ObjectRemoved:*"]}]})

    # A bucket notifies a function whose policy does not let S3 invoke it
    # (the only statement is for another bucket).
    s.function("invoice-parser", timeout=30)
    _notify(s, "invoices-incoming-demo", function_arn("invoice-parser"))
    lam.add_permission(FunctionName="invoice-parser", StatementId="s3-old-bucket", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::invoices-archive-demo", SourceAccount=ACCOUNT)

    # A bucket notifies an alias; the permission is on the function, and an
    # alias has a policy of its own: S3 may not invoke the alias.
    s.function("media-thumbnailer", timeout=30)
    version = lam.publish_version(FunctionName="media-thumbnailer")["Version"]
    lam.create_alias(FunctionName="media-thumbnailer", Name="live", FunctionVersion=version)
    _notify(s, "media-incoming-demo", function_arn("media-thumbnailer") + ":live")
    lam.add_permission(FunctionName="media-thumbnailer", StatementId="s3-media", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::media-incoming-demo", SourceAccount=ACCOUNT)

    # A partner account's bucket notifies a function here, which has no
    # permission for it: SourceAccount is the partner's, which only the
    # partner's account can tell (the case's fix_vars name it, as the engineer would).
    s.function("partner-ingest", timeout=30)
    _notify(_account(s, PARTNER_ACCOUNT), "partner-drops-demo", function_arn("partner-ingest"))

    # Healthy twin: a live queue, an enabled mapping, a notification with permission.
    s.function("report-indexer", timeout=30)
    _, arn = _queue_arn(s, "report-jobs")
    lam.create_event_source_mapping(FunctionName="report-indexer", EventSourceArn=arn, BatchSize=10)
    _notify(s, "reports-incoming-demo", function_arn("report-indexer"))
    lam.add_permission(FunctionName="report-indexer", StatementId="s3-reports", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::reports-incoming-demo", SourceAccount=ACCOUNT)

    return [
        Case("lambda-not-found", {"function": "invoice-render"}, ["function-missing"],
             "ResourceNotFoundException: the function lives in another region"),
        Case("lambda-not-found", {"function": "checkout_handler"}, ["function-missing"],
             "ResourceNotFoundException: a similar name exists"),
        Case("lambda-not-found", {"function": "orders-consumer"}, ["event-source-missing"],
             "event source mapping on a deleted SQS queue", fix_vars={"QUEUE_ARN": orders_v2}),
        Case("lambda-not-found", {"function": "ledger-projector"}, ["event-source-missing"],
             "event source mapping on a deleted DynamoDB stream", fix_vars={"STREAM_ARN": ledger_v2}),
        Case("lambda-not-found", {"function": "audit-projector"}, ["event-source-missing"],
             "event source mapping on the old stream of a recreated DynamoDB table"),
        Case("lambda-not-found", {"function": "clicks-aggregator"}, ["event-source-missing"],
             "event source mapping on a deleted Kinesis stream", fix_vars={"STREAM_ARN": clicks_v2}),
        Case("lambda-not-found", {"function": "fanin-projector"}, ["event-source-missing"],
             "three stale event source mappings: two deleted queues and a recreated table",
             fix_vars={"QUEUE_ARN_1": fanin_orders_v2, "QUEUE_ARN_2": fanin_refunds_v2}),
        Case("lambda-not-found", {"function": "payments-listener"}, ["event-source-mapping-unhealthy"],
             "disabled event source mapping"),
        Case("lambda-not-found", {"function": "refunds-listener"}, ["event-source-mapping-unhealthy"],
             "two disabled event source mappings"),
        Case("lambda-not-found", {"function": "thumbnail-resizer", "bucket": "uploads-incoming-demo"},
             ["function-missing", "s3-notification-target-missing"], "bucket notifies a function that does not exist"),
        Case("lambda-not-found", {"function": "invoice-parser", "bucket": "invoices-incoming-demo"},
             ["missing-invoke-permission"], "S3 may not invoke the function"),
        Case("lambda-not-found", {"function": "media-thumbnailer", "bucket": "media-incoming-demo"},
             ["missing-invoke-permission"], "S3 may invoke the function, but the bucket notifies its alias"),
        Case("lambda-not-found", {"function": "partner-ingest", "bucket": "partner-drops-demo"},
             ["missing-invoke-permission"], "another account's bucket may not invoke the function",
             fix_vars={"BUCKET_ACCOUNT_ID": PARTNER_ACCOUNT}),
        Case("lambda-not-found", {"function": "report-indexer", "bucket": "reports-incoming-demo"}, [],
             "healthy: live sources, permission in place"),
    ]

