"""`triage scan`: the applicable playbooks over every function, database and
bucket (account-wide playbooks once per region), a progress bar on a
terminal, then a summary table sorted by severity; `--output json|markdown`
for a report. The work is in triage/scan.py."""
from __future__ import annotations

from ..errors import ExitStatus, UsageError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("--regions", action="append", default=[], metavar="R1,R2",
                        help="regions to scan, comma-separated or repeated (default: --region / your profile's)")
    parser.add_argument("--playbook", action="append", default=[], metavar="ID",
                        help="only these playbooks (repeatable; default: every playbook with a scan: section)")
    parser.add_argument("--concurrency", type=int, default=8, metavar="N",
                        help="playbook runs in flight at once (default: 8)")


@command("scan", "run the applicable playbooks over every resource in the region(s)", arguments=_arguments, aws=True)
def cmd_scan(args, env) -> int:
    from .. import catalog
    from ..aws import Aws
    from ..scan import DEFAULT_DEADLINE, run_scan, scannable
    from .run import aws_settings, color_option, option

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    entries = catalog.discover(option(args, "playbooks"))
    wanted = args.playbook or [e.id for e in entries.values() if not e.error]
    unknown = [p for p in wanted if p not in entries]
    if unknown:
        raise UsageError(f"unknown playbook {unknown[0]!r}", f"playbooks: {', '.join(sorted(entries))}")
    playbooks = scannable([catalog.load(entries[p]) for p in wanted])
    if not playbooks:
        raise UsageError(f"{', '.join(wanted)} cannot be scanned", "only playbooks with a `scan:` section can")
    aws = Aws(aws_settings(args))
    aws.session  # an unknown --profile is reported now
    regions = [r.strip() for item in args.regions for r in item.split(",") if r.strip()] or [aws.region]
    regions = list(dict.fromkeys(regions))
    from ..regions import check
    for region in regions if args.regions else ():
        warning = check(region, "--regions")
        if warning:
            env.stderr.write(f"triage: warning: {warning}\n")

    with _progress(env) as progress:
        result = run_scan(playbooks, regions, aws, concurrency=args.concurrency,
                          deadline=option(args, "deadline", DEFAULT_DEADLINE), progress=progress)
    data = result.to_dict()
    fmt = option(args, "output", "text")
    if fmt == "json":
        from ..render.json import render_json
        render_json(data, env.stdout)
    elif fmt == "markdown":
        env.stdout.write(render_markdown(data))
    else:
        render_text(data, env.stdout, color=color_option(args))
    on_screen = fmt == "text" and env.stdout_isatty and getattr(env.stderr, "isatty", lambda: False)()
    if data["outcome"] == "unavailable" and not on_screen:   # on one terminal, the text's table says why once
        env.stderr.write(f"triage: AWS unavailable: {data['not_checked'][0]['reason']}\n")
    return ExitStatus.for_outcome(data["outcome"])


