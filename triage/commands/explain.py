"""`triage explain`: paste an AWS error, get routed to the playbook (and its diagnosis)."""
from __future__ import annotations

import json
import sys

from ..errors import ExitStatus, UsageError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("text", nargs="*", help="the error text (default: read standard input)")
    parser.add_argument("--no-run", action="store_true", help="route and extract only; make no AWS call")
    parser.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE",
                        help="an input the text does not give (repeatable)")


@command("explain", "route a pasted AWS error message to the playbook that diagnoses it", arguments=_arguments, aws=True)
def cmd_explain(args, env) -> int:
    from .. import catalog
    from ..explain import route
    from ..render.values import command_line_flags
    from .run import option, parse_inputs, report_problems, run_diagnosis

    text = " ".join(args.text) if args.text and args.text != ["-"] else sys.stdin.read()
    if not text.strip():
        raise UsageError("nothing to explain", 'paste the error: triage explain "<error text>", or pipe it in')
    entries = catalog.discover(option(args, "playbooks"))
    routing = route(text, entries)
    fmt = option(args, "output", "text")
    diagnosis = None
    refused: list[dict] = []
    status = ExitStatus.OK
    # The region the ARN (or endpoint) names, unless --region says otherwise: set before
    # the run, since an input may keep only the name (--function orders-api of
    # arn:aws:lambda:eu-west-1:...:function:orders-api), which carries no region of its own.
    if routing.extracted.get("region") and not getattr(args, "region", None) and hasattr(args, "region"):
        args.region = routing.extracted["region"]
    if routing.routed_to:
        entry = entries[routing.routed_to]
        pb = catalog.load(entry)
        inputs = {**routing.inputs, **parse_inputs(pb, args.input)}
        routing.missing = [m for m in routing.missing if m not in inputs]
        routing.inputs = inputs
        if not routing.missing:
            refused = _refused(pb, inputs)
        if not args.no_run and not routing.missing and not refused:
            diagnosis, status = run_diagnosis(pb, inputs, args, env)
    data = {"routed_to": routing.routed_to, "confidence": routing.confidence,
            "alternatives": routing.alternatives, "extracted": routing.extracted,
            "inputs": routing.inputs, "missing": routing.missing_flags(), "reason": routing.reason,
            "notes": routing.notes, "diagnosis": diagnosis.to_dict() if diagnosis else None}
    if refused:
        data["refused"] = refused
    if fmt == "json":
        env.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        _render_text(data, env, fmt, diagnosis, args)
    if diagnosis is not None:
        report_problems(diagnosis, args, env)
    if routing.routed_to is None:
        if fmt != "json":
            env.stderr.write("triage: cannot route this text to a playbook\n"
                             "  hint: `triage playbooks` lists what triage diagnoses; "
                             "paste the whole AWS error (the 'An error occurred (...)' line, or the "
                             "'User: ... is not authorized to perform: ...' message)\n")
        return ExitStatus.USAGE
    if refused and not args.no_run and fmt != "json":
        r = refused[0]
        others = {k: v for k, v in routing.inputs.items() if k != r["input"]}
        env.stderr.write(f"triage: {routing.routed_to} was not run: the text gives {r['flag']} {r['value']}, which "
                         f"it cannot use\n  hint: add --input {r['input']}=VALUE, or run: triage {routing.routed_to} "
                         + command_line_flags(others) + f" {r['flag']} ...\n")
    if routing.missing and not args.no_run:
        if fmt != "json":
            env.stderr.write(f"triage: {routing.routed_to} needs {', '.join(routing.missing_flags())}, "
                             f"which the text does not say\n  hint: add --input "
                             f"{routing.missing[0]}=VALUE, or run: triage {routing.routed_to} "
                             + command_line_flags(routing.inputs)
                             + "".join(f" {f} ..." for f in routing.missing_flags()) + "\n")
        return ExitStatus.USAGE
    return status


def _refused(pb, inputs: dict) -> list[dict]:
    """The input the playbook's own validation refuses (a resource that is not an ARN:
    "on resource: namespace/ns-solr"), as {input, flag, value, problem, hint}: the text
    said it, but the playbook cannot run with it, so explain shows it and says what to
    write instead rather than failing with a usage error. [] when every input is fine."""
    from .. import engine

    try:
        engine.coerce_inputs(pb, dict(inputs), [])
    except UsageError as exc:
        flag = next((spec.flag for spec in pb.inputs.values() if exc.message.startswith(spec.flag + " ")), None)
        name = next((n for n, spec in pb.inputs.items() if spec.flag == flag), None)
        if name is None:
            raise
        return [{"input": name, "flag": flag, "value": inputs.get(name), "problem": exc.message, "hint": exc.hint}]
    return []


def _render_text(data: dict, env, fmt: str, diagnosis, args) -> None:
    from rich.text import Text

    from ..render import render
    from ..render.text import console_for
    from .run import color_option

    console = console_for(env.stdout, color_option(args))
    if data["routed_to"]:
        console.print(Text.assemble(("→ ", "bold"), (data["routed_to"], "bold cyan"),
                                    f"  (confidence {data['confidence']:.0%}; {data['reason']})"))
    else:
        console.print(Text(f"Not routed: {data['reason']}.", style="yellow"))
    for key, value in data["extracted"].items():
        console.print(Text.assemble(("  " + key, "dim"), ": ", str(value)))
    for note in data["notes"]:
        console.print(Text("  note: " + note, style="dim"))
    if data["routed_to"] and data["missing"]:
        console.print(Text("  missing: " + " ".join(data["missing"]) + "  (the text does not say; pass --input NAME=VALUE)",
                           style="yellow"))
    for r in data.get("refused") or []:
        console.print(Text(f"  cannot run with {r['problem']}", style="yellow"))
        if r.get("hint"):
            console.print(Text(f"    {r['hint']}", style="yellow"))
    if diagnosis is not None:
        console.print()
        render(diagnosis.to_dict(), fmt, env.stdout, color=color_option(args))
