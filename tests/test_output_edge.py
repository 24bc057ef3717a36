"""The output edge (e77b0a8): facts stay exact inside, secrets are masked only
where text leaves the process, and nothing that is not a secret is masked.

1. The meta-test: every shipped playbook's recorded cases replayed through the
   real engine and rendered as text, json, markdown and as the REPL's
   drill-down of raw step results. No secret of the case appears in any of
   them; every ARN, IAM action and $PLACEHOLDER of the findings appears
   unchanged; every JSON output is exactly one document.
2. Regressions from issue 10, against the moto world (resources seeded here,
   all named edge-*, the Lambda ones in a region of their own so the shared
   us-east-1 world stays as seeded)."""
from __future__ import annotations

import copy
import io
import json
import re
import shlex
import time
from pathlib import Path

import boto3
import pytest

from conftest import run_cli
from triage import casefile, catalog, engine
from triage.demo.scenarios import Seeder
from triage.demo.scenarios.posture import TWIN_ACCOUNT, TWIN_USER

ROOT = Path(__file__).resolve().parent.parent
EDGE_REGION = "ap-southeast-2"   # nothing else seeds here: the edge-* functions are all a scan of it finds
ACCOUNT = "123456789012"
MASKS = ("REDACTED", "***")

# --- 1. the meta-test: every recorded case, every output --------------------------------------------------

# An ARN up to what ends it in prose, JSON, shell and markdown.
ARN = re.compile(r"arn:[\w-]+:[^\s\"'`,;)}\]\\|<>]*")
ACTION = re.compile(r"(?<![\w:/.$-])[a-z][a-z0-9-]*:[A-Z][A-Za-z0-9]*\*?(?![\w])")
PLACEHOLDER = re.compile(r"\$[A-Z][A-Z0-9_]*\b")
# A recorded value the recorder already masked (old mask or new).
_MASKED_VALUE = re.compile(r"^(?:\*{3}|REDACTED)$")


def _shipped_cases() -> list:
    """(playbook id, case) of every shipped playbook's recorded cases. A playbook
    without a case file is test_playbook_cases' to report; an unreadable one
    fails here as one parameter, not as an error that hides this module."""
    params = []
    for pid, entry in sorted(catalog.discover().items()):
        path = casefile.cases_path(entry.path, pid)
        if not path.exists():
            continue
        try:
            cases = casefile.load(path).cases
        except casefile.CaseFileError as exc:
            params.append(pytest.param(pid, None, id=f"{pid}/unreadable", marks=pytest.mark.skip(reason=str(exc))))
            continue
        params += [pytest.param(pid, case, id=f"{pid}/{case.name}") for case in cases]
    return params


