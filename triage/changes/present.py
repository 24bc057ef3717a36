"""The "Recent changes" section of text and Markdown output, from the JSON
form (Timeline.to_dict, already redacted): the renderers call these so a
diagnosis and `triage changes` print the same section."""
from __future__ import annotations

from typing import Any

SOURCE_WORDS = {"lookup-events": "CloudTrail LookupEvents", "trail-files": "CloudTrail's log files in S3",
                "metadata": "resource metadata"}


def heading(data: dict) -> str:
    search = data.get("change_search") or {}
    n = len(search.get("resources") or [])
    window = search.get("window") or "?"
    head = (f"Recent changes to {n} resource{'s' if n != 1 else ''}{' read' if 'playbook' in data else ''}, "
            f"last {window}")
    source = search.get("answered_by")
    if data.get("changes") is not None and source:
        head += f" (from {SOURCE_WORDS.get(source, source)})"
    return head


def status_lines(data: dict) -> list[str]:
    """Why the list is what it is: the reason, and what each source answered."""
    search = data.get("change_search") or {}
    out = []
    if search.get("reason"):
        out.append(("Not checked: " if data.get("changes") is None and not search["reason"].startswith(
            ("not checked", "could not check")) else "") + search["reason"])
    for s in search.get("sources") or []:
        out.append(f"{s.get('source')}: {s.get('result')}")
    return out


def when(entry: dict) -> str:
    t = str(entry.get("time") or "")
    return t.replace("T", " ")[:16] + "Z" if t else "?"


def who(entry: dict) -> str:
    principal = entry.get("principal") or "unknown principal"
    return principal + (f" ({entry['tool']})" if entry.get("tool") else "")


def text_renderable(data: dict) -> Any:
    """A rich renderable: heading, one row per change (newest first), links."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list = [Text(heading(data), style="bold")]
    changes = data.get("changes")
    search = data.get("change_search") or {}
    if changes is None:
        parts += [Text("  " + line, style="unchecked") for line in status_lines(data)[:1]]
        parts += [Text("  " + line, style="muted") for line in status_lines(data)[1:]]
        return Group(*parts)
    if not changes:
        parts.append(Text(f"  No change since {when({'time': search.get('since')})}.", style="ok"))
    else:
        table = Table(show_header=False, box=None, padding=(0, 1), pad_edge=False)
        table.add_column(style="muted", no_wrap=True)
        table.add_column(overflow="fold")
        for c in changes:
            body = [Text.assemble((c.get("event") or "?", "bold"), "  ", c.get("resource") or "?",
                                  (f"  [{c.get('source')}]", "muted")),
                    Text(c.get("detail") or ""),
                    Text(f"by {who(c)}", style="muted")]
            if c.get("explanation"):
                body.append(Text("↳ " + c["explanation"], style="high"))
            table.add_row(Text(when(c)), Group(*body))
        parts.append(table)
    for line in status_lines(data):
        parts.append(Text("  " + line, style="muted"))
    return Group(*parts)


def markdown_lines(data: dict) -> list[str]:
    from ..render.markdown import code, esc

    out = [f"### {esc(heading(data))}\n"]
    changes = data.get("changes")
    search = data.get("change_search") or {}
    if changes is None:
        lines = status_lines(data)
        out.append(f"**{esc(lines[0]) if lines else 'Not checked.'}**\n")
        out += [f"- {esc(line)}" for line in lines[1:]]
        out.append("")
        return out
    if not changes:
        out.append(f"No change since {code(when({'time': search.get('since')}))}.\n")
    else:
        out.append("| When (UTC) | Change | Resource | Detail | By | Source |\n|---|---|---|---|---|---|")
        for c in changes:
            out.append(f"| {code(when(c))} | {code(c.get('event') or '?')} | {code(c.get('resource') or '?')} | "
                       f"{esc(c.get('detail') or '')} | {code(who(c))} | {esc(c.get('source') or '')} |")
        out.append("")
        for c in changes:
            if c.get("explanation"):
                out.append(f"- **{esc(c['explanation'])}**")
        out.append("")
    lines = status_lines(data)
    out += [f"- {esc(line)}" for line in lines]
    if lines:
        out.append("")
    return out
