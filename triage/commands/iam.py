"""`triage iam simulate FILE`: evaluate one request against the policy documents
in a YAML or JSON file, offline (triage/iam/simulate.py, docs/iam-simulate.md).

Exit status: 0 allow, 1 deny, 2 a file that cannot be evaluated."""
from __future__ import annotations

from ..errors import ExitStatus
from . import command

SUBCOMMANDS = ("simulate",)


def _arguments(parser) -> None:
    parser.add_argument("subcommand", choices=SUBCOMMANDS, metavar="simulate",
                        help="simulate: decide one request against the policies in FILE, with no AWS call")
    parser.add_argument("file", metavar="FILE",
                        help="YAML or JSON file: request, identity, resource_policy, boundary, session_policy, "
                             "scps, rcps, vpc_endpoint_policy, resource_account (- reads standard input)")


@command("iam", "offline IAM what-if: `iam simulate FILE` decides one request against policy documents "
                "(exit 0 allow, 1 deny, 2 bad file)", arguments=_arguments)
def cmd_iam(args, env) -> int:
    from ..iam import simulate
    from .run import option

    fmt = option(args, "output", "text")
    try:
        sim = simulate.load(args.file)
    except simulate.SimulateFileError as exc:
        if fmt == "json":
            from ..render.json import render_json
            render_json(simulate.error_result(args.file, exc.problems), env.stdout)
        for problem in exc.problems:
            env.stderr.write(f"triage: {problem.file}{f':{problem.line}' if problem.line else ''}: "
                             f"{problem.message}\n")
            if problem.hint:
                env.stderr.write(f"  hint: {problem.hint}\n")
        return ExitStatus.USAGE
    decision = simulate.run(sim)
    data = simulate.result(sim, decision)
    if fmt == "json":
        from ..render.json import render_json
        render_json(data, env.stdout)
    else:
        env.stdout.write(simulate.render_text(data, markdown=fmt == "markdown"))
    return ExitStatus.OK if decision.allowed else ExitStatus.FINDINGS
