"""`triage permissions [PLAYBOOK...]`: the least-privilege IAM policy that
lets triage run the given playbooks (all it knows by default), so a team can
hand it a read-only role."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ExitStatus, UsageError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("targets", nargs="*", metavar="PLAYBOOK", help="playbook ids or files (default: all)")
    parser.add_argument("--explain", action="store_true", help="list which playbook steps need each action")


@command("permissions", "print the least-privilege IAM policy for playbooks", arguments=_arguments)
def cmd_permissions(args, env) -> int:
    from .. import catalog, playbook
    from ..sanitize import clean

    extra = getattr(args, "playbooks", None)
    entries = catalog.discover(extra)
    books = []
    for t in args.targets or sorted(entries):
        if Path(t).is_file():
            books.append(playbook.load(t, origin="file"))
        elif t in entries:
            books.append(catalog.load(entries[t]))
        else:
            raise UsageError(f"{t}: not a playbook file or a known playbook id", "see `triage playbooks`")
    needs = actions_needed(books)
    if args.explain:
        width = max((len(a) for a in needs), default=0)
        for action, users in needs.items():
            env.stdout.write(clean(f"{action:<{width}}  {', '.join(users)}") + "\n")
        return ExitStatus.OK
    env.stdout.write(json.dumps(policy(needs), indent=2) + "\n")
    env.stderr.write(f"# {len(needs)} read-only actions for {len(books)} playbook(s). Resource \"*\" lets the "
                     "playbooks look at any resource; you may narrow it to the ARNs you want triage to see "
                     "(List*/Describe* actions generally need \"*\").\n")
    return ExitStatus.OK


def actions_needed(books) -> dict[str, list[str]]:
    """IAM action -> the playbook steps (and input completions) that need it, sorted."""
    from ..permissions import iam_action

    needs: dict[str, set[str]] = {}
    for pb in books:
        calls = [(s.service, s.operation, f"{pb.id}.{s.id}") for s in pb.steps.values()]
        calls += [(i.complete.service, i.complete.operation, f"{pb.id} --{i.name} completion")
                  for i in pb.inputs.values() if i.complete]
        scan = getattr(pb, "scan", None)   # `triage scan` lists the resources to run the playbook on
        if scan is not None and getattr(scan, "service", None):
            calls.append((scan.service, scan.operation, f"{pb.id} scan"))
        for service, operation, where in calls:
            action = iam_action(service, operation)
            if action:
                needs.setdefault(action, set()).add(where)
    return {a: sorted(needs[a]) for a in sorted(needs, key=str.lower)}


def policy(needs: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "TriageReadOnlyDiagnostics", "Effect": "Allow", "Action": list(needs), "Resource": "*"}]}
