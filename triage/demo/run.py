"""`triage demo`: the whole product offline. Starts an embedded moto
server on 127.0.0.1, seeds the incident scenarios, runs every playbook case
against it and prints each diagnosis."""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

from ..errors import ExitStatus


def run_demo(args, env) -> int:
    from rich.rule import Rule
    from rich.text import Text

    from .. import catalog, engine
    from ..aws import Aws, AwsSettings
    from ..changes import Request
    from ..render import render
    from ..render.text import console_for
    from .proofs import sentence
    from .scenarios import SCENARIOS, _load, seed_all
    from .server import DEMO_ENV, MotoServer

    os.environ.update(DEMO_ENV)          # never touch a real account from the demo
    os.environ.pop("AWS_PROFILE", None)
    fmt = getattr(args, "output", None) or "text"
    console = console_for(env.stderr if fmt != "text" else env.stdout)
    _load()
    names = getattr(args, "scenario", None) or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        from ..errors import UsageError
        raise UsageError(f"unknown scenario {unknown[0]!r}", f"scenarios: {', '.join(SCENARIOS)}")
    started = time.monotonic()
    with MotoServer() as server:
        from ..changes.lookup import unpaced
        unpaced(server.url)              # not AWS: no LookupEvents quota to pace for
        console.print(Text(f"Embedded moto server on {server.url}; seeding {len(names)} scenario(s)…", style="muted"))
        cases = seed_all(server.url, names)
        if env.stdin_isatty and env.stdout_isatty and fmt == "text":  # a terminal: explore it in the REPL
            return _demo_repl(args, env, server.url, cases, console)
        entries = catalog.discover()
        playbooks = {pid: catalog.load(entries[pid]) for pid in dict.fromkeys(c.playbook for c in cases)}
        aws = Aws(AwsSettings(region="us-east-1", endpoint_url=server.url))  # one session: clients, cache

        def diagnose(case):
            return engine.run(playbooks[case.playbook], case.inputs, aws, changes=Request())

        # the runs are independent reads: run them side by side, print in order
        with ThreadPoolExecutor(max_workers=4) as pool:
            diagnoses = list(pool.map(diagnose, cases))
        mismatches = []
        results = []
        for case, diagnosis in zip(cases, diagnoses):
            got = sorted(f.check for f in diagnosis.findings)
            if got != sorted(case.expect):
                mismatches.append((case, got))
            if fmt == "json":  # one document for the whole demo, written below
                results.append(diagnosis.to_dict())
                continue
            if fmt == "text":
                console.print(Rule(Text(f"{case.note}", style="bold")))
            render(diagnosis.to_dict(), fmt, env.stdout)
            if fmt == "text":
                for finding in dict.fromkeys(f.check for f in diagnosis.findings):
                    console.print(Text.assemble(("  ", ""), (finding, "check-id"), (": " + sentence(case.playbook, finding),
                                                                                   "muted")))
                console.print()
        elapsed = time.monotonic() - started
    if fmt == "json":
        from ..render.json import render_json
        render_json(demo_document(results, mismatches, elapsed), env.stdout)
    console.print(Text(f"Demo: {len(cases)} playbook runs against seeded incidents in {elapsed:.1f} s. "
                       "Run `triage demo` in a terminal to explore these incidents interactively; "
                       "against your account: triage lambda-timeout --function NAME",
                       style="muted"))
    for case, got in mismatches:
        console.print(Text(f"unexpected result for {case.playbook} {case.inputs}: got {got}, expected {sorted(case.expect)}",
                           style="high"))
    return ExitStatus.FINDINGS if mismatches else ExitStatus.OK


def demo_document(diagnoses: list[dict], mismatches: list, seconds: float) -> dict:
    """`triage demo -o json`: {"demo": [diagnosis dicts, in scenario order],
    "fix_proofs": [{playbook, finding, method, proof}] for every finding shown,
    "mismatches": [{playbook, inputs, expected, got}], "seconds": s}."""
    from .proofs import load

    table, proofs = load(), {}
    for d in diagnoses:
        for f in d["findings"]:
            p = table.get(f"{d['playbook']}/{f['check']}")
            proofs[(d["playbook"], f["check"])] = {
                "playbook": d["playbook"], "finding": f["check"], "method": p.method if p else None,
                "proof": p.sentence() if p else "fix not proven yet"}
    return {"demo": diagnoses, "fix_proofs": list(proofs.values()),
            "mismatches": [{"playbook": case.playbook, "inputs": case.inputs, "expected": sorted(case.expect),
                            "got": got} for case, got in mismatches],
            "seconds": round(seconds, 2)}


def _demo_repl(args, env, url: str, cases: list, console) -> int:
    """The REPL connected to the embedded server, with the seeded incidents as suggestions."""
    from rich.text import Text

    from ..render.values import command_line_flags
    from ..repl import start

    console.print(Text("Seeded incidents, try:", style="muted"))
    for case in cases:
        flags = command_line_flags(case.inputs)
        console.print(Text(f"  {case.playbook} {flags}", style="bold"), Text(f"  # {case.note}", style="muted"))
    args.endpoint_url, args.region = url, "us-east-1"
    return start(args, env)
