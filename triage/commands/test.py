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
    """Text: a line per case and a readable diff for each failure. JSON (-o json): one document,
    {"passed": n, "failed": n, "errors": [{target, file, message, problems}], "seconds": s,
     "cases": [{playbook, file, line, case, ok, ms, expected: {findings, unchecked}, got: {findings, unchecked},
                diff: {findings: {missing, unexpected}, unchecked: {missing, unexpected}}, problems: [text]}]}
    (a playbook without cases, or with an empty case file, is a failed entry whose case is null)."""
    from .. import casefile, playbook
    from .run import option

    started = time.perf_counter()
    report = (_JsonReport if option(args, "output", "text") == "json" else _TextReport)(env.stdout)
    for target in collect(args.targets, getattr(args, "playbooks", None)):
        try:
            pb = playbook.load(target.playbook, origin=target.origin) if target.playbook else None
        except PlaybookError as exc:
            report.error(target.label, target.playbook, f"{target.label}: the playbook does not validate", exc)
            continue
        cases_file = target.cases or (casefile.cases_path(target.playbook, pb.id) if target.playbook and pb else None)
        if cases_file is None or not cases_file.exists():
            report.no_cases(target, pb, cases_file)
            continue
        try:
            cases = casefile.load(cases_file)
        except casefile.CaseFileError as exc:
            report.error(target.label, cases_file, f"{cases_file}: not a valid case file", exc)
            continue
        if pb is None:
            try:
                pb = _playbook_for(cases, cases_file, getattr(args, "playbooks", None))
            except PlaybookError as exc:
                report.error(target.label, cases_file, f"{cases_file}: its playbook does not validate", exc)
                continue
        if cases.playbook != pb.id:
            report.error(target.label, cases_file,
                         f"{cases_file}: holds cases for playbook '{cases.playbook}', not '{pb.id}'", None)
            continue
        selected = [c for c in cases.cases if not args.match or args.match in c.name]
        report.start(pb.id, cases_file, len(selected))
        if not cases.cases:
            report.empty(pb.id, cases_file)
        for case in selected:
            report.outcome(pb.id, cases_file, casefile.run_case(pb, case))
    report.finish(time.perf_counter() - started)
    if report.errors:
        return ExitStatus.USAGE
    return ExitStatus.FINDINGS if report.failed else ExitStatus.OK


class _TextReport:
    """What `triage test` prints as it goes (the default)."""

    def __init__(self, out):
        self.out = out
        self.passed = self.failed = self.errors = 0

    def error(self, label: str, file, message: str, exc) -> None:
        from ..sanitize import clean
        self.errors += 1
        self.out.write(clean(f"ERROR {message}") + "\n" + (_indent(exc.message, 6) + "\n" if exc is not None else ""))

    def no_cases(self, target: Target, pb, cases_file) -> None:
        self.failed += 1
        wanted = cases_file or "tests/<id>.cases.yaml"
        self.out.write(f"FAIL  {target.label}: no test cases (expected {wanted})\n"
                       f"      write them, or record one: triage record {target.playbook} --input NAME=VALUE --name CASE\n")

    def start(self, pid: str, cases_file, count: int) -> None:
        self.out.write(f"{pid}  ({count} case{'s' if count != 1 else ''} in {cases_file})\n")

    def empty(self, pid: str, cases_file) -> None:
        self.failed += 1
        self.out.write("  FAIL  the case file has no cases\n")

    def outcome(self, pid: str, cases_file, outcome) -> None:
        from ..sanitize import clean
        case = outcome.case
        if outcome.passed:
            self.passed += 1
            found = ", ".join(outcome.got_findings) or "no findings"
            self.out.write(clean(f"  ok    {case.name}  [{found}]  {outcome.seconds * 1000:.0f} ms") + "\n")
        else:
            self.failed += 1
            self.out.write(clean(f"  FAIL  {case.name}  ({cases_file}:{case.line})") + "\n")
            for problem in outcome.problems:
                self.out.write(_indent(clean(problem), 8) + "\n")

    def finish(self, seconds: float) -> None:
        summary = f"{self.passed} passed, {self.failed} failed"
        if self.errors:
            summary += f", {self.errors} error{'s' if self.errors != 1 else ''}"
        self.out.write(f"{summary} in {seconds:.2f} s\n")


class _JsonReport:
    """The same results as one JSON document, written at the end (-o json)."""

    def __init__(self, out):
        self.out = out
        self.cases: list[dict] = []
        self.error_list: list[dict] = []

    @property
    def passed(self) -> int:
        return sum(c["ok"] for c in self.cases)

    @property
    def failed(self) -> int:
        return sum(not c["ok"] for c in self.cases)

    @property
    def errors(self) -> int:
        return len(self.error_list)

    def error(self, label: str, file, message: str, exc) -> None:
        from ..sanitize import clean
        from .playbooks import problem_dict
        problems = [problem_dict(p) for p in getattr(exc, "problems", None) or []]
        self.error_list.append({"target": label, "file": str(file) if file else None, "message": clean(message),
                                "problems": problems})

    def _entry(self, pid, cases_file, name, ok, problems, *, line=None, ms=None, expected=None, got=None) -> dict:
        expected = expected or {"findings": [], "unchecked": []}
        got = got or {"findings": [], "unchecked": []}

        def diff(key: str) -> dict:
            return {"missing": [x for x in expected[key] if x not in got[key]],
                    "unexpected": [x for x in got[key] if x not in expected[key]]}
        return {"playbook": pid, "file": str(cases_file) if cases_file else None, "line": line, "case": name,
                "ok": ok, "ms": ms, "expected": expected, "got": got,
                "diff": {"findings": diff("findings"), "unchecked": diff("unchecked")}, "problems": problems}

    def no_cases(self, target: Target, pb, cases_file) -> None:
        wanted = cases_file or "tests/<id>.cases.yaml"
        self.cases.append(self._entry(pb.id if pb else target.label, cases_file, None, False,
                                      [f"no test cases (expected {wanted}); write them, or record one: "
                                       f"triage record {target.playbook} --input NAME=VALUE --name CASE"]))

    def start(self, pid: str, cases_file, count: int) -> None:
        pass

    def empty(self, pid: str, cases_file) -> None:
        self.cases.append(self._entry(pid, cases_file, None, False, ["the case file has no cases"]))

    def outcome(self, pid: str, cases_file, outcome) -> None:
        from ..sanitize import clean
        case = outcome.case
        self.cases.append(self._entry(
            pid, cases_file, case.name, outcome.passed, [clean(p) for p in outcome.problems], line=case.line,
            ms=round(outcome.seconds * 1000, 1),
            expected={"findings": sorted(case.findings), "unchecked": sorted(case.unchecked)},
            got={"findings": sorted(outcome.got_findings), "unchecked": sorted(outcome.got_unchecked)}))

    def finish(self, seconds: float) -> None:
        from ..render.json import render_json
        render_json({"passed": self.passed, "failed": self.failed, "errors": self.error_list,
                     "seconds": round(seconds, 3), "cases": self.cases}, self.out)


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
