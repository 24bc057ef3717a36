"""`triage network-path --from SOURCE --to DESTINATION [--port N]`: can it
reach? Runs the network-path playbook (read-only Describe calls, the local
evaluator in triage/netpath/) and prints the path hop by hop under the
diagnosis: every hop that allows the connection, and the one that blocks it.
JSON output carries it as "path"."""
from __future__ import annotations

from ..errors import UsageError
from . import command

PLAYBOOK = "network-path"


def _arguments(parser) -> None:
    parser.add_argument("--from", dest="source", required=True, metavar="FUNCTION|INSTANCE|ENI|SUBNET",
                        help="where connections start: a Lambda function (name or ARN), i-..., eni-... or subnet-...")
    parser.add_argument("--to", dest="target", required=True, metavar="DB-INSTANCE|DB-PROXY|HOST:PORT|SERVICE-ENDPOINT",
                        help="a DB instance, cluster or proxy (identifier or endpoint), HOST:PORT, or an AWS service "
                             "(sqs, com.amazonaws.REGION.sqs, sqs.REGION.amazonaws.com)")
    parser.add_argument("--port", type=int, metavar="N", help="TCP port (default: the database's, 443 for AWS services)")
    parser.add_argument("--action", metavar="SERVICE:ACTION",
                        help="for an AWS service: the call whose endpoint policy to check, e.g. sqs:SendMessage")


@command("network-path", "can it reach? the network path from a function or instance to a database or endpoint, "
         "hop by hop", arguments=_arguments, aws=True)
def cmd_network_path(args, env) -> int:
    from .. import catalog
    from ..netpath import net_ref
    from ..render import render
    from ..sanitize import deep_clean
    from .run import color_option, option, report_problems, run_diagnosis

    source, target = net_ref(args.source, "from"), net_ref(args.target, "to")
    if source["kind"] is None:
        raise UsageError(f"--from {args.source!r}: not a function, instance, network interface or subnet",
                         "e.g. --from orders-api, --from i-0abc12345678, --from eni-0abc12345678, --from subnet-0abc12345678")
    if target["kind"] is None:
        raise UsageError(f"--to {args.target!r}: not a database, endpoint or HOST:PORT",
                         "e.g. --to orders-db, --to orders-db.abc123.us-east-1.rds.amazonaws.com, --to sqs, "
                         "--to 10.0.3.12:5432")
    if args.port is not None and not 0 < args.port < 65536:
        raise UsageError(f"--port must be 1-65535, got {args.port}")
    entries = catalog.discover(option(args, "playbooks"))
    if PLAYBOOK not in entries:
        raise UsageError(f"the {PLAYBOOK} playbook is missing", "reinstall triage")
    pb = catalog.load(entries[PLAYBOOK])
    given = {k: v for k, v in (("from", args.source), ("to", args.target), ("port", args.port),
                                ("action", args.action)) if v is not None}
    diagnosis, status = run_diagnosis(pb, given, args, env)
    data = diagnosis.to_dict()
    path = None if diagnosis.unavailable else derived(pb, diagnosis, "path")
    fmt = option(args, "output", "text")
    if fmt == "json":
        if path is not None:
            data["path"] = deep_clean(diagnosis.redactor.deep(path))
        render(data, fmt, env.stdout)
    else:
        render(data, fmt, env.stdout, color=color_option(args))
        if path and path.get("paths"):
            shown = deep_clean(diagnosis.redactor.deep(path))
            if fmt == "markdown":
                env.stdout.write(path_markdown(shown))
            else:
                print_path(shown, env.stdout, color_option(args))
    report_problems(diagnosis, args, env)
    return status


def derived(pb, diagnosis, name: str):
    """A derived value of a finished run, computed again from its step results
    (the engine keeps results, not the context)."""
    from .. import expr

    context = {"inputs": diagnosis.inputs, "region": diagnosis.region,
               **{sid: o.value for sid, o in diagnosis.steps.items()}}
    for key, expression in pb.derive.items():
        try:
            context[key] = expr.search(expression, context)
        except Exception:  # as in the engine: a value that cannot be computed is null
            context[key] = None
        if key == name:
            return context[key]
    return None


_MARK = {"ok": ("✓", "ok"), "BLOCKED": ("✗", "high"), "ok?": ("?", "unchecked"), "--": ("·", "muted")}


def print_path(path: dict, out, color) -> None:
    from rich.text import Text

    from ..render.text import console_for

    console = console_for(out, color)
    console.print()
    console.print(Text.assemble(("Path: ", "bold"), (path.get("summary") or "", "ok" if path.get("reachable") else "high")))
    for p in path["paths"]:
        console.print(Text(f"  {p['path']}", style="bold"), soft_wrap=True)
        for hop in p["hops"]:
            mark, style = _MARK.get(hop["status"], ("?", "muted"))
            console.print(Text.assemble(("    ", ""), (mark, style), (f" {hop['hop']:<24}", "muted"), hop["text"]),
                          soft_wrap=True)        # one line per hop: grep-able, copy-able
    for note in path.get("notes") or []:
        console.print(Text(f"  note: {note}", style="muted"))


def path_markdown(path: dict) -> str:
    from ..render.markdown import code, esc

    out = [f"\n### Path: {esc(path.get('summary') or '')}\n"]
    for p in path["paths"]:
        out.append(f"\n{code(p['path'])}\n\n| hop | | |\n|---|---|---|")
        for hop in p["hops"]:
            out.append(f"| {esc(hop['hop'])} | {esc(hop['status'])} | {code(hop['text'])} |")
    notes = path.get("notes") or []
    if notes:
        out.append("")
        out += [f"- {esc(n)}" for n in notes]
    return "\n".join(out) + "\n"
