"""lambda-timeout's evidence against moto (issue 16, items 1 and 3): timeouts
logged before the fix keep no finding alive (they are "fixed, under
observation", a note on a healthy outcome); samples are the newest and say
"N of M"; a duration nobody observed is null, never 0, and the advice says
which data it used. A moto server of this module's own, seeded here: the
functions below are not part of the shared world."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

import pytest

from conftest import run_cli, unpaced
from triage.demo.scenarios import Seeder
from triage.demo.server import MotoServer

NOW_MS = int(time.time() * 1000)
HOUR = 3600 * 1000


def timed_out(limit_s: float, n: int) -> str:
    return f"2026-11-22T10:00:0{n}.000Z 00000000-0000-0000-0000-{n:012d} Task timed out after {limit_s:.2f} seconds"


def report(ms: float, n: int = 0) -> str:
    return (f"REPORT RequestId: 00000000-0000-0000-0000-{n:012d}\tDuration: {ms:.2f} ms\tBilled Duration: "
            f"{int(ms) + 1} ms\tMemory Size: 512 MB\tMax Memory Used: 100 MB")


def put_lines(s: Seeder, name: str, events: list[tuple[int, str]]) -> None:
    logs = s.client("logs")
    group = f"/aws/lambda/{name}"
    logs.create_log_group(logGroupName=group)
    stream = f"2026/11/22/[$LATEST]{uuid.uuid4().hex}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": t, "message": m} for t, m in sorted(events)])


def put_duration(s: Seeder, name: str, values_ms: list[float]) -> None:
    s.client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Duration", "Dimensions": [{"Name": "FunctionName", "Value": name}],
         "Timestamp": datetime.fromtimestamp(NOW_MS / 1000 - 3600 + i, tz=timezone.utc), "Value": v,
         "Unit": "Milliseconds"} for i, v in enumerate(values_ms)])


@pytest.fixture(scope="module")
def url():
    with MotoServer() as server:
        unpaced(server.url)     # moto has no LookupEvents: no 1 s pacing window per run (conftest)
        s = Seeder(server.url)
        # 7 timeouts: the sample is the newest 5, and says so
        s.function("ev-seven", timeout=3)
        put_lines(s, "ev-seven", [(NOW_MS - (8 - i) * HOUR, timed_out(3, i)) for i in range(1, 8)]
                  + [(NOW_MS - (8 - i) * HOUR + 1, report(3000.0, i)) for i in range(1, 8)])
        # timeouts, no REPORT line, but the Duration metric saw the runs
        s.function("ev-metric-only", timeout=3)
        put_lines(s, "ev-metric-only", [(NOW_MS - 2 * HOUR, timed_out(3, 1)), (NOW_MS - HOUR, timed_out(3, 2))])
        put_duration(s, "ev-metric-only", [3004.0, 3050.0])
        # timeouts and nothing else: no REPORT line, no datapoint
        s.function("ev-blind", timeout=3)
        put_lines(s, "ev-blind", [(NOW_MS - 2 * HOUR, timed_out(3, 1))])
        # the timeout was raised from 3 to 10 s after these timeouts (as `aws lambda
        # update-function-configuration --timeout 10` leaves it: moto keeps LastModified)
        s.function("ev-raised", timeout=10)
        put_lines(s, "ev-raised", [(NOW_MS - 3 * HOUR + i, timed_out(3, i)) for i in range(3)]
                  + [(NOW_MS - 3 * HOUR + 10 + i, report(3000.0, i)) for i in range(3)])
        # raised from 3 to 10 s, and it timed out again at 10 s since
        s.function("ev-mixed", timeout=10)
        put_lines(s, "ev-mixed", [(NOW_MS - 3 * HOUR, timed_out(3, 1)), (NOW_MS - 2 * HOUR, timed_out(3, 2)),
                                  (NOW_MS - HOUR, timed_out(10, 3)), (NOW_MS - HOUR + 1, report(10000.0, 3))])
        # same limit, but logged before the function's last change (its LastModified,
        # here its creation) and it has run since without timing out: a code fix
        s.function("ev-changed", timeout=3)
        s.function("ev-hard-changed", timeout=900)
        after = int(time.time() * 1000) + 2000
        put_lines(s, "ev-changed", [(NOW_MS - 2 * HOUR, timed_out(3, 1)), (NOW_MS - 2 * HOUR + 1, report(3000.0, 1)),
                                    (after, report(800.0, 2))])
        put_lines(s, "ev-hard-changed", [(NOW_MS - 2 * HOUR, timed_out(900, 1)), (after, report(60_000.0, 2))])
        # same limit before the change, but no run since: nothing shows the change helped
        s.function("ev-changed-idle", timeout=3)
        put_lines(s, "ev-changed-idle", [(NOW_MS - 2 * HOUR, timed_out(3, 1)), (NOW_MS - 2 * HOUR + 1, report(3000.0, 1))])
        yield server.url


def diagnose(url: str, function: str, fmt: str = "json"):
    r = run_cli("lambda-timeout", "--function", function, "--output", fmt, "--no-changes", endpoint=url)
    return r.code, (json.loads(r.out) if fmt == "json" else r.out)


def only(data: dict, check: str) -> dict:
    assert [f["check"] for f in data["findings"]] == [check], data["findings"]
    return data["findings"][0]


def test_the_sample_is_the_newest_five_and_says_five_of_seven(url):
    code, data = diagnose(url, "ev-seven")
    ev = only(data, "timeout-too-low")["evidence"]
    assert code == 1 and ev["timed_out_invocations"] == 7
    assert ev["timed_out_lines"] == [timed_out(3, i) for i in (7, 6, 5, 4, 3)]
    assert ev["timed_out_lines_shown"] == "5 of 7, newest first"


def test_without_report_lines_the_duration_metric_is_used_and_said(url):
    code, data = diagnose(url, "ev-metric-only")
    f = only(data, "timeout-too-low")
    ev = f["evidence"]
    assert ev["observed_durations_ms"] == []
    assert ev["longest_observed_s"] == 3.05
    assert ev["longest_observed_from"] == "the AWS/Lambda Duration metric (Maximum): no REPORT lines in the window"
    assert ev["suggested_timeout_s"] == 10
    assert "Duration metric" in ev["suggestion_rule"]
    assert "twice the longest observed run: 3.05 s, from the AWS/Lambda Duration metric" in f["fix"]["text"]
    assert "was 3.05 s (from the AWS/Lambda Duration metric" in f["explanation"]


def test_a_duration_nobody_observed_is_unknown_never_0(url):
    code, data = diagnose(url, "ev-blind")
    f = only(data, "timeout-too-low")
    ev = f["evidence"]
    assert ev["longest_observed_s"] is None and ev["longest_observed_from"] is None
    assert "0 s" not in f["explanation"] and "No run duration was observed" in f["explanation"]
    assert ev["suggested_timeout_s"] == 10   # 2 x the 3 s timeout, rounded up to 5
    assert ev["suggestion_rule"] == "2 x the current timeout (no run duration observed), rounded up to 5 s, capped at 900"
    assert "based on the timeout only" in f["fix"]["text"]
    assert f["fix"]["commands"][0] == "aws lambda update-function-configuration --function-name ev-blind --timeout 10"
    _, text = diagnose(url, "ev-blind", "text")
    assert "longest observed run was 0" not in text and "longest_observed_s     0" not in text


def test_timeouts_before_the_timeout_was_raised_are_fixed_under_observation(url):
    code, data = diagnose(url, "ev-raised")
    assert code == 0 and data["outcome"] == "healthy" and data["findings"] == [] and data["unchecked"] == []
    [o] = data["observations"]
    assert o["check"] == "timeout-too-low"
    assert o["note"] == "the 3 timeout(s) at 3 s in the last 24h predate the timeout raised to 10 s"
    assert o["evidence"]["older_timeouts"] == 3 and o["evidence"]["timeout_s"] == 10
    assert o["evidence"]["older_lines"] == [timed_out(3, i) for i in (2, 1, 0)]
    code, text = diagnose(url, "ev-raised", "text")
    assert code == 0 and "✓ Healthy" in text
    assert ("timeout-too-low: fixed, under observation — the 3 timeout(s) at 3 s in the last 24h predate the "
            "timeout raised to 10 s") in " ".join(text.split())
    code, md = diagnose(url, "ev-raised", "markdown")
    assert "### Fixed, under observation" in md and "- `timeout-too-low`: fixed, under observation — the 3" in md


def test_a_timeout_at_the_new_limit_is_still_a_finding_and_counts_alone(url):
    code, data = diagnose(url, "ev-mixed")
    ev = only(data, "timeout-too-low")["evidence"]
    assert code == 1
    assert ev["timed_out_invocations"] == 1 and ev["timed_out_lines"] == [timed_out(10, 3)]
    assert data["observations"] == []   # the check fired: the older lines are no observation of their own


def test_timeouts_before_the_last_change_with_runs_since_are_fixed_under_observation(url):
    code, data = diagnose(url, "ev-changed")
    assert code == 0 and data["outcome"] == "healthy", (data["findings"], data["unchecked"])
    [o] = data["observations"]
    assert o["check"] == "timeout-too-low"
    assert o["note"].startswith("the 1 timeout(s) at 3 s in the last 24h predate the function's last change (LastModified ")
    assert o["note"].endswith("and it has run since")
    code, data = diagnose(url, "ev-hard-changed")
    assert code == 0 and [o["check"] for o in data["observations"]] == ["at-hard-limit"]


def test_a_change_with_no_run_since_proves_nothing(url):
    code, data = diagnose(url, "ev-changed-idle")
    assert code == 1 and only(data, "timeout-too-low") and data["observations"] == []


def test_every_alarm_lambda_timeout_prints_notifies_someone(url):
    for function in ("ev-seven", "ev-blind"):
        _, data = diagnose(url, function)
        alarms = [c for f in data["findings"] for c in f["fix"]["commands"] if "put-metric-alarm" in c]
        assert alarms and all(c.endswith('--alarm-actions "$ALARM_TOPIC_ARN"') for c in alarms)
        assert all("$ALARM_TOPIC_ARN" in f["fix"]["text"] for f in data["findings"])


def test_json_always_has_observations(url):
    _, data = diagnose(url, "ev-seven")
    assert data["observations"] == []


# --- `resolved:` is validated like the rest of a check -----------------------
RESOLVED = """\
id: demo-resolved
title: Demo resolved
summary: A check whose evidence may predate the fix.
inputs:
  function: {required: true}
