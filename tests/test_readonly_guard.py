"""The read-only guard admits only safe reads (issue 11, item 1): one rule,
readonly.refusal(service, operation, params), applied by `validate`, by
Aws.call / ReplayAws.call and by a botocore hook on every client, and every
refusal names its rule: (a) not a read, (b) data-plane read, (c) sensitive
output, (d) secret-unlocking parameter, (e) side effect."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import run_cli

# --- (1) the reviewed sample: the guard's answer, both ways --------------------------
# (call, params, None when admitted / the rule letter that refuses it)
SAMPLE = [
    # admitted: the diagnostic reads, including the reviewed metadata reads with masked sensitive members
    ("lambda.GetFunctionConfiguration", {"FunctionName": "f"}, None),
    ("lambda.GetFunction", {"FunctionName": "f"}, None),
    ("lambda.ListFunctions", {}, None),
    ("rds.DescribeDBInstances", {}, None),
    ("organizations.DescribeOrganization", {}, None),
    ("ecs.DescribeTaskDefinition", {"taskDefinition": "t"}, None),
    ("s3.HeadObject", {"Bucket": "b", "Key": "k"}, None),
    ("logs.FilterLogEvents", {"logGroupName": "/aws/lambda/f"}, None),
    ("logs.GetQueryResults", {"queryId": "q"}, None),        # log lines, like FilterLogEvents
    ("cloudwatch.GetMetricStatistics", {}, None),
    ("ec2.DescribeInstances", {}, None),
    ("ec2.DescribeInstanceAttribute", {"InstanceId": "i-1", "Attribute": "instanceType"}, None),
    ("iam.GetRolePolicy", {}, None),
    ("iam.SimulatePrincipalPolicy", {}, None),
    ("iam.GenerateCredentialReport", {}, None),
    ("iam.GetCredentialReport", {}, None),
    ("sts.GetCallerIdentity", {}, None),
    ("sts.DecodeAuthorizationMessage", {"EncodedMessage": "x"}, None),
    ("s3.GetBucketPolicy", {"Bucket": "b"}, None),
    ("glue.GetConnection", {"Name": "c", "HidePassword": True}, None),
    ("apigateway.GetApiKey", {"apiKey": "k"}, None),
    ("apigateway.GetApiKeys", {"includeValues": False}, None),
    ("ssm.DescribeParameters", {}, None),
    ("secretsmanager.DescribeSecret", {"SecretId": "s"}, None),
    ("dynamodb.DescribeTable", {"TableName": "t"}, None),
    ("kinesis.DescribeStreamSummary", {}, None),
    ("sqs.GetQueueAttributes", {"QueueUrl": "u"}, None),
    ("cloudtrail.LookupEvents", {}, None),
    ("codecommit.GetRepository", {"repositoryName": "r"}, None),
    # (a) not a read
    ("lambda.DeleteFunction", {"FunctionName": "f"}, "a"),
    ("lambda.UpdateFunctionConfiguration", {"FunctionName": "f", "Timeout": 900}, "a"),
    ("lambda.Invoke", {"FunctionName": "f"}, "a"),
    ("s3.PutObject", {"Bucket": "b", "Key": "k"}, "a"),
    # (b) data-plane reads
    ("dynamodb.GetItem", {"TableName": "t", "Key": {}}, "b"),
    ("dynamodb.BatchGetItem", {"RequestItems": {}}, "b"),
    ("dynamodb.Query", {"TableName": "t"}, "b"),
    ("dynamodb.Scan", {"TableName": "t"}, "b"),
    ("dynamodbstreams.GetRecords", {"ShardIterator": "s"}, "b"),
    ("kinesis.GetRecords", {"ShardIterator": "s"}, "b"),
    ("s3.GetObject", {"Bucket": "b", "Key": "k"}, "b"),              # derived: a streamed output
    ("s3.GetObjectTorrent", {"Bucket": "b", "Key": "k"}, "b"),
    ("sqs.ReceiveMessage", {"QueueUrl": "u"}, "b"),
    ("athena.GetQueryResults", {"QueryExecutionId": "q"}, "b"),
    ("codecommit.GetFile", {"repositoryName": "r", "filePath": "p"}, "b"),
    ("codecommit.GetBlob", {"repositoryName": "r", "blobId": "b"}, "b"),
    ("ec2.GetPasswordData", {"InstanceId": "i-1"}, "b"),
    ("ec2.GetConsoleOutput", {"InstanceId": "i-1"}, "b"),
    ("ecr.GetDownloadUrlForLayer", {"repositoryName": "r", "layerDigest": "d"}, "b"),
    # (c) sensitive output (derived from the models), or a secret the model does not mark
    ("secretsmanager.GetSecretValue", {"SecretId": "s"}, "c"),
    ("secretsmanager.BatchGetSecretValue", {}, "c"),
    ("ssm.GetParameterHistory", {"Name": "n"}, "c"),
    ("ssm.GetParametersByPath", {"Path": "/"}, "c"),
    ("lightsail.GetRelationalDatabaseMasterUserPassword", {"relationalDatabaseName": "d"}, "c"),
    ("ec2.GetLaunchTemplateData", {"InstanceId": "i-1"}, "c"),
    ("stepfunctions.DescribeExecution", {"executionArn": "a"}, "c"),
    ("wafv2.GetDecryptedAPIKey", {"Scope": "REGIONAL", "APIKey": "k"}, "c"),
    # (d) a parameter that unlocks secrets (derived from boolean input members; a template is refused)
    ("ssm.GetParameterHistory", {"Name": "n", "WithDecryption": True}, "d"),
    ("ssm.GetParameter", {"Name": "n", "WithDecryption": True}, "d"),
    ("ssm.GetParameters", {"Names": ["n"], "WithDecryption": True}, "d"),
    ("apigateway.GetApiKey", {"apiKey": "k", "includeValue": True}, "d"),
    ("apigateway.GetApiKeys", {"includeValues": "${inputs.show}"}, "d"),
    ("glue.GetConnection", {"Name": "c"}, "d"),
    ("glue.GetConnections", {"HidePassword": False}, "d"),
    ("logs.FilterLogEvents", {"logGroupName": "g", "unmask": True}, "d"),
    ("datazone.GetConnection", {"domainIdentifier": "d", "identifier": "c", "withSecret": True}, "d"),
    ("ec2.DescribeInstanceAttribute", {"InstanceId": "i-1", "Attribute": "userData"}, "d"),
    # (e) side effects: creates something, mints a credential
    ("cognito-identity.GetId", {"IdentityPoolId": "p"}, "e"),
    ("cognito-identity.GetCredentialsForIdentity", {"IdentityId": "i"}, "e"),
    ("cognito-identity.GetOpenIdToken", {"IdentityId": "i"}, "e"),
    ("sts.GetSessionToken", {}, "e"),
    ("sts.GetFederationToken", {"Name": "n"}, "e"),
    ("ecr.GetAuthorizationToken", {}, "e"),
    ("redshift.GetClusterCredentials", {"DbUser": "u", "ClusterIdentifier": "c"}, "e"),
    ("redshift-serverless.GetCredentials", {}, "e"),
]


def _ids(sample):
    return [f"{call}-{rule or 'ok'}-{i}" for i, (call, _, rule) in enumerate(sample)]


@pytest.mark.parametrize("call,params,rule", SAMPLE, ids=_ids(SAMPLE))
def test_guard_answer_for_the_reviewed_sample(call, params, rule):
    from triage import botomodel
    from triage.readonly import refusal

    service, operation = call.split(".")
    assert operation in botomodel.service_model(service).operation_names, f"{call} is not a botocore operation"
    got = refusal(service, operation, params)
    if rule is None:
        assert got is None, f"{call} {params} should be admitted: {got}"
    else:
        assert got is not None, f"{call} {params} should be refused by rule ({rule})"
        assert got.rule == rule and got.startswith(f"rule ({rule}) "), got
    # the model given by the caller (as the botocore hook does) gives the same answer
    model = botomodel.service_model(service).operation_model(operation)
    assert refusal(service, operation, params, model) == got


def test_reviewed_sample_and_lists():
    from triage import botomodel, readonly

    # the sample is big enough both ways and covers every rule
    assert len({c for c, _, r in SAMPLE if r is None}) >= 20
    assert len({c for c, _, r in SAMPLE if r is not None}) >= 40
    assert {r for _, _, r in SAMPLE} == {None} | set(readonly.RULES)
    # every entry of the hand lists names a real operation and says why
    for table in (readonly.DATA_PLANE, readonly.MASKED_METADATA, readonly.UNMARKED_SECRETS,
                  readonly.UNLOCKING_VALUES, readonly.SIDE_EFFECTS):
        for (service, operation), reason in table.items():
            assert operation in botomodel.service_model(service).operation_names, f"{service}.{operation}"
            assert reason, f"{service}.{operation} needs its one-line reason"
    # a masked-metadata entry is only there because its model marks something sensitive
    for service, operation in readonly.MASKED_METADATA:
        model = botomodel.service_model(service).operation_model(operation)
        assert readonly._sensitive_path(model.output_shape), f"{service}.{operation} has no sensitive output"


def test_unlocking_parameters_are_derived_from_names():
    from triage.readonly import unlocking_mode

    for name in ("WithDecryption", "includeValue", "includeValues", "unmask", "withSecret", "IncludeSecretValue"):
        assert unlocking_mode(name) == "on", name
    assert unlocking_mode("HidePassword") == "off"
    for name in ("IncludePropertyValues", "IncludePublicKey", "HideDisabled", "Recursive", "DryRun"):
        assert unlocking_mode(name) is None, name


def test_name_rules_need_no_botocore():
    # refusing a write needs no model: nothing imports botocore (triage --help stays fast)
    code = ("import sys; from triage.readonly import refusal; import triage.aws, triage.botomodel; "
            "r = refusal('lambda', 'DeleteFunction', {}); assert r.rule == 'a', r; "
            "assert 'botocore' not in sys.modules, 'botocore imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- (2) every call the shipped playbooks make is admitted with their params ------------

def _shipped_calls():
    from triage import catalog, playbook

    calls = []
    for entry in catalog.discover().values():
        if not catalog.is_builtin(entry.path):
            continue
        pb = playbook.load(entry.path, deep=False)
        for step in pb.steps.values():
            calls.append((f"{pb.id} step {step.id}", step.service, step.operation, step.params))
        if pb.scan is not None and not pb.scan.once:
            calls.append((f"{pb.id} scan", pb.scan.service, pb.scan.operation, pb.scan.params))
        for name, inp in pb.inputs.items():
            if inp.complete:
                calls.append((f"{pb.id} --{name} completion", inp.complete.service, inp.complete.operation,
                              inp.complete.params))
    return calls


def test_every_call_of_the_shipped_playbooks_is_admitted():
    from triage.readonly import refusal

    calls = _shipped_calls()
    assert len(calls) > 50 and any("scan" in c[0] for c in calls) and any("completion" in c[0] for c in calls)
    refused = {where: f"{s}.{o}: {r}" for where, s, o, p in calls if (r := refusal(s, o, p))}
    assert not refused, refused
    # the ones with sensitive members are admitted because they are reviewed, not by accident
    used = {(s, o) for _, s, o, _ in calls}
    assert {("lambda", "GetFunctionConfiguration"), ("lambda", "ListFunctions"), ("rds", "DescribeDBInstances"),
            ("organizations", "DescribeOrganization")} <= used


# --- (3) the reproduced problems, refused at validate time and at run time --------------
REPRODUCED = [
    ("ssm.GetParameterHistory", {"Name": "/orders/db-password", "WithDecryption": True}, "d", "WithDecryption set to true"),
    ("ssm.GetParameter", {"Name": "/orders/db-password", "WithDecryption": True}, "d", "WithDecryption set to true"),
    ("ssm.GetParameters", {"Names": ["/orders/db-password"], "WithDecryption": True}, "d", "WithDecryption set to true"),
    ("apigateway.GetApiKey", {"apiKey": "abc123", "includeValue": True}, "d", "includeValue set to true"),
    ("apigateway.GetApiKeys", {"includeValues": True}, "d", "includeValues set to true"),
    ("dynamodb.GetItem", {"TableName": "orders", "Key": {"id": {"S": "1"}}}, "b", "table items"),
    ("dynamodb.BatchGetItem", {"RequestItems": {"orders": {"Keys": [{"id": {"S": "1"}}]}}}, "b", "table items"),
    ("dynamodb.Query", {"TableName": "orders"}, "b", "table items"),
    ("dynamodb.Scan", {"TableName": "orders"}, "b", "table items"),
    ("glue.GetConnection", {"Name": "warehouse"}, "d", "HidePassword not set"),
    ("ec2.GetPasswordData", {"InstanceId": "i-0abc"}, "b", "password"),
    ("ec2.GetConsoleOutput", {"InstanceId": "i-0abc"}, "b", "console output"),
    ("ecr.GetDownloadUrlForLayer", {"repositoryName": "app", "layerDigest": "sha256:00"}, "b", "layer"),
    ("kinesis.GetRecords", {"ShardIterator": "AAAA"}, "b", "stream records"),
    ("codecommit.GetFile", {"repositoryName": "app", "filePath": ".env"}, "b", "file contents"),
    ("codecommit.GetBlob", {"repositoryName": "app", "blobId": "abc"}, "b", "file contents"),
    ("wafv2.GetDecryptedAPIKey", {"Scope": "REGIONAL", "APIKey": "k"}, "c", "decrypted API key"),
    ("redshift-serverless.GetCredentials", {"workgroupName": "wg"}, "e", "database password"),
    ("lightsail.GetRelationalDatabaseMasterUserPassword", {"relationalDatabaseName": "db"}, "c", "masterUserPassword"),
    ("cognito-identity.GetId", {"IdentityPoolId": "us-east-1:00000000-0000-0000-0000-000000000000"}, "e",
     "creates an identity"),
]

PLAYBOOK = """\
id: sneaky
title: Sneaky read
summary: Reads what triage must not.
steps:
  data:
    call: {call}
    params: {params}