def _walk_strings(value, name=None):
    """(field name, string) for every string in a JSON-like value; the value of a
    {Name: X, Value: ...} pair is named X, a map's values by their key."""
    if isinstance(value, dict):
        pair = next((value[k] for k in ("Name", "name", "Key", "key", "ParameterKey", "ParameterName")
                     if isinstance(value.get(k), str) and any(x.lower() == "value" for x in value if x != k)), None)
        for k, v in value.items():
            yield from _walk_strings(v, pair if pair is not None and k.lower() == "value" else str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _walk_strings(v, name)
    elif isinstance(value, str):
        yield name, value


def _rehydrate(case, secret_name):
    """The case with every secret the recorder masked put back, as a unique
    synthetic secret (Lambda environment DB_PASSWORD / STRIPE_API_KEY, ...),
    and, as functions do, printed in the function's own "Task timed out" log
    lines: a replay then carries real secret values through the engine, into
    evidence, where only the values the Redactor learned can catch them."""
    case = copy.deepcopy(case)
    planted: list[str] = []

    def fill(value, name=None):
        if isinstance(value, dict):
            pair = next((value[k] for k in ("Name", "name", "Key", "key")
                         if isinstance(value.get(k), str) and any(x.lower() == "value" for x in value if x != k)), None)
            return {k: fill(v, pair if pair is not None and k.lower() == "value" else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v, name) for v in value]
        if isinstance(value, str) and name and secret_name(name) and _MASKED_VALUE.match(value):
            planted.append(f"edgeS3cr3t{len(planted):02d}Qx7Lp2VbZk9")
            return planted[-1]
        return value

    for call in case.calls:
        if call.response is not None:
            call.response = fill(call.response)
    if planted:
        for call in case.calls:
            if call.name == "logs.FilterLogEvents" and isinstance(call.response, dict):
                for event in call.response.get("events") or []:
                    if "Task timed out" in event.get("message", ""):
                        event["message"] += f" (last query ran as {planted[0]})"
    return case, planted


def _masked_segments(original: str, masked: str) -> list[str]:
    """The parts of `original` that became REDACTED in `masked`."""
    if "REDACTED" in original:
        return []
    pattern = "(.+?)".join(re.escape(piece) for piece in masked.split("REDACTED"))
    m = re.fullmatch(pattern, original, re.S)
    return [g for g in m.groups() if g] if m else [masked]


def _case_secrets(case, planted: list[str]) -> set[str]:
    """The secrets of a case: what was planted, values of secret-named fields
    (Lambda environment variables included), and whatever triage's own
    format detectors flag in the raw responses."""
    from triage.redact import Redactor, secret_name

    detector = Redactor()   # fresh: knows no values, only formats
    secrets = set(planted)
    for call in case.calls:
        for name, value in _walk_strings(call.response):
            if _MASKED_VALUE.match(value) or len(value) < 6:
                continue
            if name and secret_name(name) and not value.startswith(("arn:", "$")):
                secrets.add(value)
            scrubbed = detector.text(value)
            if scrubbed != value:
                secrets.update(s for s in _masked_segments(value, scrubbed) if len(s.strip()) >= 6)
    return secrets


def _expected_strings(findings, *, displayed: bool) -> set[str]:
    """ARNs, IAM actions and $PLACEHOLDERs in the findings before the edge.
    displayed: evidence as text and markdown show it (lists capped, values shortened)."""
    from triage.render.values import lines

    texts: list[str] = []
    for f in findings:
        texts += [f.title, f.explanation, f.fix_text, *f.fix_commands]
        for value in f.evidence.values():
            if displayed:
                texts += lines(value)
            else:
                texts += [s for _, s in _walk_strings(value)]
    found: set[str] = set()
    for text in texts:
        for regex in (ARN, ACTION, PLACEHOLDER):
            found.update(regex.findall(text or ""))
    return found


def _unescape_markdown(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@pytest.mark.parametrize("pid,case", _shipped_cases())
def test_recorded_case_outputs_hide_every_secret_and_keep_every_non_secret(pid, case):
    from triage.redact import SafeStream
    from triage.render import render
    from triage.repl.drilldown import _shown
    from triage.sanitize import deep_clean

    pb = catalog.load(catalog.discover()[pid])
    # a fresh Redactor per case: no other test's secrets can mask (or unmask) anything here
    # (whether the replay still finds what the case expects is test_playbook_cases' to say)
    d, secrets = _replay(pid, case)

    data = d.to_dict()
    outputs: dict[str, str] = {}
    for fmt in ("text", "json", "markdown"):
        raw, edge = io.StringIO(), io.StringIO()
        render(data, fmt, raw, color=False, width=6000)
        render(data, fmt, SafeStream(edge, d.redactor), color=False, width=6000)   # as the CLI writes it
        outputs[fmt], outputs[f"{fmt} (SafeStream)"] = raw.getvalue(), edge.getvalue()
    for sid, outcome in d.steps.items():
        if outcome.status == "ok":
            shown = deep_clean(_shown(d.redactor, pb.steps[sid], outcome.value))
            outputs[f"drill-down {sid}"] = json.dumps(shown, indent=2, ensure_ascii=False, default=str)

    # (a) no secret of the case in any output
    for where, text in outputs.items():
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, f"{where} shows secrets {leaked}"

    # (b) nothing that is not a secret is masked: ARNs, actions and $PLACEHOLDERs survive every format
    for where, text in outputs.items():
        if where.startswith("drill-down"):
            continue
        fmt = where.split()[0]
        expected = _expected_strings(d.findings, displayed=fmt != "json")
        expected = {e for e in expected if not any(s in e for s in secrets)}
        haystack = text + "\n" + _unescape_markdown(text) if fmt == "markdown" else text
        missing = sorted(e for e in expected if e not in haystack)
        assert not missing, f"{where}: masked or altered {missing}"

    # (c) every JSON output is exactly one document (json.loads rejects trailing data)
    for where in ("json", "json (SafeStream)"):
        doc = json.loads(outputs[where])
        assert doc["playbook"] == pid and [f["check"] for f in doc["findings"]] == [f.check for f in d.findings]
        assert [u["check"] for u in doc["unchecked"]] == [u.check for u in d.unchecked]
    for where, text in outputs.items():
        if where.startswith("drill-down"):
            json.loads(text)


def _replay(pid, case):
    from triage.redact import Redactor, secret_name

    pb = catalog.load(catalog.discover()[pid])
    case, planted = _rehydrate(case, secret_name)
    aws = casefile.ReplayAws(case)
    aws.redactor = Redactor()
    with casefile.frozen_clock(case.recorded_at):
        return engine.run(pb, case.inputs, aws), _case_secrets(case, planted)


@pytest.mark.parametrize("pid,case", _shipped_cases())
def test_recorded_case_fix_commands_and_titles_are_printed_verbatim(pid, case):
    """A fix command is pasted into a shell: unless it holds a secret of the
    case, every output prints it exactly as the playbook rendered it."""
    from triage.redact import SafeStream
    from triage.render import render

    d, secrets = _replay(pid, case)
    data = d.to_dict()
    for raw, shown in zip(d.findings, data["findings"]):
        if not any(s in raw.title for s in secrets):
            assert shown["title"] == raw.title
        for command, printed in zip(raw.fix_commands, shown["fix"]["commands"]):
            if not any(s in command for s in secrets):
                assert printed == command, f"{raw.check}: fix command altered at the edge"
    for fmt in ("text", "markdown"):
        out = io.StringIO()
        render(data, fmt, SafeStream(out, d.redactor), color=False, width=6000)
        for f in d.findings:
            for command in f.fix_commands:
                if not any(s in command for s in secrets):
                    assert command in out.getvalue(), f"{fmt}: {command}"


def test_the_meta_test_sees_real_secrets():
    """The rehydrated cases do carry secrets, so the meta-test is not vacuous."""
    from triage.redact import secret_name

    planted = []
    for param in _shipped_cases():
        pid, case = param.values
        if case is None:
            continue
        case, p = _rehydrate(case, secret_name)
        planted += p
        if pid == "lambda-timeout" and case.name == "orders-etl-timeout-too-low":
            env = next(c.response for c in case.calls if c.name == "lambda.GetFunctionConfiguration")
            assert env["Environment"]["Variables"]["DB_PASSWORD"].startswith("edgeS3cr3t")
            assert env["Environment"]["Variables"]["STAGE"] == "***"   # not secret-named: left as recorded
    assert len(planted) >= 7   # 8 before the rds-connections cases were re-recorded with exact SecretArns (never secret)


def test_a_planted_secret_reaches_the_evidence_exact_and_leaves_masked():
    """Facts stay exact inside (the evidence holds the secret the function
    printed), and the edge masks it in every format."""
    from triage.render import render

    [(pid, case)] = [p.values for p in _shipped_cases() if p.id == "lambda-timeout/orders-etl-timeout-too-low"]
    d, secrets = _replay(pid, case)
    finding = next(f for f in d.findings if f.check == "timeout-too-low")
    [planted] = [s for s in secrets if s.startswith("edgeS3cr3t")]
    assert d.steps["config"].value["Environment"]["Variables"]["DB_PASSWORD"] == planted
    assert any(line.endswith(f"(last query ran as {planted})") for line in finding.evidence["timed_out_lines"])
    shown = next(f for f in d.to_dict()["findings"] if f["check"] == "timeout-too-low")["evidence"]["timed_out_lines"]
    assert any(line.endswith("(last query ran as REDACTED)") for line in shown)
    for fmt in ("text", "json", "markdown"):
        out = io.StringIO()
        render(d.to_dict(), fmt, out, color=False, width=6000)
        assert planted not in out.getvalue() and "(last query ran as REDACTED)" in out.getvalue()


# --- 2. regressions from issue 10 ------------------------------------------------------------------------

SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:edge-db-password-AbCdEf"
STRIPE_KEY = "sk_live_51EdgeQ9x7Lw2pZk4Rt8Vb3Nm6Hs1Jd0"
QUEUE = "edge-orders-queue"
WORKER = "edge-orders-worker"            # env QUEUE_NAME=edge-orders-queue, a healthy SQS mapping on it
BILLING = "edge-billing-sync"            # no env at all; prints a Stripe key in a "Task timed out" line
CACHE_FRESH, CACHE_STALE = "edge-cache-fresh", "edge-cache-stale"


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def edge(world):
    """edge-* resources: IAM roles (global), Lambda, SQS and logs in EDGE_REGION."""
    s = Seeder(world.url, region=EDGE_REGION)
    iam = s.client("iam")
    s.role("edge-app-reader")
    iam.put_role_policy(RoleName="edge-app-reader", PolicyName="AppLogs", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/edge/app:*"}))
    # Secrets Manager, but only DescribeSecret on another secret: under the old
    # mask its action became secretsmanager:*** and its resource a wildcard.
    s.role("edge-sm-describer")
    iam.put_role_policy(RoleName="edge-sm-describer", PolicyName="DescribeOther", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": "secretsmanager:DescribeSecret",
         "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:edge-other-XyZ123"}))
    # A role whose name says "secrets" (a role name, not a secret)
    s.role("edge-app-secrets-reader")

    lam, sqs = s.client("lambda"), s.client("sqs")
    s.function(WORKER, timeout=30, env={"QUEUE_NAME": QUEUE, "TABLE_NAME": "edge-orders-table", "STAGE": "prod"})
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(FunctionName=WORKER, EventSourceArn=queue_arn, BatchSize=10)

    s.function(BILLING, timeout=3)
    s.invocations(BILLING, [1400.0, 3000.0], timeout_s=3, extra_lines=["INFO charging customer cus_Edge42"])
    logs = s.client("logs")
    stream = "2026/11/22/[$LATEST]edgestripe"
    logs.create_log_stream(logGroupName=f"/aws/lambda/{BILLING}", logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=f"/aws/lambda/{BILLING}", logStreamName=stream, logEvents=[
        {"timestamp": now - 120_000, "message": f"ERROR stripe.api_key={STRIPE_KEY} request stalled"},
        {"timestamp": now - 119_000, "message": "2026-11-22T11:00:00.000Z 00000000-0000-0000-0000-0000000000ed "
                                                f"Task timed out after 3.00 seconds while calling Stripe with {STRIPE_KEY}"},
    ])

    for name in (CACHE_FRESH, CACHE_STALE):   # 52 s of a 60 s timeout: duration-near-timeout
        s.function(name, timeout=60)
        s.invocations(name, [30_000.0, 52_000.0], timeout_s=60)
    return s


def _run(*argv: str, url: str, region: str = EDGE_REGION):
    return run_cli(*argv, "--endpoint-url", url, "--region", region)


def _clean(text: str) -> None:
    for mask in MASKS:
        assert mask not in text, f"{mask} in output:\n{text}"


@pytest.mark.parametrize("principal", ["edge-app-reader", "edge-sm-describer"])
def test_access_denied_secret_read_is_denied_with_an_exact_least_privilege_fix(world, edge, principal):
    argv = ("access-denied", "--principal", principal, "--action", "secretsmanager:GetSecretValue",
            "--resource", SECRET_ARN)
    r = _run(*argv, "--output", "json", url=world.url, region="us-east-1")
    assert r.code == 1, r.out + r.err
    data = json.loads(r.out)
    assert data["outcome"] == "findings" and [f["check"] for f in data["findings"]] == ["no-identity-allow"]
    f = data["findings"][0]
    assert f["title"] == f"No policy of {principal} allows secretsmanager:GetSecretValue"
    assert f["evidence"]["actions"] == ["secretsmanager:GetSecretValue"]
    assert f["evidence"]["resource"] == SECRET_ARN
    assert f["evidence"]["principal"] == f"arn:aws:iam::{ACCOUNT}:role/{principal}"
    grant = {"Version": "2012-10-17", "Statement": [{"Sid": "TriageFix", "Effect": "Allow",
                                                     "Action": "secretsmanager:GetSecretValue", "Resource": SECRET_ARN}]}
    assert f["evidence"]["least_privilege_policy"] == grant
    [command] = f["fix"]["commands"]
    argv_fix = shlex.split(command)
    assert argv_fix[:8] == ["aws", "iam", "put-role-policy", "--role-name", principal,
                            "--policy-name", "triage-allow-getsecretvalue", "--policy-document"]
    assert json.loads(argv_fix[8]) == grant
    assert "*" not in command and "REDACTED" not in command
    _clean(r.out + r.err)
    for fmt in ("text", "markdown"):
        r = _run(*argv, "--output", fmt, url=world.url, region="us-east-1")
        assert r.code == 1
        assert command in r.out and SECRET_ARN in r.out
        _clean(r.out + r.err)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_fix_text_policy_is_intact_when_the_principal_name_says_secrets(world, edge, fmt):
    r = _run("access-denied", "--principal", "edge-app-secrets-reader", "--action", "secretsmanager:GetSecretValue",
             "--resource", SECRET_ARN, "--output", fmt, url=world.url, region="us-east-1")
    assert r.code == 1
    grant = '{"Version":"2012-10-17","Statement":[{"Sid":"TriageFix","Effect":"Allow"'
    if fmt == "json":
        text = json.loads(r.out)["findings"][0]["fix"]["text"].strip()
        assert text.endswith("to edge-app-secrets-reader: " + grant + ',"Action":"secretsmanager:GetSecretValue",'
                             f'"Resource":"{SECRET_ARN}"}}]}}'), text
    _clean(r.out + r.err)


def test_plain_configuration_in_lambda_env_does_not_break_the_event_source_check(world, edge):
    r = _run("lambda-not-found", "--function", WORKER, "--output", "json", url=world.url)
    data = json.loads(r.out)
    assert data["findings"] == [] and data["unchecked"] == [], data["findings"]
    assert r.code == 0 and data["outcome"] == "healthy"
    lookups = [c for c in data["calls"] if c["call"] == "sqs.GetQueueUrl"]
    assert lookups and all(c["error"] is None for c in lookups)   # looked up by its real name, and found
    assert "delete-event-source-mapping" not in r.out
    _clean(r.out + r.err)


def test_scan_has_no_event_source_missing_row_for_the_env_configured_function(world, edge):
    r = _run("scan", "--playbook", "lambda-not-found", "--regions", EDGE_REGION, "--output", "json", url=world.url)
    data = json.loads(r.out)
    assert data["errors"] == []
    by_resource = {d["resource"]: d for d in data["diagnoses"]}
    assert by_resource[WORKER]["findings"] == [] and by_resource[WORKER]["unchecked"] == []
    rows = [(row["check"], row["resource"]) for row in data["summary"]["rows"]]
    assert ("event-source-missing", WORKER) not in rows
    assert rows == [] and r.code == 0, rows   # every edge-* function in this region is healthy
    assert "delete-event-source-mapping" not in r.out


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_stripe_key_printed_in_a_timeout_line_never_appears(world, edge, fmt):
    r = _run("lambda-timeout", "--function", BILLING, "--output", fmt, url=world.url)
    assert r.code == 1, r.out + r.err
    assert STRIPE_KEY not in r.out and STRIPE_KEY not in r.err
    assert STRIPE_KEY[8:] not in r.out and STRIPE_KEY[8:] not in r.err     # not even without its prefix
    if fmt == "json":
        data = json.loads(r.out)
        f = next(f for f in data["findings"] if f["check"] == "timeout-too-low")
        assert f["evidence"]["timeout_s"] == 3 and f["evidence"]["timed_out_invocations"] == 2
        assert ("2026-11-22T11:00:00.000Z 00000000-0000-0000-0000-0000000000ed Task timed out after 3.00 seconds "
                "while calling Stripe with REDACTED") in f["evidence"]["timed_out_lines"]
        assert f["fix"]["commands"][0] == f"aws lambda update-function-configuration --function-name {BILLING} --timeout 10"
    else:
        assert f"aws lambda update-function-configuration --function-name {BILLING} --timeout 10" in r.out


NON_SECRETS = [
    "secretsmanager:GetSecretValue",
    SECRET_ARN,
    "Unable to locate credentials",
    "Block Public Access",
    "$DB_SECRET_ARN",
    "botocore.exceptions.NoCredentialsError: Unable to locate credentials",
    'User: arn:aws:sts::123456789012:assumed-role/app/run-1 is not authorized to perform: '
    f'secretsmanager:GetSecretValue on resource: {SECRET_ARN}',
    f'aws secretsmanager get-secret-value --secret-id {SECRET_ARN}',
    'aws rds create-db-proxy --auth AuthScheme=SECRETS,SecretArn="$DB_SECRET_ARN",IAMAuth=DISABLED',
    "Turn on S3 Block Public Access for the account: aws s3control put-public-access-block --account-id 123456789012",
    '{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "' + SECRET_ARN + '"}',
]


@pytest.mark.parametrize("text", NON_SECRETS)
def test_non_secrets_pass_the_output_edge_unchanged(text):
    from triage.redact import Redactor

    assert Redactor().text(text) == text
    from triage.redact import SafeStream, shared
    # a redactor that has learned real secrets masks those, and still nothing else
    learned = Redactor()
    learned.learn("lambda", "GetFunctionConfiguration", {"Environment": {"Variables": {
        "DB_PASSWORD": "pg-Edge-S3cret-77", "QUEUE_NAME": QUEUE, "STAGE": "prod"}}})
    assert learned.text(text) == text
    assert learned.text(f"{text} pg-Edge-S3cret-77") == f"{text} REDACTED"
    for redactor in (None, learned):   # None: the process's shared redactor, as triage.cli.main wraps stdout
        out = io.StringIO()
        stream = SafeStream(out, redactor)
        stream.write(text)
        stream.write("\n")
        stream.writelines([text, "\n"])
        assert out.getvalue() == f"{text}\n{text}\n"
    assert shared().text(text) == text


def test_safe_stream_is_what_the_cli_writes_through(world):
    """triage.cli.main wraps the streams it is given: a non-secret the command
    prints (here: explain's echo of the action and resource) arrives unchanged."""
    from triage.redact import SafeStream

    seen = []

    class Spy(io.StringIO):
        def write(self, s):
            seen.append(s)
            return super().write(s)

    from triage.cli import Env, main
    out, err = Spy(), io.StringIO()
    error = (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/edge-app-reader/run-1 is not authorized to perform: "
             f"secretsmanager:GetSecretValue on resource: {SECRET_ARN} because no identity-based policy allows "
             "the secretsmanager:GetSecretValue action")
    env = Env(stdout=out, stderr=err, stdin_isatty=False, stdout_isatty=False)
    code = main(["explain", error, "--no-run", "--output", "json"], env)
    assert isinstance(env.stdout, SafeStream)
    assert out.getvalue(), (int(code), err.getvalue())
    data = json.loads(out.getvalue())
    assert int(code) == 0 and data["routed_to"] == "access-denied"
    assert data["inputs"]["action"] == ["secretsmanager:GetSecretValue"] and data["inputs"]["resource"] == SECRET_ARN
    _clean(out.getvalue() + err.getvalue())


PROXY_AUTH = '--auth AuthScheme=SECRETS,SecretArn="$DB_SECRET_ARN",IAMAuth=DISABLED'


@pytest.mark.parametrize("fmt", ["json", "text", "markdown"])
def test_rds_proxy_fix_command_is_printed_as_written(world, fmt):
    """Found by this module, fixed in be0dca2: the edge took the --auth flag for a
    secret-named key and printed `--auth REDACTED,SecretArn=...` (the old mask
    took SecretArn= for one instead)."""
    r = run_cli("rds-connections", "--db", "orders-db", "--function", "orders-api", "--function", "orders-worker",
                "--output", fmt, endpoint=world.url)
    assert r.code == 1
    if fmt == "json":
        f = next(f for f in json.loads(r.out)["findings"] if f["check"] == "no-rds-proxy")
        [create] = [c for c in f["fix"]["commands"] if c.startswith("aws rds create-db-proxy ")]
        assert PROXY_AUTH in create, create
    else:
        assert PROXY_AUTH in r.out
    _clean(r.out + r.err)


def _config_calls(d) -> list:
    return [c for c in d.calls if c.call == "lambda.GetFunctionConfiguration"]


def test_call_cache_expires_after_its_ttl(world, edge):
    from triage.aws import Aws, AwsSettings

    pb = catalog.load(catalog.discover()["lambda-timeout"])
    aws = Aws(AwsSettings(region=EDGE_REGION, endpoint_url=world.url, cache_ttl=0.5))
    first = engine.run(pb, {"function": CACHE_FRESH}, aws)
    assert [f.check for f in first.findings] == ["duration-near-timeout"]
    assert first.findings[0].evidence["timeout_s"] == 60
    edge.client("lambda").update_function_configuration(FunctionName=CACHE_FRESH, Timeout=300)
    time.sleep(0.8)
    second = engine.run(pb, {"function": CACHE_FRESH}, aws)
    assert second.steps["config"].value["Timeout"] == 300
    assert second.findings == [] and second.unchecked == [] and second.outcome == "healthy"
    calls = _config_calls(second)
    assert calls and all(c.cached is False for c in calls)
    assert all(not c["cached"] for c in second.to_dict()["calls"] if c["call"] == "lambda.GetFunctionConfiguration")


def test_call_cache_without_ttl_answers_from_the_cache_with_its_age(world, edge):
    from triage.aws import Aws, AwsSettings

    pb = catalog.load(catalog.discover()["lambda-timeout"])
    aws = Aws(AwsSettings(region=EDGE_REGION, endpoint_url=world.url, cache_ttl=None))
    first = engine.run(pb, {"function": CACHE_STALE}, aws)
    assert [f.check for f in first.findings] == ["duration-near-timeout"]
    edge.client("lambda").update_function_configuration(FunctionName=CACHE_STALE, Timeout=300)
    time.sleep(0.6)
    second = engine.run(pb, {"function": CACHE_STALE}, aws)
    [call] = _config_calls(second)
    assert call.cached is True and call.age is not None and call.age >= 0.5
    assert second.steps["config"].value["Timeout"] == 60            # the cached answer, as the log says
    assert [f.check for f in second.findings] == ["duration-near-timeout"]
    [shown] = [c for c in second.to_dict()["calls"] if c["call"] == "lambda.GetFunctionConfiguration"]
    assert shown["cached"] is True and shown["age_s"] >= 0.5


def test_empty_200_body_for_describe_trails_leaves_no_cloudtrail_unchecked(world, monkeypatch):
    from triage.testing.proxy import FaultProxy, garbage

    # the healthy twin account (it has a logging multi-region trail): acting as it, through its access key
    iam = boto3.client("iam", endpoint_url=world.url, region_name="us-east-1")
    iam.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__(
        "x-moto-account-id", TWIN_ACCOUNT))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", iam.list_access_keys(UserName=TWIN_USER)["AccessKeyMetadata"][0]["AccessKeyId"])
    with FaultProxy(world.url) as proxy:
        rule = proxy.add_fault("DescribeTrails", garbage(status=200, body=b""))
        r = run_cli("account-posture", "--output", "json", endpoint=proxy.url)
        md = run_cli("account-posture", "--output", "markdown", endpoint=proxy.url)
    assert rule.hits >= 2
    assert "Traceback" not in r.err
    data = json.loads(r.out)
    assert [f["check"] for f in data["findings"]] == [], data["findings"]
    assert [u["check"] for u in data["unchecked"]] == ["no-cloudtrail"]
    assert "cloudtrail.DescribeTrails" in data["unchecked"][0]["reason"]
    assert data["outcome"] == "inconclusive" and r.code == 4
    assert md.code == 4 and "Inconclusive" in md.out and "no-cloudtrail" in md.out
    assert "### 1." not in md.out   # no finding section at all