steps:
  config:
    call: lambda.GetFunctionConfiguration
    params: {FunctionName: "${inputs.function}"}
checks:
  - id: short-timeout
    severity: low
    when: config.Timeout < `10`
    title: Short timeout
    explanation: Timeout is ${config.Timeout}
    resolved:
%s
"""


@pytest.mark.parametrize("body, line, message", [
    ("      when: config.Timout > `0`\n      note: raised", 17, "no field 'Timout'"),
    ("      when: confg.Timeout > `0`\n      note: raised", 17, "'confg' is not a step"),
    ("      when: config.Timeout > `0`\n      note: raised to ${config.Timeout", 18, "unclosed"),
    ("      when: config.Timeout > `0`\n      note: raised\n      evidnce: {a: config.Timeout}", 19,
     "unknown key 'evidnce'"),
    ("      note: raised", 16, "missing required key 'when'"),
])
def test_validate_names_the_line_of_a_bad_resolved_block(tmp_path, body, line, message):
    path = tmp_path / "demo.yaml"
    path.write_text(RESOLVED % body)
    r = run_cli("validate", str(path))
    assert r.code == 2, r.out + r.err
    assert f"{path}:{line}:" in r.out and message in r.out, r.out + r.err


def test_a_valid_resolved_block_validates(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text(RESOLVED % "      when: config.Timeout > `0`\n      note: raised to ${config.Timeout} s\n"
                               "      evidence: {timeout_s: config.Timeout}")
    r = run_cli("validate", str(path))
    assert r.code == 0, r.out + r.err
