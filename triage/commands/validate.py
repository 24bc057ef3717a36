from __future__ import annotations

from ..errors import ExitStatus, PlaybookError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE|DIR", help="playbook files, or folders of them")


def _expand(items: list[str]) -> list[str]:
    """A folder stands for its *.yaml playbooks (not its tests/ case files)."""
    from pathlib import Path

    out: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.glob("*.y*ml") if not p.name.endswith(".cases.yaml"))
            if not found:
                from ..errors import UsageError
                raise UsageError(f"{item}: no playbooks (*.yaml) in this folder")
            out += found
        else:
            out.append(item)
    return out


@command("validate", "validate playbook files (schema, JMESPath, botocore models, read-only)", arguments=_arguments)
def cmd_validate(args, env) -> int:
    """Text: one line per valid file, every problem of the others. JSON (-o json):
    {"valid": bool, "files": [{file, ok, id, steps, checks, depth, problems: [{file, line, message, hint}]}]}."""
    from .. import playbook
    from .playbooks import problem_dict
    from .run import option

    as_json = option(args, "output", "text") == "json"
    files = []
    for f in _expand(args.files):
        if f.endswith("errortext.yaml"):  # explain's generic data (other clouds' markers, SDK tables)
            from ..errortext import check_data
            problems = check_data(f)[1]
            files.append({"file": f, "ok": not problems, "id": None, "steps": None, "checks": None, "depth": None,
                          "problems": [problem_dict(p) for p in problems]})
            if not as_json:
                env.stdout.write("".join(f"{p.file}:{p.line}: {p.message}\n" for p in problems) or f"{f}: ok\n")
            continue
        try:
            pb = playbook.load(f, origin="file")
        except PlaybookError as exc:
            files.append({"file": f, "ok": False, "id": None, "steps": None, "checks": None, "depth": None,
                          "problems": [problem_dict(p) for p in exc.problems]
                          or [{"file": f, "line": None, "message": exc.message, "hint": exc.hint}]})
            if not as_json:
                env.stdout.write(exc.message + "\n")
            continue
        files.append({"file": f, "ok": True, "id": pb.id, "steps": len(pb.steps), "checks": len(pb.checks),
                      "depth": pb.step_depth(), "problems": []})
        warnings = shell_warnings(pb)
        if warnings:  # the key only when there are any
            files[-1]["warnings"] = [problem_dict(w) for w in warnings]
        if not as_json:
            env.stdout.write(f"{f}: ok ({pb.id}: {len(pb.steps)} steps, {len(pb.checks)} checks, "
                             f"dependency depth {pb.step_depth()})\n")
            for w in warnings:
                where = f"{w.file}:{w.line}" if w.line else w.file
                env.stdout.write(f"{where}: warning: {w.message}\n    hint: {w.hint}\n")
    valid = all(entry["ok"] for entry in files)
    if as_json:
        from ..render.json import render_json
        render_json({"valid": valid, "files": files}, env.stdout)
    return ExitStatus.OK if valid else ExitStatus.USAGE


def shell_warnings(pb) -> list:
    """Fix-command words the playbook leaves bare that bash or zsh would
    expand (a glob, brace, history or tilde character): triage quotes them
    when it prints the command, but the YAML then reads differently from
    what is printed. Warnings, not errors: the printed command is safe."""
    from .. import expr, yamlsrc
    from ..errors import Problem

    raw = pb.raw if isinstance(pb.raw, dict) else {}
    places = [(["subject", "commands", j], c) for j, c in enumerate((raw.get("subject") or {}).get("commands") or [])]
    for i, check in enumerate(raw.get("checks") or []):
        fix = (check.get("fix") or {}) if isinstance(check, dict) else {}
        places += [(["checks", i, "fix", "commands", j], c) for j, c in enumerate(fix.get("commands") or [])]
    out = []
    for path, command in places:
        if not isinstance(command, str):
            continue
        for word in dict.fromkeys(expr.glob_words(command)):
            out.append(Problem(str(pb.path), yamlsrc.line_of(raw, path),
                               f"{word!r} in a fix command would be expanded by the shell (glob, brace, "
                               "history or ~); triage prints it quoted",
                               f"quote it: '{word}'" if word != "!" else "move the '!' out of the double quotes"))
    return out