checks:
  - id: found
    severity: low
    when: data
    title: Found
    explanation: found
"""


@pytest.mark.parametrize("call,params,rule,why", REPRODUCED, ids=[r[0] for r in REPRODUCED])
def test_reproduced_problem_is_refused_by_validate(tmp_path, call, params, rule, why):
    path = tmp_path / "sneaky.yaml"
    path.write_text(PLAYBOOK.format(call=call, params=json.dumps(params)))
    r = run_cli("validate", str(path))
    assert r.code == 2, r.out
    assert f"{path}:6: refused: {call}: rule ({rule}) " in r.out, r.out
    assert why in r.out, r.out
    assert "Traceback" not in r.out + r.err and "REDACTED" not in r.out, r.out   # the reason survives the output edge


def _playbook(call: str, params: str, before_steps: str = "") -> str:
    return PLAYBOOK.format(call=call, params=params).replace("steps:", before_steps + "steps:")


@pytest.mark.parametrize("where,text,line,rule", [
    ("a template for an unlocking parameter",
     _playbook("ssm.GetParameterHistory", '{"Name": "n", "WithDecryption": "${inputs.decrypt}"}',
               "inputs:\n  decrypt: {type: boolean, default: false}\n"),
     8, "rule (d) secret-unlocking parameter WithDecryption set to ${inputs.decrypt} (a template"),
    ("a completion source",
     _playbook("lambda.ListFunctions", "{}", "inputs:\n  key:\n    complete: {call: apigateway.GetApiKeys, "
                                             "params: {includeValues: true}, query: 'items[].value'}\n"),
     6, "refused: apigateway.GetApiKeys: rule (d) secret-unlocking parameter includeValues set to true"),
    ("a scan source",
     _playbook("lambda.ListFunctions", "{}", "inputs:\n  connection: {type: string}\nscan:\n"
                                             "  call: glue.GetConnections\n  query: ConnectionList[].Name\n"
                                             "  input: connection\n"),
     7, "refused: glue.GetConnections: rule (d) secret-unlocking parameter HidePassword not set"),
], ids=["template", "completion", "scan"])
def test_validate_refuses_unlocking_templates_and_sources(tmp_path, where, text, line, rule):
    path = tmp_path / "sneaky.yaml"
    path.write_text(text)
    r = run_cli("validate", str(path))
    assert r.code == 2, r.out
    assert f"{path}:{line}: " in r.out and rule in r.out and "REDACTED" not in r.out, r.out


@pytest.fixture(scope="module")
def aws(world):
    """One Aws for the module: its clients (and botocore's loaded models) are reused."""
    from triage.aws import Aws, AwsSettings
    return Aws(AwsSettings(region="us-east-1", endpoint_url=world.url))


@pytest.fixture
def counting():
    """counting(client) -> the list of URLs the client sends during this test."""
    registered = []

    def count(client) -> list:
        sent: list = []

        def handler(request, **_):
            sent.append(request.url)
        client.meta.events.register("before-send", handler)
        registered.append((client, handler))
        return sent
    yield count
    for client, handler in registered:
        client.meta.events.unregister("before-send", handler)


def _method(client, operation):
    from botocore import xform_name
    return getattr(client, xform_name(operation))


@pytest.mark.parametrize("call,params,rule,why", REPRODUCED, ids=[r[0] for r in REPRODUCED])
def test_reproduced_problem_is_refused_at_run_time_before_any_request(aws, counting, call, params, rule, why):
    from triage.errors import ReadOnlyViolation

    service, operation = call.split(".")
    client = aws.client(service)
    sent = counting(client)
    logged = len(aws.log)
    with pytest.raises(ReadOnlyViolation) as refused:
        aws.call(service, operation, params)
    assert refused.value.message.startswith(f"refused {call}: rule ({rule}) "), refused.value.message
    assert why in refused.value.message
    # the botocore hook refuses the same call made on the client itself
    with pytest.raises(ReadOnlyViolation) as hooked:
        _method(client, operation)(**params)
    assert hooked.value.message == refused.value.message
    assert sent == [], "a request was sent"
    assert len(aws.log) == logged, "a refused call is not a call"


def test_replayed_case_cannot_serve_a_recorded_secret():
    from triage.casefile import Case, RecordedCall, ReplayAws
    from triage.errors import ReadOnlyViolation

    params = {"Name": "/orders/db-password", "WithDecryption": True}
    recorded = RecordedCall("ssm", "GetParameterHistory", params, "us-east-1",
                            response={"Parameters": [{"Name": "/orders/db-password", "Value": "hunter2"}]})
    replay = ReplayAws(Case("hostile", {}, "us-east-1", None, [], [recorded]))
    with pytest.raises(ReadOnlyViolation, match=r"^refused ssm.GetParameterHistory: rule \(d\) "
                                                r"secret-unlocking parameter WithDecryption set to true"):
        replay.call("ssm", "GetParameterHistory", params)


# --- (4) direct botocore use through Aws.client ---------------------------------------

def test_direct_client_use_is_refused_too(aws, counting):
    from triage.errors import ReadOnlyViolation

    ssm = aws.client("ssm")
    sent = counting(ssm)
    with pytest.raises(ReadOnlyViolation, match=r"rule \(d\) secret-unlocking parameter WithDecryption set to true"):
        ssm.get_parameters_by_path(Path="/", WithDecryption=True)
    with pytest.raises(ReadOnlyViolation, match=r"rule \(d\) secret-unlocking parameter WithDecryption set to true"):
        ssm.get_paginator("get_parameters_by_path").paginate(Path="/", WithDecryption=True).build_full_result()
    with pytest.raises(ReadOnlyViolation, match=r"rule \(c\) sensitive output: .* marks Parameters\[\]\.Value sensitive"):
        ssm.get_parameter_history(Name="/orders/db-password")
    assert sent == []
    ssm.describe_parameters()               # an admitted read still goes out
    assert len(sent) == 1

    s3 = aws.client("s3")
    with pytest.raises(ReadOnlyViolation, match=r"^refused s3.GetObject: rule \(b\) data-plane read"):
        s3.generate_presigned_url("get_object", Params={"Bucket": "orders-data", "Key": "reports/2026.csv"})
    dynamodb = aws.client("dynamodb")
    with pytest.raises(ReadOnlyViolation, match=r"^refused dynamodb.GetItem: rule \(b\) data-plane read"):
        dynamodb.get_item(TableName="orders", Key={"id": {"S": "1"}})
    cognito = aws.client("cognito-identity")
    with pytest.raises(ReadOnlyViolation, match=r"^refused cognito-identity.GetId: rule \(e\) side effect"):
        cognito.get_id(IdentityPoolId="us-east-1:00000000-0000-0000-0000-000000000000")
