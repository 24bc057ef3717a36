"""Markdown for incident tickets. AWS strings go in code spans or fenced
blocks (inert), other text is escaped; table cells escape pipes."""
from __future__ import annotations

import re

from .values import lines, unchecked_by_cause, verdict

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def esc(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def code(text: str) -> str:
    """An inline code span no content can close: its fence is one backtick
    longer than the longest run of backticks inside (CommonMark 6.1), so
    everything in it, HTML included, stays literal."""
    text = text.replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def fenced(body: str, lang: str = "") -> str:
    fence = "```"
    while fence in body:
        fence += "`"
    return f"{fence}{lang}\n{body}\n{fence}\n"


def render_markdown(data: dict) -> str:
    out: list[str] = []
    target = ", ".join(f"{k}={v}" for k, v in data["inputs"].items() if v is not None)
    out.append(f"## triage: {esc(data.get('title') or data['playbook'])} — {code(target)}\n")
    n = len(data["findings"])
    region = str(data.get("region")) + (f" ({data['region_source']})" if data.get("region_source") else "")
    out.append(f"Playbook {code(data['playbook'])} · outcome **{data.get('outcome', '?')}** · region {code(region)} · "
               f"{n} finding{'s' if n != 1 else ''} · {len(data['unchecked'])} unchecked\n")
    summary = verdict(data)
    if summary:
        sentence = summary[1].lstrip("✓ ")   # our own words, except AWS's error when unavailable
        out.append(f"**{esc(sentence) if data.get('outcome') == 'unavailable' else sentence}**\n")
    for i, f in enumerate(data["findings"], 1):
        out.append(f"### {i}. [{f['severity'].upper()}] {esc(f['title'])} ({code(f['check'])})\n")
        out.append(esc(f["explanation"].strip()) + "\n")
        if f["evidence"]:
            out.append("| Evidence | Value |\n|---|---|")
            for name, value in f["evidence"].items():
                out.append(f"| {esc(name)} | {'<br>'.join(code(v) for v in lines(value))} |")
            out.append("")
        fix = f.get("fix") or {}
        if fix.get("text"):
            out.append(f"**Fix:** {esc(fix['text'].strip())}\n")
        if fix.get("commands"):
            out.append(fenced("\n".join(fix["commands"]), "sh"))
    if data.get("observations"):   # problems seen only in evidence older than the fix
        out.append("### Fixed, under observation\n")
        for o in data["observations"]:
            out.append(f"- {code(o['check'])}: fixed, under observation — {esc(o['note'].strip())}")
        out.append("")
    if data["unchecked"]:
        out.append("### Not evaluated\n")
        for reason, checks in unchecked_by_cause(data["unchecked"]):
            out.append(f"- {', '.join(code(c) for c in checks)}: {esc(reason)}")
        out.append("")
    if (data.get("change_search") or {}).get("window"):   # it looked for recent changes
        from ..changes.present import markdown_lines
        out += markdown_lines(data)
    calls = data.get("calls", [])
    if calls:
        out.append(f"<details><summary>{len(calls)} API calls in {data.get('seconds', 0):.2f} s</summary>\n")
        out.append("| Call | ms | Cached | Error |\n|---|---:|---|---|")
        for c in calls:
            out.append(f"| {code(c['call'])} | {c['ms']} | {'yes' if c['cached'] else 'no'} | "
                       f"{code(c['error']) if c.get('error') else ''} |")
        out.append("\n</details>\n")
    if data.get("error"):
        out.append(f"> **AWS unavailable:** {esc(data['error'])}\n")
    return "\n".join(out) + "\n"
