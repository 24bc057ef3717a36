"""`triage test [PLAYBOOK|DIR|CASES...]`: replay each playbook's recorded
test cases through the real engine, offline, and show a readable diff for
every expectation that does not hold."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExitStatus, PlaybookError, UsageError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("targets", nargs="*", metavar="PLAYBOOK|DIR",
                        help="playbook files or ids, folders of playbooks, or .cases.yaml files "
                             "(default: every playbook triage knows)")
    parser.add_argument("-k", dest="match", metavar="TEXT", help="only cases whose name contains TEXT")


@dataclass
class Target:
    """One playbook and its case file (either may be unknown until loaded)."""
    playbook: Path | None
    cases: Path | None
    label: str
    origin: str = "file"


@command("test", "run playbook test cases offline (recorded responses, expected findings)", arguments=_arguments)
def cmd_test(args, env) -> int:
    from .. import casefile, playbook
    from ..sanitize import clean

    started = time.perf_counter()
    out = env.stdout
    passed = failed = errors = 0
    for target in collect(args.targets, getattr(args, "playbooks", None)):
        try:
            pb = playbook.load(target.playbook, origin=target.origin) if target.playbook else None
        except PlaybookError as exc:
            out.write(f"ERROR {target.label}: the playbook does not validate\n{_indent(exc.message, 6)}\n")
            errors += 1
            continue
        cases_file = target.cases or (casefile.cases_path(target.playbook, pb.id) if target.playbook and pb else None)
        if cases_file is None or not cases_file.exists():
            wanted = cases_file or "tests/<id>.cases.yaml"
            out.write(f"FAIL  {target.label}: no test cases (expected {wanted})\n"
                      f"      write them, or record one: triage record {target.playbook} --input NAME=VALUE --name CASE\n")
            failed += 1
            continue
        try:
            cases = casefile.load(cases_file)
        except casefile.CaseFileError as exc:
            out.write(f"ERROR {cases_file}: not a valid case file\n{_indent(exc.message, 6)}\n")
            errors += 1
            continue
        if pb is None:
            try:
                pb = _playbook_for(cases, cases_file, getattr(args, "playbooks", None))
            except PlaybookError as exc:
                out.write(f"ERROR {cases_file}: its playbook does not validate\n{_indent(exc.message, 6)}\n")
                errors += 1
                continue
        if cases.playbook != pb.id:
            out.write(f"ERROR {cases_file}: holds cases for playbook '{cases.playbook}', not '{pb.id}'\n")
            errors += 1
            continue
        selected = [c for c in cases.cases if not args.match or args.match in c.name]
        out.write(f"{pb.id}  ({len(selected)} case{'s' if len(selected) != 1 else ''} in {cases_file})\n")
        if not cases.cases:
            out.write("  FAIL  the case file has no cases\n")
            failed += 1
        for case in selected:
            outcome = casefile.run_case(pb, case)
            if outcome.passed:
                passed += 1
                found = ", ".join(outcome.got_findings) or "no findings"
                out.write(clean(f"  ok    {case.name}  [{found}]  {outcome.seconds * 1000:.0f} ms") + "\n")
            else:
                failed += 1
                out.write(clean(f"  FAIL  {case.name}  ({cases_file}:{case.line})") + "\n")
                for problem in outcome.problems:
                    out.write(_indent(clean(problem), 8) + "\n")
    total = time.perf_counter() - started
    summary = f"{passed} passed, {failed} failed"
    if errors:
        summary += f", {errors} error{'s' if errors != 1 else ''}"
    out.write(f"{summary} in {total:.2f} s\n")
    if errors:
        return ExitStatus.USAGE
    return ExitStatus.FINDINGS if failed else ExitStatus.OK


def collect(targets: list[str], extra_dirs: list[str] | None) -> list[Target]:
    """Resolve the command-line targets to playbooks and case files."""
    from .. import casefile, catalog

    if not targets:
        return [Target(e.path, None, e.id, e.origin) for e in sorted(catalog.discover(extra_dirs).values(), key=lambda e: e.id)]
    found: list[Target] = []
    for t in targets:
        path = Path(t)
        if path.is_dir():
            playbooks = sorted(p for p in path.glob("*.y*ml") if not p.name.endswith(casefile.SUFFIX))
            if not playbooks:
                raise UsageError(f"{t}: no playbooks (*.yaml) in this folder")
            found += [Target(p, None, str(p)) for p in playbooks]
            known = {p.stem for p in playbooks}
            for orphan in sorted((path / "tests").glob(f"*{casefile.SUFFIX}")):
                if orphan.name[: -len(casefile.SUFFIX)] not in known:
                    found.append(Target(None, orphan, str(orphan)))
        elif path.name.endswith(casefile.SUFFIX) and path.is_file():
            found.append(Target(None, path, str(path)))
        elif path.is_file():
            found.append(Target(path, None, str(path)))
        else:
            entries = catalog.discover(extra_dirs)
            if t not in entries:
                from ..suggest import suggest
                guess = suggest(t, entries)
                raise UsageError(f"{t}: not a file, a folder or a known playbook id",
                                 f"did you mean {guess}?" if guess else "see `triage playbooks`")
            e = entries[t]
            found.append(Target(e.path, None, e.id, e.origin))
    return found


def _playbook_for(cases, cases_file: Path, extra_dirs: list[str] | None):
    """The playbook a case file names: beside its tests/ folder, else by id."""
    from .. import catalog, playbook

    for candidate in (cases_file.parent.parent / f"{cases.playbook}.yaml", cases_file.parent / f"{cases.playbook}.yaml"):
        if candidate.is_file():
            return playbook.load(candidate, origin="file")
    entries = catalog.discover(extra_dirs)
    if cases.playbook not in entries:
        raise PlaybookError([_problem(cases_file, f"no playbook '{cases.playbook}' beside this file or installed")])
    return catalog.load(entries[cases.playbook])


def _problem(path: Path, message: str):
    from ..errors import Problem
    return Problem(str(path), None, message, "put the case file in tests/ beside its playbook")


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())
