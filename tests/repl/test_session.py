"""Whole sessions through prompt-toolkit's pipe input against the seeded
moto world: playbook runs, drill-down, the call log and its cache hits,
export, errors that do not end the session, and Ctrl-C during a run."""
from __future__ import annotations

import re
import time

from triage.demo.scenarios.lambda_timeout import SEEDED_SECRET
from triage.testing.proxy import FaultProxy, blackhole

from .conftest import CTRL_C, CTRL_D, ENTER, Live, drive


def test_run_show_calls_and_export_in_one_session(world, xdg):
    s = drive(world.url, "lambda-timeout --function orders-etl" + ENTER
              + "show 1" + ENTER
              + "lambda-timeout --function orders-etl" + ENTER
              + "calls" + ENTER
              + "export incident.md" + ENTER + CTRL_D)
    out = s.out
    # the run: the same finding, evidence and fix as the CLI
    assert "[timeout-too-low]" in out
    assert "aws lambda update-function-configuration --function-name orders-etl --timeout 10" in out
    # show 1: the JMESPath that fired and the raw call results it read, redacted
    show = out[out.index("Fired because"):]
    assert "timeout_s < `900` && timeout_count > `0`" in show
    assert "step config  lambda.GetFunctionConfiguration  (ok)" in show
    assert '"Timeout": 3,' in show
    assert '"DB_PASSWORD": "REDACTED"' in show
    assert "step timeouts  logs.FilterLogEvents  (ok)" in show
    assert re.search(r"Task timed out after 3\.00\s+seconds", show)
    # calls: the second, identical run was answered from the session cache, and the log says so
    table = [ln for ln in out.splitlines() if re.match(r"\s*\d+\s+\w+\.\w+\s", ln)]
    assert len(table) == 10     # 5 a run: configuration, timeouts, REPORT lines, Duration metric, its alarms
    assert all(ln.split()[-1] == "fetched" for ln in table[:5]), table
    assert [ln.split()[1] for ln in table[5:]] == [ln.split()[1] for ln in table[:5]]
    assert all(re.search(r"\bcached(, \d+ s old)?\s*$", ln) for ln in table[5:]), table
    assert "10 calls in this session: 5 answered from the session cache, 0 failed" in out
    assert "5 API calls (5 cached, 0 with errors)" in out
    # export: a Markdown transcript for the ticket
    md = (xdg / "incident.md").read_text()
    assert md.startswith("# triage session transcript")
    assert "## 1. `lambda-timeout --function orders-etl`" in md
    assert "#### 1. [HIGH] orders-etl times out at its 3 s limit (`timeout-too-low`)" in md
    assert "| suggested\\_timeout\\_s | `10` |" in md
    assert "```sh\naws lambda update-function-configuration --function-name orders-etl --timeout 10\n" in md
    assert "## 2. `show 1`" in md and "timeout_s < `900` && timeout_count > `0`" in md
    assert "## Call log" in md and "10 calls, 5 answered from the session cache." in md
    assert "| 6 | `lambda.GetFunctionConfiguration` | `config` |" in md and "| yes |" in md
    # secrets and terminal escapes never reach the screen or the ticket
    for text in (out, md):
        assert SEEDED_SECRET not in text
        assert "\x1b" not in text
    assert "Goodbye." in out


def test_refresh_makes_the_next_run_fetch_again(world):
    s = drive(world.url, "lambda-timeout --function report-builder" + ENTER + "refresh" + ENTER
              + "lambda-timeout --function report-builder" + ENTER + CTRL_D)
    calls = s.repl.calls
    assert len(calls) == 10 and not any(c.cached for c in calls)
    assert "[duration-near-timeout]" in s.out
    assert "Cleared cached call results and completion values" in s.out


def test_an_error_never_ends_the_session(world):
    s = drive(world.url, "lambda-timeout" + ENTER                      # missing required flag
              + "lambda-timeout --function orders-etl --since yesterday" + ENTER
              + "show 1" + ENTER                                       # nothing run yet
              + 'lambda-timeout --function "unbalanced' + ENTER
              + "use region mars-1" + ENTER
              + "validate /no/such.yaml" + ENTER
              + "lambda-timeout --function thumbnailer" + ENTER + CTRL_D)
    out = s.out
    assert "error: lambda-timeout needs --function" in out
    assert "error: --since: not a duration: 'yesterday'" in out
    assert "error: nothing to show yet" in out and "hint: run a playbook first" in out
    assert "error: cannot read that line: No closing quotation" in out
    assert "error: 'mars-1' is not an AWS region name" in out
    assert "Traceback" not in out
    # and the session is still alive: the healthy function is diagnosed at the end
    assert "✓ Healthy: all 10 checks ran" in out
    assert s.repl.settings.region == "us-east-1"


def test_inputs_are_validated_as_on_the_command_line(world):
    """--pool-size 0 is refused in the REPL too (it used to hide unbounded-lambda-concurrency), before any AWS call."""
    s = drive(world.url, "rds-connections --db orders-db --function orders-api --pool-size 0" + ENTER
              + "rds-connections --db orders-db --pool-size abc" + ENTER + CTRL_D)
    assert "error: --pool-size must be at least 1, got 0" in s.out
    assert "error: --pool-size must be an integer, got 'abc'" in s.out
    assert s.out.count("hint: write a whole number of 1 or more, e.g. --pool-size 1") == 2
    assert s.repl.calls == [] and "Traceback" not in s.out


