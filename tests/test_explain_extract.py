"""A playbook's `extract:` section (issue 13): how explain reads each input
from a paste is data in the playbook, validated with file:line, in the JSON
schema, and a user's playbook takes part exactly like a shipped one."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from triage import catalog
from triage.explain import route

USER = """\
id: glue-job-failed
title: Glue job failed
summary: A user's own playbook with its own extraction rules.
signals:
  match:
    - {kind: phrase, weight: 4, pattern: 'Glue job run failed'}
extract:
  job:
    - {pattern: 'job (?P<job>[A-Za-z0-9_-]+) run'}
  run_id:
    - {pattern: '\\b(?P<id>jr_[0-9a-f]{8,})', value: 'run-{id}'}
inputs:
  job:
    type: string
    required: true
    help: The Glue job
  run_id:
    type: string
    help: The run
steps:
  runs:
    call: glue.GetJobRuns
    params: {JobName: '${inputs.job}'}
checks:
  - id: failed
    severity: low
    when: "`true`"
    title: The job failed
    explanation: The last run of the job failed.
"""


def test_a_user_playbooks_extract_rules_fill_its_inputs(tmp_path):
    (tmp_path / "glue-job-failed.yaml").write_text(USER, encoding="utf-8")
    r = route("ERROR Glue job run failed: job orders-etl run jr_0123abcd99 exceeded its timeout",
              catalog.discover([str(tmp_path)]))
    assert r.routed_to == "glue-job-failed"
    assert r.inputs == {"job": "orders-etl", "run_id": "run-jr_0123abcd99"} and r.missing == []


def test_shipped_extract_rules_read_what_the_generic_parser_does_not():
    entries = catalog.discover()
    r = route('psycopg2.OperationalError: connection to server at "orders-db.abcdefghijkl.eu-west-1.rds.amazonaws.com" '
              "(10.0.1.12), port 5432 failed: FATAL:  sorry, too many clients already", entries)
    assert r.routed_to == "rds-connections" and r.inputs["db"] == "orders-db" and r.extracted["region"] == "eu-west-1"
    r = route("An error occurred (ResourceNotFoundException) when calling the Invoke operation: Function not found: "
              "hello:live", entries)
    assert r.routed_to == "lambda-not-found" and r.inputs["function"] == "hello:live"


BAD = [
    ("not RE2", "    - {pattern: 'job (?=x)(?P<job>a)'}", "extract rule uses lookahead (?=...), which RE2 cannot run"),
    ("template names a missing group", "    - {pattern: 'job (?P<job>a)', value: '{nope}'}",
     "value template names group(s) nope the pattern does not define"),
    ("groups but none is the value", "    - {pattern: 'job (?P<other>a)'}", "none called 'job' or 'value'"),
    ("unknown key", "    - {pattern: 'job (?P<job>a)', group: job}", "unknown key 'group'"),
]


@pytest.mark.parametrize("name,rule,message", BAD, ids=[b[0] for b in BAD])
def test_validate_reports_extract_problems_with_file_and_line(tmp_path, name, rule, message):
    text = USER.replace("    - {pattern: 'job (?P<job>[A-Za-z0-9_-]+) run'}", rule)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    r = run_cli("validate", str(path))
    assert r.code == 2, r.out
    line = text.splitlines().index(rule) + 1
    assert f"{path}:{line}:" in r.out, r.out
    assert message in r.out, r.out


def test_the_schema_describes_extract():
    r = run_cli("schema")
    schema = json.loads(r.out)
    ext = schema["properties"]["extract"]
    assert ext["additionalProperties"]["items"]["required"] == ["pattern"]
    assert set(ext["additionalProperties"]["items"]["properties"]) == {"pattern", "value", "type"}


def test_validate_checks_errortext_data_with_file_and_line(tmp_path):
    from triage.errortext import DATA
    assert run_cli("validate", str(DATA)).code == 0
    text = DATA.read_text(encoding="utf-8")
    bad = text.replace("  - pattern: 'PERMISSION_DENIED", "  - pattern: '(PERMISSION_DENIED", 1)
    path = tmp_path / "errortext.yaml"
    path.write_text(bad, encoding="utf-8")
    r = run_cli("validate", str(path))
    line = bad.splitlines().index(next(l for l in bad.splitlines() if "(PERMISSION_DENIED" in l)) + 1
    assert r.code == 2 and f"{path}:{line}:" in r.out and "not a valid regular expression" in r.out, r.out


def test_a_note_with_a_bad_template_is_reported_with_its_line(tmp_path):
    text = USER.replace("    - {kind: phrase, weight: 4, pattern: 'Glue job run failed'}\n",
                        "    - {kind: phrase, weight: 4, pattern: 'Glue job run failed'}\n"
                        "  notes:\n    - {pattern: 'x', note: 'look at {job'}\n")
    path = tmp_path / "glue-job-failed.yaml"
    path.write_text(text, encoding="utf-8")
    r = run_cli("validate", str(path))
    line = text.splitlines().index("    - {pattern: 'x', note: 'look at {job'}") + 1
    assert r.code == 2 and f"{path}:{line}:" in r.out and "note is not a valid template" in r.out, r.out


def test_a_user_playbooks_notes_and_typed_rules_take_part(tmp_path):
    text = USER.replace("    - {kind: phrase, weight: 4, pattern: 'Glue job run failed'}\n",
                        "    - {kind: phrase, weight: 4, pattern: 'Glue job run failed'}\n"
                        "  notes:\n    - {pattern: 'after (?P<m>\\d+) minutes', note: 'job {job} ran {m} minutes'}\n")
    text = text.replace("extract:\n", "extract:\n  ran_s:\n    - {pattern: 'after (?P<m>\\d+) minutes', value: '{m}:00', type: seconds}\n", 1)
    (tmp_path / "glue-job-failed.yaml").write_text(text, encoding="utf-8")
    r = route("Glue job run failed: job orders-etl run jr_0123abcd99 stopped after 48 minutes",
              catalog.discover([str(tmp_path)]))
    assert r.routed_to == "glue-job-failed" and r.extracted["ran_s"] == 2880.0
    assert "job orders-etl ran 48 minutes" in r.notes


def test_a_cluster_endpoint_gives_its_region_too():
    """Issue 13 (audit): a cluster (or reader) endpoint gave --db but not the region."""
    from triage import catalog
    from triage.explain import route

    for host in ("orders-db.cluster-c9abcdef1234.eu-west-1.rds.amazonaws.com",
                 "orders-db.cluster-ro-c9abcdef1234.eu-west-1.rds.amazonaws.com"):
        r = route(f"(1040, 'Too many connections') host={host}", catalog.discover())
        assert r.routed_to == "rds-connections" and r.inputs["db"] == "orders-db", host
        assert r.extracted["region"] == "eu-west-1", host


# --- issue 13 (audit): non-ARN resources, bare principals, the S3 destination's action ------------

SOLR = ("Error: error deleting Service Discovery Private DNS Namespace (ns-solr): AccessDeniedException: "
        "User: ssb-solr-broker is not authorized to perform: servicediscovery:DeleteNamespace on resource: "
        "namespace/ns-solr")     # GSA/datagov-ssb#170
SMOKE = ("api error AccessDenied: User: arn:aws:sts::697149045717:assumed-role/gha-role/GitHubActions is not "
         "authorized to perform: iam:CreatePolicy on resource: policy smoketest_extension_lambda_logging because "
         "no identity-based policy allows the iam:CreatePolicy action")    # elastic/apm-aws-lambda#526


@pytest.mark.parametrize("text,principal,resource", [
    (SOLR, "ssb-solr-broker", "namespace/ns-solr"),
    ("failed creating SNS Topic (solr-memory-topic): AuthorizationError: ssb-solr-broker is not authorized to "
     "perform: SNS:CreateTopic on resource: solr-memory-topic", "ssb-solr-broker", "solr-memory-topic"),
    ("Error: reading IAM policy version solr-ecs-tasks: AccessDenied: User: ssb-solr-broker is not authorized to "
     "perform: iam:GetPolicyVersion on resource: policy solr-ecs-tasks version v1", "ssb-solr-broker",
     "policy solr-ecs-tasks version v1"),
    ("AccessDeniedException: User: ssb-solr-broker is not authorized to perform: servicediscovery:ListTagsForResource "
     "on resource: servicediscovery:*/*", "ssb-solr-broker", "servicediscovery:*/*"),
])
def test_a_non_arn_resource_and_a_bare_principal_are_kept(text, principal, resource):
    r = route(text, catalog.discover())
    assert r.routed_to == "access-denied"
    assert r.extracted["principal"] == principal and r.inputs["principal"] == principal
    assert r.extracted["resource"] == resource


def test_user_is_not_authorized_names_no_principal():
    r = route("AccessDeniedException: User is not authorized to perform: cognito-idp:AdminGetUser on resource: x",
              catalog.discover())
    assert "principal" not in r.extracted and "principal" not in r.inputs and "--principal" in r.missing_flags()


@pytest.mark.parametrize("text,flag_hint", [
    (SOLR, "arn:aws:servicediscovery:$REGION:$ACCOUNT:namespace/$NAMESPACE_ID"),
    (SMOKE, "arn:${Partition}:iam::${Account}:policy/${PolicyNameWithPath}"),
])
def test_explain_shows_a_resource_access_denied_refuses_instead_of_a_usage_error(text, flag_hint):
    """Was: exit 2, "--resource ... not an ARN" and nothing of what was extracted."""
    r = run_cli("explain", text)
    assert r.code == run_cli("explain", "--no-run", "AccessDenied: is not authorized to perform: s3:GetObject").code == 0
    assert "Traceback" not in r.err and "triage: error" not in r.err
    flat = " ".join(r.out.split())
    assert "cannot run with --resource" in flat and "not an ARN" in flat
    assert flag_hint.replace(" ", "") in flat.replace(" ", "")
    assert "access-denied was not run" in r.err and "--input resource=VALUE" in r.err
    data = json.loads(run_cli("explain", "-o", "json", text).out)
    assert data["diagnosis"] is None and data["inputs"]["resource"] == data["extracted"]["resource"]
    (refused,) = data["refused"]
    assert refused["flag"] == "--resource" and flag_hint in refused["hint"]


def test_an_s3_notification_with_a_lambda_destination_is_not_a_lambda_action():
    text = ("An error occurred (InvalidArgument) when calling the PutBucketNotificationConfiguration operation: "
            "Unable to validate the following destination configurations\n"
            "  LambdaFunctionArn: arn:aws:lambda:us-east-1:123456789012:function:thumbnails")
    r = route(text, catalog.discover())
    assert r.routed_to == "lambda-not-found" and r.inputs["function"] == "thumbnails"
    assert r.extracted.get("action") in (None, "s3:PutBucketNotification"), r.extracted  # was lambda:PutBucket...
