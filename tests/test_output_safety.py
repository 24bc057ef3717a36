"""Secrets never leak; attacker-influenced log text prints inertly."""
from __future__ import annotations

import io
import json

import pytest

from triage.demo.scenarios.lambda_timeout import HOSTILE_SUFFIX, SEEDED_SECRET


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
@pytest.mark.parametrize("function", ["orders-etl", "payments-sync"])
def test_seeded_secret_never_appears(cli, fmt, function):
    r = cli("lambda-timeout", "--function", function, "--output", fmt)
    assert r.code == 1
    for secret in (SEEDED_SECRET, "sk_live_51Hdemo0000000000000000"):
        assert secret not in r.out and secret not in r.err


def test_step_results_stay_exact_and_the_edge_masks_sensitive_values(world):
    from triage import catalog, engine
    from triage.aws import Aws, AwsSettings

    pb = catalog.load(catalog.discover()["lambda-timeout"])
    d = engine.run(pb, {"function": "orders-etl"}, Aws(AwsSettings(region="us-east-1", endpoint_url=world.url)))
    env = d.steps["config"].value["Environment"]["Variables"]
    assert env["DB_PASSWORD"] == SEEDED_SECRET and env["STAGE"] == "prod"   # facts inside are exact
    shown = d.redactor.result("lambda", "GetFunctionConfiguration", d.steps["config"].value)
    # botocore marks every environment value sensitive: names kept, values gone when shown
    assert shown["Environment"]["Variables"] == {"DB_PASSWORD": "REDACTED", "DB_HOST": "REDACTED", "STAGE": "REDACTED"}
    assert shown["FunctionName"] == "orders-etl"
    assert SEEDED_SECRET not in json.dumps(d.to_dict())


def test_secret_printed_by_the_function_itself_is_scrubbed():
    from triage.redact import Redactor

    r = Redactor()
    r.result("lambda", "GetFunctionConfiguration", {"Environment": {"Variables": {"DB_PASSWORD": SEEDED_SECRET}}})
    line = f"INFO connecting to postgres://orders:{SEEDED_SECRET}@db:5432/orders"
    assert SEEDED_SECRET not in r.text(line)
    assert r.text("plain log line about orders") == "plain log line about orders"


@pytest.mark.parametrize("text,leaked", [
    ("password=hunter2hunter2", "hunter2hunter2"),
    ('{"api_key": "abcd1234efgh"}', "abcd1234efgh"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
    ("https://bucket.s3.amazonaws.com/k?X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE&X-Amz-Signature=abc123", "FQoGZXIvYXdzEXAMPLE"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
])
def test_credential_shaped_text_is_redacted(text, leaked):
    from triage.redact import Redactor
    assert leaked not in Redactor().text(text)


def test_hostile_log_line_is_inert_in_text_output(cli):
    r = cli("lambda-timeout", "--function", "orders-etl", "--output", "text")
    assert "\x1b" not in r.out and "\x07" not in r.out
    assert "[bold red]FAKE ALERT[/bold red]" in r.out.replace("\n", " ").replace("│", " ").replace("  ", " ") or \
        "[bold red]FAKE" in r.out   # markup shown literally, not interpreted


def test_hostile_log_line_is_inert_when_colour_is_forced(world):
    """Even on a colour terminal: rich styles are ours, the log's escapes are gone, its markup is literal."""
    from triage import catalog, engine
    from triage.aws import Aws, AwsSettings
    from triage.render.text import render_text

    pb = catalog.load(catalog.discover()["lambda-timeout"])
    d = engine.run(pb, {"function": "orders-etl"}, Aws(AwsSettings(region="us-east-1", endpoint_url=world.url)))
    out = io.StringIO()
    render_text(d.to_dict(), out, color=True, width=200)
    text = out.getvalue()
    assert "[bold red]FAKE ALERT[/bold red]" in text
    assert "\x1b]" not in text and "\x07" not in text and "\x1b[2J" not in text and "evil.example" not in text


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_hostile_log_line_is_inert_in_json_and_markdown(cli, fmt):
    r = cli("lambda-timeout", "--function", "orders-etl", "--output", fmt)
    assert "\x1b" not in r.out and "\x07" not in r.out and "\\u001b" not in r.out
    if fmt == "json":
        lines = json.loads(r.out)["findings"][0]["evidence"]["timed_out_lines"]
        assert any(line.endswith("click me [bold red]FAKE ALERT[/bold red] red") for line in lines)


def test_fix_commands_shell_quote_values_from_aws():
    from triage import expr
    t = expr.parse_template("aws lambda get-function --function-name ${name}")
    assert t.render({"name": "x; rm -rf ~"}, quote=True) == "aws lambda get-function --function-name 'x; rm -rf ~'"
    assert t.render({"name": "$(curl evil)"}, quote=True).endswith("'$(curl evil)'")


def test_sanitizer_strips_escape_families():
    from triage.sanitize import clean
    assert clean("a" + HOSTILE_SUFFIX) == "aclick me [bold red]FAKE ALERT[/bold red] red"
    assert clean("x\u202eevil\u202c y\x9b31mz") == "xevil yz"


@pytest.mark.parametrize("unchecked,total,expected", [
    (0, 4, "✓ Healthy: all 4 checks ran and none found a problem."),
    (1, 4, "Inconclusive: no problem found by the 3 checks that ran, but 1 could not run (why below)."),
    (4, 4, "Inconclusive: none of the 4 checks could run (why below)."),
])
def test_no_findings_never_reads_as_clean_when_checks_could_not_run(unchecked, total, expected):
    from triage.render.markdown import render_markdown
    from triage.render.text import render_text

    data = {"playbook": "p", "title": "t", "region": "us-east-1", "inputs": {}, "findings": [], "checks": total,
            "unchecked": [{"check": f"c{i}", "reason": "could not check: needs x:Y", "needs": ["x:Y"]} for i in range(unchecked)],
            "calls": [], "seconds": 0.1}
    out = io.StringIO()
    render_text(data, out, color=False, width=200)
    assert expected in out.getvalue()
    assert expected.lstrip("✓ ") in render_markdown(data)