def test_show_without_a_number_lists_findings_and_rejects_out_of_range(world):
    s = drive(world.url, "lambda-timeout --function payments-sync" + ENTER + "show" + ENTER + "show 3" + ENTER
              + "show 2" + ENTER + CTRL_D)
    out = s.out
    assert re.search(r"#1\s+CRITICAL\s+vpc-without-nat", out)
    assert re.search(r"#2\s+HIGH\s+timeout-too-low", out)
    assert "error: show 3: the last run has 2 findings" in out
    drill = out[out.rindex("Fired because"):]
    assert "timeout_s < `900` && timeout_count > `0`" in drill
    assert "step config  lambda.GetFunctionConfiguration  (ok)" in drill
    assert "sk_live_51Hdemo" not in out


def test_use_region_switches_target_and_keeps_the_log(world):
    s = drive(world.url, "lambda-timeout --function orders-etl" + ENTER + "use region eu-west-1" + ENTER
              + "lambda-timeout --function orders-etl" + ENTER + "use" + ENTER + "calls" + ENTER + CTRL_D)
    out = s.out
    assert "region is now eu-west-1; cached results and completions cleared." in out
    # nothing is seeded in eu-west-1: the function is not found there, one finding that says so, not a crash
    second = out.split("region is now eu-west-1")[1]
    assert "(region eu-west-1)" in second and "subject-not-found" in second and "ResourceNotFoundException" in second
    assert "Lambda function orders-etl does not exist in eu-west-1" in second
    assert "region eu-west-1" in out
    regions = [c.region for c in s.repl.calls]
    assert regions[:4] == ["us-east-1"] * 4 and "eu-west-1" in regions[4:]


def test_whoami_fills_the_toolbar(world):
    from triage.repl.toolbar import toolbar

    s = drive(world.url, "whoami" + ENTER + CTRL_D)
    assert re.search(r"account\s+123456789012", s.out)
    assert "arn:aws:sts::123456789012:user/moto" in s.out
    bar = "".join(text for _, text in toolbar(s.repl))
    assert "account 123456789012" in bar and "region us-east-1" in bar and f"endpoint {world.url}" in bar


def test_help_is_generated_from_the_registries(world):
    s = drive(world.url, "help" + ENTER + "help lambda-timeout" + ENTER + "help shwo" + ENTER + CTRL_D)
    out = s.out
    assert re.search(r"lambda-timeout --function\s+Lambda function times out", out)
    for name in ("run", "playbooks", "validate", "show [N]", "calls [N]", "export [FILE.md]", "refresh", "quit"):
        assert name in out
    assert "demo" not in out.split("Commands")[1].split("Session")[0]   # CLI-only commands are not offered
    assert "--function FUNCTION" in out and "(default: 24h)" in out     # argparse's own help for the playbook
    assert "error: no command 'shwo'" in out and "did you mean `help show`?" in out


def test_cli_only_command_and_unknown_word_are_clear_errors(world):
    s = drive(world.url, "demo" + ENTER + CTRL_D)
    assert "error: `demo` is not available inside the REPL" in s.out
    assert "hint: run `triage demo` from your shell" in s.out


def test_ctrl_c_during_a_run_cancels_it_and_returns_to_the_prompt(world):
    with FaultProxy(world.url) as proxy:
        # the function's configuration never arrives: only Ctrl-C ends this run
        proxy.add_fault("GetFunctionConfiguration", blackhole(seconds=30))
        live = Live(proxy.url)
        live.send("lambda-timeout --function orders-etl" + ENTER)
        live.wait_until(lambda: proxy.count("GetFunctionConfiguration") >= 1, what="the first call")
        started = time.monotonic()
        live.send(CTRL_C)
        live.wait_until(lambda: "cancelled after" in live.out.getvalue(), what="the cancellation")
        assert time.monotonic() - started < 5
        live.send("show" + ENTER + CTRL_D)
        out = live.finish()
    # only the step that does not wait for the configuration (the metric) can have finished
    assert re.search(r"cancelled after [\d.]+ s: [01] of 16 steps had finished; nothing was changed", out)
    assert not any(c.call == "lambda.GetFunctionConfiguration" and not c.error for c in live.repl.calls)
    assert "error: nothing to show yet" in out          # the prompt came back and took a command
    assert "Goodbye." in out and "Traceback" not in out


def test_ctrl_c_at_the_prompt_clears_the_line_and_keeps_the_session(world):
    s = drive(world.url, "lambda-timeout --function orders" + CTRL_C + "whoami" + ENTER + CTRL_D)
    assert "[timeout-too-low]" not in s.out
    assert "123456789012" in s.out and "Goodbye." in s.out


def test_quit_command_ends_the_session(world):
    s = drive(world.url, "quit" + ENTER + "whoami" + ENTER)
    assert "Goodbye." in s.out and "123456789012" not in s.out


def test_per_command_timeout_flags_are_not_ignored(monkeypatch):
    """--read-timeout/--max-attempts/--connect-timeout on one command get that command its own Aws."""
    import io

    import pytest

    from triage import catalog, engine
    from triage.repl import progress
    from triage.repl.config import Config
    from triage.repl.session import Repl

    seen = {}

    def fake_run(pb, given, aws, **kw):
        seen["settings"] = aws.settings
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "run", fake_run)
    monkeypatch.setattr(progress, "run_cancellable", lambda fn, *a, **kw: fn(None))
    repl = Repl(Config(prefetch=False), out=io.StringIO(), region="us-east-1", history=None)
    pb = catalog.load(catalog.discover()["lambda-timeout"])
    args = repl.parser.parse_args(["lambda-timeout", "--function", "f", "--read-timeout", "1",
                                   "--max-attempts", "2", "--connect-timeout", "3"])
    with pytest.raises(KeyboardInterrupt):
        repl.run_playbook(pb, {"function": "f"}, args)
    s = seen["settings"]
    assert (s.region, s.read_timeout, s.max_attempts, s.connect_timeout) == ("us-east-1", 1, 2, 3)
