"""The REPL ends each run with its recent changes, and `export` writes them
into the Markdown transcript."""
from __future__ import annotations

from repl.conftest import CTRL_D, ENTER, drive


def test_a_session_run_and_its_transcript_end_with_the_recent_changes(world, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    s = drive(world.url, "lambda-timeout --function billing-export" + ENTER + "calls" + ENTER
              + "export incident.md" + ENTER + CTRL_D)
    out = " ".join(s.out.split())
    assert "Recent changes to 2 resources read, last 24h (from CloudTrail's log files in S3)" in out
    assert "↳ timeout-too-low began 40 minutes after UpdateFunctionConfiguration by " in out
    # the session's call log is the playbook's calls; the collector's are counted with the changes
    assert "5 calls in this session" in out and "more for recent changes" in out
    md = (tmp_path / "incident.md").read_text()
    assert "Recent changes to 2 resources read, last 24h" in md
    assert "timeout-too-low began 40 minutes after UpdateFunctionConfiguration" in md