class _progress:
    """A rich progress bar on stderr when it is a terminal; otherwise nothing."""

    def __init__(self, env):
        self.env, self.bar, self.task = env, None, None

    def __enter__(self):
        isatty = getattr(self.env.stderr, "isatty", lambda: False)
        if not isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(file=self.env.stderr, force_terminal=True, markup=False, highlight=False)
        self.bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=console, transient=False)
        self.bar.start()
        self.task = self.bar.add_task("scan", total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


# A scan without findings, by outcome: (style, sentence), for text and markdown.
VERDICTS = {
    "healthy": ("ok", "Healthy: every check ran on every scanned resource and found nothing."),
    "unavailable": ("high", "Not checked: AWS was unavailable; nothing could be listed or read."),
    "inconclusive": ("unchecked", "Inconclusive: no findings, but not everything could be checked (below)."),
}


def render_text(data: dict, out, *, color: bool | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..render.text import console_for

    import os

    # Not a terminal (a file, a pipe, CI logs): as wide as COLUMNS says, else wide
    # enough that rows stay on one line.
    columns = os.environ.get("COLUMNS", "").strip()
    width = int(columns) if columns.isdigit() and int(columns) > 0 else 160
    if getattr(out, "isatty", lambda: False)():
        width = None   # a terminal: its own size (rich)
    console = console_for(out, color, width=width)
    scan = data["scan"]
    rows = data["summary"]["rows"]
    if rows:
        table = Table(title=Text(f"{len(rows)} finding(s)", style="bold"), title_justify="left")
        # Narrow (an 80-column terminal): the title goes under the finding id, else rich
        # gives the no-wrap columns all the room and the title column none at all.
        narrow = console.width < 120
        for name in ("severity", "finding", "resource", "region"):
            if narrow and name == "finding":
                table.add_column("finding / title", overflow="fold", ratio=1)
            else:
                table.add_column(name, no_wrap=name == "severity", overflow="fold")
        if not narrow:
            table.add_column("title", overflow="fold", ratio=1)
        for r in rows:
            finding = Text(r["check"], style="check-id")
            cells = [Text(r["severity"].upper(), style=r["severity"]),
                     Text.assemble(finding, "\n", r["title"]) if narrow else finding,
                     Text(r["resource"] or "(account)"), Text(", ".join(r["regions"]))]
            table.add_row(*cells, *([] if narrow else [Text(r["title"])]))
        console.print(table)
    else:
        style, sentence = VERDICTS[data["outcome"]]
        console.print(Text(("✓ " if data["outcome"] == "healthy" else "") + sentence, style=style))
    if data["not_checked"]:
        table = Table(title=Text(f"Not checked ({len(data['not_checked'])})", style="unchecked"), title_justify="left")
        for name in ("playbook", "resource", "region"):
            table.add_column(name, no_wrap=True)
        table.add_column("why", overflow="fold", ratio=1)
        for n in data["not_checked"]:
            table.add_row(Text(n["playbook"]), Text(n["resource"] or "(every resource)"), Text(n["region"]),
                          Text(n["reason"]))
        console.print(table)
    unchecked = sum(len(d["unchecked"]) for d in data["diagnoses"])
    calls = scan["calls"]
    console.print(Text(f"{scan['runs']} playbook runs ({', '.join(scan['playbooks'])}) in {', '.join(scan['regions'])}: "
                       f"{calls['total']} API calls ({calls['cached']} cached, {calls['failed']} failed), "
                       f"{unchecked} check(s) unchecked, {scan['seconds']:.2f} s", style="muted"))
    console.print(Text("Details: triage <playbook> --<input> <resource>, or --output json for every diagnosis.",
                       style="muted"))


def render_markdown(data: dict) -> str:
    from ..render.markdown import code, esc, fenced

    scan, summary = data["scan"], data["summary"]
    out = [f"## triage scan — {code(', '.join(scan['regions']))}\n",
           f"{scan['runs']} playbook runs ({', '.join(code(p) for p in scan['playbooks'])}) · "
           f"{summary['findings']} finding(s) · {scan['calls']['total']} API calls in {scan['seconds']:.2f} s\n"]
    if summary["rows"]:
        out.append("| Severity | Finding | Playbook | Resource | Region | Title |\n|---|---|---|---|---|---|")
        for r in summary["rows"]:
            out.append(f"| {r['severity'].upper()} | {code(r['check'])} | {code(r['playbook'])} | "
                       f"{code(r['resource'] or '(account)')} | {esc(', '.join(r['regions']))} | {esc(r['title'])} |")
        out.append("")
    else:
        out.append(f"**{VERDICTS[data['outcome']][1]}**\n")
    for d in data["diagnoses"]:
        for f in d["findings"]:
            cmds = (f.get("fix") or {}).get("commands") or []
            if cmds:
                out.append(f"### {esc(f['title'])} ({code(f['check'])})\n")
                out.append(fenced("\n".join(cmds), "sh"))
    if data["not_checked"]:
        out.append("### Not checked\n\n| Playbook | Resource | Region | Why |\n|---|---|---|---|")
        for n in data["not_checked"]:
            out.append(f"| {code(n['playbook'])} | {code(n['resource'] or '(every resource)')} | "
                       f"{code(n['region'])} | {esc(n['reason'])} |")
        out.append("")
    return "\n".join(out) + "\n"
