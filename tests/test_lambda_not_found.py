"""lambda-not-found against the seeded moto incidents: each finding fires on
its scenario with the evidence and fix it must carry, and not on the healthy
twin; plus the name-similarity domain function."""
from __future__ import annotations

import json
import shlex

import pytest

from triage.demo.scenarios import Seeder
from triage.expr import search, similar_names

ACCOUNT = "123456789012"


def diagnose(cli, function: str, *extra: str) -> tuple[int, dict]:
    r = cli("lambda-not-found", "--function", function, "--output", "json", *extra)
    assert "Traceback" not in r.err, r.err
    return r.code, json.loads(r.out)


def only(data: dict, check: str) -> dict:
    assert [f["check"] for f in data["findings"]] == [check], data["findings"]
    return data["findings"][0]


def test_function_in_another_region(cli):
    code, data = diagnose(cli, "invoice-render")
    assert code == 1
    f = only(data, "function-missing")
    ev = f["evidence"]
    assert ev["region"] == "us-east-1"
    assert ev["exists_in_regions"] == ["eu-west-1"]
    assert ev["arns_elsewhere"] == [f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:invoice-render"]
    assert ev["regions_checked"] >= 16 and ev["similar_names"] == []
    assert "It exists in eu-west-1: the caller is using the wrong region" in f["explanation"]
    assert f["fix"]["commands"] == [
        "aws lambda get-function-configuration --function-name invoice-render --region eu-west-1"]


def test_function_under_a_similar_name(cli):
    code, data = diagnose(cli, "checkout_handler")
    f = only(data, "function-missing")
    assert f["evidence"]["similar_names"] == ["checkout-handler"]
    assert f["evidence"]["exists_in_regions"] == []
    assert "Functions with similar names exist here: checkout-handler" in f["explanation"]
    assert f["fix"]["commands"] == [
        "aws lambda get-function-configuration --function-name checkout-handler --region us-east-1"]


def test_existing_function_is_not_missing_and_costs_no_region_fan_out(cli):
    code, data = diagnose(cli, "report-indexer")
    assert code == 0 and data["findings"] == [] and data["unchecked"] == []
    called = [c["call"] for c in data["calls"]]
    assert "ec2.DescribeRegions" not in called and "lambda.ListFunctions" not in called


def test_event_source_on_deleted_sqs_queue(cli):
    code, data = diagnose(cli, "orders-consumer")
    f = only(data, "event-source-missing")
    (m,) = f["evidence"]["mappings"]
    assert m["source"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-events"
    assert m["state"] == "Enabled"          # Lambda keeps the mapping "Enabled"
    # The queue is gone: the engineer names its replacement; no --starting-position for SQS;
    # the replacement first, then the stale mapping by its UUID.
    assert f["fix"]["commands"] == [
        'aws lambda create-event-source-mapping --function-name orders-consumer --event-source-arn "$QUEUE_ARN" '
        "--batch-size 10 --region us-east-1",
        f"aws lambda delete-event-source-mapping --uuid {m['uuid']} --region us-east-1"]
    assert "set QUEUE_ARN" in f["fix"]["text"]


def test_event_source_on_deleted_dynamodb_stream(cli):
    code, data = diagnose(cli, "ledger-projector")
    f = only(data, "event-source-missing")
    (m,) = f["evidence"]["mappings"]
    assert m["source"].startswith(f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/ledger-entries/stream/")
    assert m["current_stream"] is None and f["evidence"]["engineer_sets"] == ["STREAM_ARN"]
    assert "Its table does not exist." in f["explanation"]
    # never the dead stream's ARN: the engineer recreates the table and names its stream
    assert f["fix"]["commands"] == [
        'aws lambda create-event-source-mapping --function-name ledger-projector --event-source-arn "$STREAM_ARN" '
        "--starting-position LATEST --batch-size 100 --region us-east-1",
        f"aws lambda delete-event-source-mapping --uuid {m['uuid']} --region us-east-1"]
    assert "update-table --table-name ledger-entries" in f["fix"]["text"] and "TRIM_HORIZON" in f["fix"]["text"]


def test_event_source_on_a_recreated_table_maps_the_tables_new_stream(cli, world):
    """Issue 16: the fix recreated the mapping on the deleted stream's ARN, without --starting-position."""
    code, data = diagnose(cli, "audit-projector")
    assert code == 1
    f = only(data, "event-source-missing")
    (m,) = f["evidence"]["mappings"]
    current = Seeder(world.url).client("dynamodb").describe_table(TableName="audit-log")["Table"]["LatestStreamArn"]
    assert m["source"] != current and m["source"].startswith(f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/audit-log/stream/")
    assert m["current_stream"] == current and f["evidence"]["engineer_sets"] == []
    assert f"which is no longer its table's stream" in f["explanation"]
    assert f"Table audit-log exists now with stream {current}." in f["explanation"]
    create, delete = f["fix"]["commands"]
    assert shlex.split(create) == ["aws", "lambda", "create-event-source-mapping", "--function-name", "audit-projector",
                                   "--event-source-arn", current, "--starting-position", "LATEST",
                                   "--batch-size", "50", "--region", "us-east-1"]
    assert m["source"] not in create
    assert shlex.join(shlex.split(create)) == create            # every word quoted as the shell needs
    assert delete == f"aws lambda delete-event-source-mapping --uuid {m['uuid']} --region us-east-1"
    assert "DescribeTable" in json.dumps([c["call"] for c in data["calls"]])


def test_event_source_on_deleted_kinesis_stream(cli):
    code, data = diagnose(cli, "clicks-aggregator")
    f = only(data, "event-source-missing")
    (m,) = f["evidence"]["mappings"]
    assert m["source"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/clickstream"
    assert f["fix"]["commands"][0] == (
        'aws lambda create-event-source-mapping --function-name clicks-aggregator --event-source-arn "$STREAM_ARN" '
        "--starting-position LATEST --batch-size 200 --region us-east-1")


def test_every_stale_mapping_gets_its_own_commands(cli, world):
    """Issue 16: only the first stale mapping got commands ("the others need the same").
    Two deleted queues and a recreated table: a create (its own source, its own settings)
    then a delete for each; the queues only a human can name are $QUEUE_ARN_1 and _2."""
    code, data = diagnose(cli, "fanin-projector")
    assert code == 1
    f = only(data, "event-source-missing")
    assert f["title"] == "3 event source mapping(s) of fanin-projector read from a source that no longer exists"
    orders, refunds, ledger = f["evidence"]["mappings"]
    assert orders["source"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:fanin-orders"
    assert refunds["source"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:fanin-refunds"
    current = Seeder(world.url).client("dynamodb").describe_table(TableName="fanin-ledger")["Table"]["LatestStreamArn"]
    assert ledger["current_stream"] == current and ledger["source"] != current
    assert orders["current_stream"] is None and refunds["current_stream"] is None
    assert f["evidence"]["engineer_sets"] == ["QUEUE_ARN_1", "QUEUE_ARN_2"]
    assert f["fix"]["commands"] == [
        'aws lambda create-event-source-mapping --function-name fanin-projector --event-source-arn "$QUEUE_ARN_1" '
        "--batch-size 5 --region us-east-1",
        f"aws lambda delete-event-source-mapping --uuid {orders['uuid']} --region us-east-1",
        'aws lambda create-event-source-mapping --function-name fanin-projector --event-source-arn "$QUEUE_ARN_2" '
        "--batch-size 7 --region us-east-1",
        f"aws lambda delete-event-source-mapping --uuid {refunds['uuid']} --region us-east-1",
        shlex.join(["aws", "lambda", "create-event-source-mapping", "--function-name", "fanin-projector",
                    "--event-source-arn", current, "--starting-position", "LATEST", "--batch-size", "25",
                    "--region", "us-east-1"]),
        f"aws lambda delete-event-source-mapping --uuid {ledger['uuid']} --region us-east-1"]
    text = f["fix"]["text"]
    assert f"Mapping {orders['uuid']}: Recreate the queue fanin-orders" in text and "set QUEUE_ARN_1 to its ARN" in text
    assert f"Mapping {refunds['uuid']}: Recreate the queue fanin-refunds" in text and "set QUEUE_ARN_2 to its ARN" in text
    assert f"Mapping {ledger['uuid']}: Map the function to the table's current stream ({current})" in text
    assert "need the same fix" not in f["explanation"]
    for m in (orders, refunds, ledger):
        assert f"Mapping {m['uuid']} polls {m['source']}" in f["explanation"]
    assert f"Table fanin-ledger exists now with stream {current}." in f["explanation"]


def test_every_disabled_mapping_gets_its_command(cli):
    """Issue 16's first-only class: two disabled mappings, an update --enabled for each."""
    code, data = diagnose(cli, "refunds-listener")
    f = only(data, "event-source-mapping-unhealthy")
    first, second = f["evidence"]["mappings"]
    assert f["title"] == "2 event source mappings of refunds-listener are disabled or failing"
    assert f["fix"]["commands"] == [
        f"aws lambda update-event-source-mapping --uuid {m['uuid']} --enabled --region us-east-1" for m in (first, second)]
    assert first["source"].endswith(":refunds-events") and second["source"].endswith(":refunds-retries")
    assert f"The mapping {first['uuid']} from" in f["explanation"] and f"The mapping {second['uuid']} from" in f["explanation"]


def test_healthy_dynamodb_mapping_is_not_stale(cli, world):
    """A mapping on the table's current stream stays quiet (the DescribeTable comparison has no false alarm)."""
    seeder = Seeder(world.url)
    seeder.function("ledger-reader-ok", timeout=30)
    stream = seeder.client("dynamodb").create_table(
        TableName="ledger-ok", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"]["LatestStreamArn"]
    seeder.client("lambda").create_event_source_mapping(FunctionName="ledger-reader-ok", EventSourceArn=stream,
                                                        StartingPosition="LATEST")
    code, data = diagnose(cli, "ledger-reader-ok")
    assert code == 0 and data["findings"] == [] and data["unchecked"] == []


def test_disabled_mapping_is_unhealthy_and_quoted(cli):
    code, data = diagnose(cli, "payments-listener")
    f = only(data, "event-source-mapping-unhealthy")
    (m,) = f["evidence"]["mappings"]
    assert m["state"] == "Disabled" and m["source"].endswith(":payments-events")
    assert '"none reported"' in f["explanation"] and f'"{m["state_transition_reason"]}"' in f["explanation"]
    assert f["fix"]["commands"] == [f"aws lambda update-event-source-mapping --uuid {m['uuid']} --enabled --region us-east-1"]


def test_uuid_selects_one_mapping(cli, world):
    _, full = diagnose(cli, "payments-listener")
    uuid = full["findings"][0]["evidence"]["mappings"][0]["uuid"]
    code, data = diagnose(cli, "payments-listener", "--uuid", uuid)
    assert only(data, "event-source-mapping-unhealthy")["evidence"]["mappings"][0]["uuid"] == uuid
    assert "lambda.GetEventSourceMapping" in [c["call"] for c in data["calls"]]


def test_bucket_notifies_a_function_that_does_not_exist(cli):
    code, data = diagnose(cli, "thumbnail-resizer", "--bucket", "uploads-incoming-demo")
    assert sorted(f["check"] for f in data["findings"]) == ["function-missing", "s3-notification-target-missing"]
    f = next(f for f in data["findings"] if f["check"] == "s3-notification-target-missing")
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:thumbnail-resizer"
    assert f["evidence"]["missing_function_arns"] == [arn]
    assert f["evidence"]["notifications"] == [{"id": "uploads-incoming-demo-created", "events": ["s3:ObjectCreated:*"]}]
    # the whole configuration is put back less the dead notification; the queue notification is kept
    (put,) = f["fix"]["commands"]
    words = shlex.split(put)
    assert words[:5] == ["aws", "s3api", "put-bucket-notification-configuration", "--bucket", "uploads-incoming-demo"]
    assert words[5] == "--notification-configuration" and words[7:] == ["--region", "us-east-1"]
    assert json.loads(words[6]) == {"QueueConfigurations": [
        {"Id": "uploads-audit", "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:uploads-audit", "Events": ["s3:ObjectRemoved:*"]}]}


def test_bucket_without_invoke_permission_gets_the_exact_add_permission(cli):
    code, data = diagnose(cli, "invoice-parser", "--bucket", "invoices-incoming-demo")
    f = only(data, "missing-invoke-permission")
    ev = f["evidence"]
    assert ev["source_arn"] == "arn:aws:s3:::invoices-incoming-demo" and ev["principal"] == "s3.amazonaws.com"
    assert ev["source_account"] == ACCOUNT and ev["bucket_owner"] == "this account (ListBuckets names it)"
    (denied,) = ev["denied"]
    assert denied["qualifier"] is None
    assert denied["policy_statements"] == ["s3-old-bucket"]   # a statement for another bucket
    assert any("condition failed" in line and "invoices-archive-demo" in line for line in denied["decision"])
    assert f["fix"]["commands"] == [
        "aws lambda add-permission --function-name invoice-parser --statement-id s3-invoke-invoices-incoming-demo "
        "--action lambda:InvokeFunction --principal s3.amazonaws.com --source-arn arn:aws:s3:::invoices-incoming-demo "
        f"--source-account {ACCOUNT} --region us-east-1"]


def test_bucket_notifying_an_alias_gets_the_permission_on_the_alias(cli):
    """Issue 16: S3 invokes function:name:live, whose policy is the alias's own; a statement
    on the function does not let S3 invoke the alias, so add-permission needs --qualifier."""
    code, data = diagnose(cli, "media-thumbnailer", "--bucket", "media-incoming-demo")
    assert code == 1
    f = only(data, "missing-invoke-permission")
    alias = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:media-thumbnailer:live"
    assert f["title"] == "Bucket media-incoming-demo is not allowed to invoke media-thumbnailer:live"
    (denied,) = f["evidence"]["denied"]
    assert denied["function_arn"] == alias and denied["qualifier"] == "live"
    assert "An alias or version has a policy of its own" in f["explanation"]
    assert f["fix"]["commands"] == [
        "aws lambda add-permission --function-name media-thumbnailer --qualifier live "
        "--statement-id s3-invoke-media-incoming-demo --action lambda:InvokeFunction --principal s3.amazonaws.com "
        f"--source-arn arn:aws:s3:::media-incoming-demo --source-account {ACCOUNT} --region us-east-1"]
    assert [c["call"] for c in data["calls"]].count("lambda.GetPolicy") == 1   # the alias's policy, read once


def test_another_accounts_bucket_needs_its_owners_account_which_triage_says_it_cannot_know(cli):
    """Issue 16: --source-account was the function's account; S3 sends the bucket owner's.
    The bucket is not in this account's ListBuckets, and no call tells whose it is."""
    code, data = diagnose(cli, "partner-ingest", "--bucket", "partner-drops-demo")
    assert code == 1
    f = only(data, "missing-invoke-permission")
    ev = f["evidence"]
    assert ev["source_account"] is None
    assert ev["bucket_owner"] == "another account (this account's ListBuckets does not name it)"
    assert f["fix"]["commands"] == [
        "aws lambda add-permission --function-name partner-ingest --statement-id s3-invoke-partner-drops-demo "
        "--action lambda:InvokeFunction --principal s3.amazonaws.com --source-arn arn:aws:s3:::partner-drops-demo "
        '--source-account "$BUCKET_ACCOUNT_ID" --region us-east-1']
    assert ACCOUNT not in f["fix"]["commands"][0]
    assert "belongs to another account, and triage cannot read which" in f["fix"]["text"]
    assert "set BUCKET_ACCOUNT_ID to the owner's account id" in f["fix"]["text"]
    assert "partner-ingest has no resource policy at all." in f["explanation"]


def test_healthy_twin_with_bucket_and_mapping(cli):
    code, data = diagnose(cli, "report-indexer", "--bucket", "reports-incoming-demo")
    assert code == 0 and data["findings"] == [] and data["unchecked"] == []
    called = {c["call"] for c in data["calls"]}
    assert {"sqs.GetQueueUrl", "lambda.GetPolicy", "s3.GetBucketNotificationConfiguration"} <= called


def test_unknown_bucket_leaves_only_the_bucket_checks_unchecked(cli):
    code, data = diagnose(cli, "report-indexer", "--bucket", "no-such-bucket-demo")
    assert data["findings"] == []
    assert {u["check"] for u in data["unchecked"]} == {"s3-notification-target-missing", "missing-invoke-permission"}
    assert all("NoSuchBucket" in u["reason"] for u in data["unchecked"])


def test_missing_alias_of_a_function_that_exists_is_not_called_the_wrong_region(cli):
    code, data = diagnose(cli, "checkout-handler:prod")
    f = only(data, "function-missing")
    assert f["title"] == "Function checkout-handler:prod does not exist in us-east-1"
    assert "exists here, but not its version or alias prod" in f["explanation"]
    assert "wrong region" not in f["explanation"]
    assert f["fix"]["commands"] == [
        "aws lambda list-aliases --function-name checkout-handler --region us-east-1 --query 'Aliases[].[Name, FunctionVersion]'",
        "aws lambda list-versions-by-function --function-name checkout-handler --region us-east-1 --query 'Versions[].Version'"]


# --- the event-source fixes applied with the AWS CLI (a world of their own) ----------------
# moto's backends are global to a process, so the fixes, which change the world, are
# applied in a process of their own, not in the shared world the tests above read.
APPLY_FIXES = r"""
import json, sys
sys.path[:0] = ["tests", "."]
from triage.demo.scenarios import Seeder, seed_all
from triage.demo.server import MotoServer
from fixes.harness import apply, diagnose, fix_commands
out = {}
from triage.changes.lookup import unpaced
with MotoServer() as server:
    unpaced(server.url)       # moto, not AWS: no LookupEvents quota to pace for (conftest)
    for case in seed_all(server.url, ["lambda-not-found"]):
        function = case.inputs["function"]
        if function not in sys.argv[1:]:
            continue
        before = diagnose(server.url, "lambda-not-found", case.inputs)
        commands = [c for check in case.expect for c in fix_commands(before, check)]
        runs = [apply(server.url, c, case.fix_vars) for c in commands]
        after = diagnose(server.url, "lambda-not-found", case.inputs)
        mappings = Seeder(server.url).client("lambda").list_event_source_mappings(FunctionName=function)
        out[function] = {"fix_vars": case.fix_vars, "before": before, "after": after, "commands": commands,
                         "runs": [[r.returncode, r.stderr] for r in runs],
                         "mappings": [[m["UUID"], m["EventSourceArn"]] for m in mappings["EventSourceMappings"]]}
print(json.dumps(out))
"""
PLACEHOLDER_CASES = ["orders-consumer", "ledger-projector", "clicks-aggregator"]


@pytest.fixture(scope="module")
def applied_fixes():
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-c", APPLY_FIXES, *PLACEHOLDER_CASES, "fanin-projector",
                        "media-thumbnailer", "partner-ingest"], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.splitlines()[-1])


@pytest.mark.parametrize("function", PLACEHOLDER_CASES)
def test_event_source_fix_with_the_engineers_source_applies_and_clears_the_finding(applied_fixes, function):
    """The placeholder variants (tests/fixes proves the recreated-table one): with the
    replacement source the case names in fix_vars, the printed commands run with the real
    AWS CLI, the stale mapping is gone and only the new one is left."""
    r = applied_fixes[function]
    assert r["fix_vars"] and all(f'"${name}"' in r["commands"][0] for name in r["fix_vars"])
    assert all(code == 0 for code, _ in r["runs"]), r["runs"]
    assert [f["check"] for f in r["after"]["findings"]] == [] and r["after"]["unchecked"] == []
    assert r["after"]["outcome"] == "healthy"
    stale = r["before"]["findings"][0]["evidence"]["mappings"][0]["uuid"]
    assert [arn for _, arn in r["mappings"]] == list(r["fix_vars"].values())
    assert stale not in [uuid for uuid, _ in r["mappings"]]


def test_every_stale_mapping_fix_applies_and_clears_the_finding(applied_fixes):
    """All six commands of three stale mappings, run with the AWS CLI: each stale mapping
    is replaced by one on its own new source, and the finding is gone."""
    r = applied_fixes["fanin-projector"]
    assert len(r["commands"]) == 6 and all(code == 0 for code, _ in r["runs"]), r["runs"]
    assert r["after"]["findings"] == [] and r["after"]["unchecked"] == [] and r["after"]["outcome"] == "healthy"
    before = r["before"]["findings"][0]["evidence"]["mappings"]
    left = [arn for _, arn in r["mappings"]]
    assert sorted(left) == sorted([r["fix_vars"]["QUEUE_ARN_1"], r["fix_vars"]["QUEUE_ARN_2"], before[2]["current_stream"]])
    assert not {m["uuid"] for m in before} & {uuid for uuid, _ in r["mappings"]}


@pytest.mark.parametrize("function", ["media-thumbnailer", "partner-ingest"])
def test_invoke_permission_fix_applies_and_clears_the_finding(applied_fixes, function):
    """add-permission on the alias (--qualifier), and for another account's bucket with the
    owner's account the engineer supplies as BUCKET_ACCOUNT_ID, run with the AWS CLI."""
    r = applied_fixes[function]
    assert len(r["commands"]) == 1 and all(code == 0 for code, _ in r["runs"]), r["runs"]
    assert r["after"]["findings"] == [] and r["after"]["unchecked"] == [] and r["after"]["outcome"] == "healthy"


@pytest.mark.parametrize("name,candidates,expected", [
    ("orders-etl", ["Orders-ETL", "orders_etl", "order-etl", "orders-etl-prod", "billing"],
     ["Orders-ETL", "orders_etl", "order-etl", "orders-etl-prod"]),
    ("arn:aws:lambda:us-east-1:1:function:report", ["reports", "rep", "report-indexer"], ["reports", "report-indexer"]),
    ("abc", ["xyz", "abd"], []),
    (None, ["a"], []),
])
def test_similar_names(name, candidates, expected):
    assert similar_names(name, candidates) == expected


def test_similar_names_from_a_playbook_expression():
    assert search("similar_names('my_fn', names)", {"names": ["my-fn", "other"]}) == ["my-fn"]


def test_demo_shows_the_issue_4_incidents_offline():
    # its own process: moto's backends are global to a process
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    p = subprocess.run([sys.executable, "-m", "triage", "demo", "--scenario", "lambda-not-found", "--scenario",
                        "rds-connections", "--scenario", "account-posture", "--output", "json"],
                       capture_output=True, text=True, env=env, timeout=180)
    assert p.returncode == 0, p.stderr          # the demo flags any case whose findings differ
    outputs = json.loads(p.stdout)["demo"]     # one JSON document
    fired = {f["check"] for o in outputs for f in o["findings"]}
    assert fired == {"function-missing", "event-source-missing", "event-source-mapping-unhealthy",
                     "s3-notification-target-missing", "missing-invoke-permission", "connections-near-max",
                     "no-rds-proxy", "unbounded-lambda-concurrency", "root-access-keys", "root-mfa-disabled",
                     "s3-bucket-public", "no-cloudtrail", "rds-publicly-accessible", "rds-unencrypted"}
    assert sum(1 for o in outputs if not o["findings"]) == 2      # the healthy twins
