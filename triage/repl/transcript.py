"""`export FILE.md`: the session as Markdown for the incident ticket: who
and where, every command with what it answered (playbook runs through the
Markdown renderer), and the call log. Everything passes the session's
redactor (which remembers every secret value seen) and the sanitizer."""
from __future__ import annotations

import re
import time
from pathlib import Path

from ..errors import UsageError


def export(repl, target: str) -> None:
    path = Path(target).expanduser()
    if path.is_dir():
        raise UsageError(f"export {target}: is a directory", "give a file name, e.g. export incident.md")
    text = transcript_markdown(repl)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"export {target}: {exc.strerror or exc}") from None
    runs = sum(1 for e in repl.transcript if e.diagnosis)
    findings = sum(len(e.diagnosis["findings"]) for e in repl.transcript if e.diagnosis)
    repl.print(f"Wrote {path} ({len(repl.transcript)} commands, {runs} playbook runs, {findings} findings; "
               "secrets redacted).", style="muted")


def transcript_markdown(repl) -> str:
    from ..render.markdown import code, esc, fenced, render_markdown
    from ..sanitize import clean

    s = repl.settings
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(repl.started))
    out = ["# triage session transcript\n",
           f"- started: {started}",
           f"- account: {code(repl.account or 'unknown')}",
           f"- profile: {code(s.profile or 'default chain')} · region: {code(s.region or 'default chain')} · "
           f"endpoint: {code(s.endpoint_url or 'AWS')}\n"]
    for i, entry in enumerate(repl.transcript, 1):
        out.append(f"## {i}. {code(entry.line.splitlines()[0])}\n")
        if "\n" in entry.line:
            out.append("Pasted:\n")
            out.append(fenced(clean(entry.line)))
        if entry.diagnosis is not None:
            if entry.note:
                out.append(esc(clean(entry.note)) + "\n")
            out.append(_demote(render_markdown(entry.diagnosis)))
        elif entry.text.strip():
            out.append(fenced(clean(entry.text).rstrip()))
        elif entry.error:
            out.append(f"> error: {esc(entry.error)}\n")
    calls = repl.calls
    if calls:
        cached = sum(1 for c in calls if c.cached)
        out.append(f"## Call log\n\n{len(calls)} calls, {cached} answered from the session cache.\n")
        out.append("| # | Call | Step | ms | Cached | Error |\n|---:|---|---|---:|---|---|")
        for n, c in enumerate(calls, 1):
            out.append(f"| {n} | {code(c.call)} | {code(c.step) if c.step else ''} | {c.ms:.1f} | "
                       f"{'yes' if c.cached else 'no'} | {code(c.error) if c.error else ''} |")
        out.append("")
    return repl.redactor.text("\n".join(out) + "\n")


def _demote(markdown: str) -> str:
    """Headings one level down (the run sits under its command's heading), fences left alone."""
    out, fence = [], None
    for line in markdown.splitlines():
        m = re.match(r"^(`{3,})", line)
        if m:
            fence = None if fence and m.group(1).startswith(fence) else (fence or m.group(1))
        out.append("#" + line if fence is None and line.startswith("#") else line)
    return "\n".join(out) + "\n"
