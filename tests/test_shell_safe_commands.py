"""Every fix command triage prints pastes into bash and zsh as it reads
(issue 16, item 2): no word a shell would glob, brace-, history- or
tilde-expand is left bare, `--query` values included. The commands are the
ones every shipped playbook prints for its recorded cases, replayed through
the engine; each is parsed by `bash -n` and `zsh -n`, then run by both
(with `aws` and any other program stubbed to print its arguments, zsh with
extendedglob as many users have it) and must give both the same words. A
machine without bash or zsh still checks every command with shlex and a
scan for bare glob and history characters."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import run_cli
from triage import casefile, catalog, engine, expr, playbook

SHELLS = [s for s in ("bash", "zsh") if shutil.which(s)]
GLOB = set("*?[]{}!^~#")
SEPARATORS = set(" \t\n;&|<>()")


@lru_cache(maxsize=1)
def fix_commands() -> tuple[tuple[str, str, str, str], ...]:
    """(playbook, case, finding, command) for every command printed by every recorded case."""
    out = []
    for pid, entry in sorted(catalog.discover().items()):
        path = casefile.cases_path(entry.path, pid)
        if not path.exists():
            continue
        pb = playbook.load(entry.path)
        for case in casefile.load(path).cases:
            with casefile.frozen_clock(case.recorded_at):
                data = engine.run(pb, case.inputs, casefile.ReplayAws(case)).to_dict()
            for f in data["findings"]:
                for cmd in (f.get("fix") or {}).get("commands") or []:
                    out.append((pid, case.name, f["check"], cmd))
    return tuple(out)


def unique_commands() -> list[str]:
    return sorted({c[3] for c in fix_commands()})


def expanded_chars(cmd: str) -> list[str]:
    """Characters of `cmd` that bash or zsh would expand: glob, brace,
    history, tilde (but a leading ~/), zsh's extended globs, a word-leading
    '=', outside quotes; and '!' inside double quotes (history in both)."""
    bad: list[str] = []
    state, word_start, i = None, True, 0
    while i < len(cmd):
        c = cmd[i]
        nxt = cmd[i + 1:i + 2]
        if state == "'":
            state = None if c == "'" else state
        elif state == '"':
            if c == "\\":
                i += 1
            elif c == '"':
                state = None
            elif c == "!":
                bad.append(f"'!' inside double quotes at {i}")
        elif c == "\\":
            i += 1
            word_start = False
        elif c in "'\"":
            state, word_start = c, False
        elif c == "$":
            i += len(re.match(r"\$(\{[^}]*\}|\w+|.)?", cmd[i:]).group(0))
            word_start = False
            continue
        elif c in SEPARATORS:
            word_start = True
        else:
            alone = word_start and (nxt == "" or nxt in SEPARATORS)
            if c in GLOB and not (alone and c in "{}!~") and not (c == "~" and word_start and nxt == "/"):
                bad.append(f"bare {c!r} at {i}")
            elif c == "=" and word_start:
                bad.append(f"word-leading '=' at {i}")
            word_start = False
        i += 1
    return bad


def test_every_shipped_playbook_prints_fix_commands_in_its_cases():
    assert {c[0] for c in fix_commands()} >= {"lambda-timeout", "rds-connections", "access-denied"}
    assert any("--query" in c for c in unique_commands())


@pytest.mark.parametrize("cmd", unique_commands())
def test_no_printed_fix_command_leaves_a_word_for_the_shell_to_expand(cmd):
    argv = shlex.split(cmd, posix=True)          # one readable command line
    assert argv and not re.search(r"\s", argv[0]), f"the program is not a word of its own: {cmd}"
    assert expanded_chars(cmd) == [], cmd


@pytest.mark.skipif(not SHELLS, reason="neither bash nor zsh is installed: the tokenizer test above stands in")
@pytest.mark.parametrize("shell", SHELLS)
def test_every_fix_command_parses_in_bash_and_zsh(shell):
    bad = {}
    for cmd in unique_commands():
        p = subprocess.run([shell, "-n", "-c", cmd], capture_output=True, text=True, timeout=30)
        if p.returncode or p.stderr:
            bad[cmd] = p.stderr.strip()
    assert not bad, bad


# Every program writes its arguments to $ARGS_LOG instead of running, and
# answers one plain word (for loops over its output); $PLACEHOLDERS get a value.
STUB = "{ printf '<%s>\\n' \"$@\" >> \"$ARGS_LOG\"; echo us-east-1; }\n"
PRELUDE = {
    "bash": "shopt -s failglob\naws() { set -- aws \"$@\"; " + STUB[2:] + "command_not_found_handle() " + STUB,
    "zsh": "setopt extendedglob nomatch\naws() { set -- aws \"$@\"; " + STUB[2:] + "command_not_found_handler() " + STUB,
}


def _run(shell: str, cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LC_ALL": "C", "ARGS_LOG": str(cwd / "args.log")}
    (cwd / "args.log").write_text("")
    for name in re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", cmd):
        env[name] = f"placeholder-{name.lower()}"
    return subprocess.run([shell, "-c", PRELUDE[shell] + cmd], capture_output=True, text=True, timeout=30,
                          cwd=cwd, env=env)


@pytest.mark.skipif(len(SHELLS) < 2, reason="needs both bash and zsh (.ci/run installs zsh when it can)")
def test_every_fix_command_runs_in_bash_and_zsh_with_the_same_words(tmp_path):
    # bash's failglob and zsh's nomatch make a bare glob an error ("no matches found"), not a silent word
    differ = {}
    for cmd in unique_commands():
        words = {}
        for shell in SHELLS:
            cwd = tmp_path / shell
            cwd.mkdir(exist_ok=True)
            run = _run(shell, cmd, cwd)
            assert run.returncode == 0 and run.stderr == "", (shell, cmd, run.stderr)
            words[shell] = (cwd / "args.log").read_text()
        assert words["bash"].startswith("<"), (cmd, words)
        if words["bash"] != words["zsh"]:
            differ[cmd] = words
    assert not differ, differ


# --- the renderer: the template's own words ---------------------------------------

@pytest.mark.parametrize("template,context,expected", [
    ("aws rds describe-db-proxies --db-proxy-name ${name} --query DBProxies[0].Endpoint", {"name": "orders-db-proxy"},
     "aws rds describe-db-proxies --db-proxy-name orders-db-proxy --query 'DBProxies[0].Endpoint'"),
    # already quoted, and placeholders meant to expand, are left as written
    ("aws iam list-roles --query 'Roles[].RoleName'", {}, "aws iam list-roles --query 'Roles[].RoleName'"),
    ('aws ec2 create-nat-gateway --subnet-id "$PUBLIC_SUBNET_ID" --x $IDS ${HOME_DIR}', {"HOME_DIR": "h"},
     'aws ec2 create-nat-gateway --subnet-id "$PUBLIC_SUBNET_ID" --x $IDS h'),
    ("for r in $(aws ec2 describe-regions --query Regions[].RegionName); do echo \"$r\"; done", {},
     "for r in $(aws ec2 describe-regions --query 'Regions[].RegionName'); do echo \"$r\"; done"),
    # a word half template text, half value: only the text part needs quotes
    ("aws x --query Items[?n=='${n}'].id", {"n": 3}, "aws x --query 'Items[?n==''3''].id'"),
    ("aws s3 ls s3://${bucket}/logs/* ~/out.txt ~x a{b,c} ^x #x =x", {"bucket": "b"},
     "aws s3 ls s3://b'/logs/*' ~/out.txt '~x' 'a{b,c}' '^x' '#x' '=x'"),
    # history: '!' in the template's "..." and in a value there
    ('echo "done! ${msg}"', {"msg": "ok!"}, 'echo "done"\'!\'" ok"\'!\'""'),
    ("aws x --name ${name}", {"name": "=cmd"}, "aws x --name '=cmd'"),
])
def test_rendering_quotes_the_words_a_shell_would_expand(template, context, expected):
    assert engine._command(template, context) == expected


def test_a_command_spelled_out_as_a_string_literal_is_command_text_not_one_word():
    template = "${missing && 'aws rds describe-db-instances --query DBInstances[].DBInstanceIdentifier' || `null`}"
    assert engine._command(template, {"missing": True}) == \
        "aws rds describe-db-instances --query 'DBInstances[].DBInstanceIdentifier'"
    assert engine._command(template, {"missing": False}) is None
    # a value from AWS is still one quoted word, whatever it says
    assert engine._command("${name}", {"name": "aws x; rm *"}) == "'aws x; rm *'"


def test_glob_words_lists_the_template_text_that_needed_quotes():
    assert expr.glob_words("aws x --query A[0].B --y '${a}' \"$B\" --z a*${b} ~/f") == ["A[0].B", "a*"]


def test_validate_warns_about_a_fix_command_word_that_would_glob(tmp_path):
    src = Path(__file__).resolve().parent.parent / "playbooks" / "lambda-timeout.yaml"
    text = src.read_text()
    book = tmp_path / "globby.yaml"
    marker = "aws lambda update-function-configuration"
    assert marker in text
    lines = text.splitlines()
    line = next(i for i, ln in enumerate(lines, 1) if marker in ln)
    lines[line - 1] = lines[line - 1].replace(marker, marker + " --query Functions[0]", 1)
    book.write_text("\n".join(lines).replace("id: lambda-timeout", "id: globby") + "\n")
    r = run_cli("validate", str(book))
    assert r.code == 0, r.out + r.err
    assert f"{book}:{line}: warning: 'Functions[0]' in a fix command would be expanded by the shell" in r.out
    assert "hint: quote it: 'Functions[0]'" in r.out
    r = run_cli("validate", "-o", "json", str(book))
    import json
    warnings = json.loads(r.out)["files"][0]["warnings"]
    assert warnings[0]["line"] == line and "Functions[0]" in warnings[0]["message"]


# =====================================================================================
# Shell leftovers (issue 16, item 2; h/posture): a placeholder that holds several
# words, and --query values with backticks or JMESPath's own operators.
# =====================================================================================

def _bare_placeholders(template: str) -> list[str]:
    """$NAME / ${NAME} of a template's own text that are outside any quotes:
    bash splits their value into words, zsh does not."""
    found, state, i = [], None, 0
    for part in expr.parse_template(template).parts:
        if not isinstance(part, str):
            continue
        i = 0
        while i < len(part):
            c = part[i]
            if state == "'":
                state = None if c == "'" else state
            elif c == "\\":
                i += 1
            elif state == '"':
                state = None if c == '"' else state
            elif c in "'\"":
                state = c
            elif c == "$":
                m = re.match(r"\$(\{[A-Za-z_]\w*\}|[A-Za-z_]\w*)", part[i:])
                if m:
                    found.append(m.group(0))
                    i += len(m.group(0))
                    continue
            i += 1
    return found


def _fix_templates() -> list[tuple[str, str, str]]:
    out = []
    for pid, entry in sorted(catalog.discover().items()):
        book = playbook.load(entry.path)
        for check in book.checks:
            out += [(pid, check.id, t) for t in check.fix_commands]
    return out


def test_no_fix_command_template_leaves_a_placeholder_to_word_splitting():
    # `--vpc-subnet-ids $SUBNET_IDS` is several IDs in bash and one word in zsh
    bare = {f"{pid}/{check}": _bare_placeholders(t) for pid, check, t in _fix_templates() if _bare_placeholders(t)}
    assert bare == {}, "quote each placeholder (\"$X\"), one value per variable, or a comma form inside one word"
    assert _bare_placeholders('aws x --ids $IDS "$ONE" a="$TWO" \'$THREE\' ${p}') == ["$IDS"]


def _words(shell: str, cmd: str, cwd: Path, values: dict[str, str]) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LC_ALL": "C", "ARGS_LOG": str(cwd / "args.log"), **values}
    (cwd / "args.log").write_text("")
    run = subprocess.run([shell, "-c", PRELUDE[shell] + cmd], capture_output=True, text=True, timeout=30,
                         cwd=cwd, env=env)
    assert run.returncode == 0 and run.stderr == "", (shell, cmd, run.stderr)
    return (cwd / "args.log").read_text()


@pytest.mark.skipif(len(SHELLS) < 2, reason="needs both bash and zsh (.ci/run installs zsh when it can)")
def test_a_placeholder_holding_several_words_gives_the_same_words_in_bash_and_zsh(tmp_path):
    commands = [c for c in unique_commands() if re.search(r"\$\{?[A-Z_][A-Z0-9_]*", c)]
    assert any("--vpc-subnet-ids" in c for c in commands)
    differ = {}
    for cmd in commands:
        values = {name: f"{name.lower()} second-word" for name in re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", cmd)}
        words = {}
        for shell in SHELLS:
            (tmp_path / shell).mkdir(exist_ok=True)
            words[shell] = _words(shell, cmd, tmp_path / shell, values)
        if words["bash"] != words["zsh"]:
            differ[cmd] = words
    assert not differ, differ
    # the proxy's subnets: the database's own, one quoted JSON list, one word in both shells
    proxy = next(c for c in commands if "create-db-proxy" in c)
    (tmp_path / "zsh").mkdir(exist_ok=True)
    log = _words("zsh", proxy, tmp_path / "zsh", {"DB_SECRET_ARN": "s", "PROXY_ROLE_ARN": "r"})
    assert re.search(r'<--vpc-subnet-ids>\n<\["subnet-[0-9a-f]+"(, ?"subnet-[0-9a-f]+")+\]>\n<--vpc-security-group-ids>', log), log


QUERIES = [
    # template, what it renders to, the --query word the AWS CLI must get
    ("aws x --query A[?b==`1`].c", "aws x --query 'A[?b==`1`].c'", "A[?b==`1`].c"),
    ('aws x --query "A[?b==`1`]"', 'aws x --query "A[?b==\\`1\\`]"', "A[?b==`1`]"),
    ("aws x --query A|[0]", "aws x --query 'A|[0]'", "A|[0]"),
    ("aws x --query length(A)", "aws x --query 'length(A)'", "length(A)"),
    ("aws x --query sort_by(A,&Name)[-1].Name", "aws x --query 'sort_by(A,&Name)[-1].Name'", "sort_by(A,&Name)[-1].Name"),
    ("aws x --query A[?n>`3`]", "aws x --query 'A[?n>`3`]'", "A[?n>`3`]"),
    ("aws x --query=length(A)|[0]", "aws x --query='length(A)|[0]'", "--query=length(A)|[0]"),
    ("aws x --query SummaryMap.AccountMFAEnabled", "aws x --query SummaryMap.AccountMFAEnabled",
     "SummaryMap.AccountMFAEnabled"),
    # the command substitution's own parenthesis still closes it
    ("for r in $(aws x --query length(A)); do echo \"$r\"; done",
     "for r in $(aws x --query 'length(A)'); do echo \"$r\"; done", "length(A)"),
    # a value inside the template's own '...'
    ("aws x --query A[?n=='${n}'] | head", "aws x --query 'A[?n==''`1`'']' | head", "A[?n==`1`]"),
]


@pytest.mark.parametrize("template,rendered,word", QUERIES)
def test_a_query_with_backticks_or_jmespath_operators_is_quoted(template, rendered, word):
    assert engine._command(template, {"n": "`1`"}) == rendered
    assert expanded_chars(rendered) == []


def test_a_value_or_a_spelled_out_command_with_backticks_is_quoted_too():
    assert engine._command("aws x --query ${q}", {"q": "A[?b==`1`]"}) == "aws x --query 'A[?b==`1`]'"
    assert engine._command("aws x --query \"${q}\"", {"q": "A[?b==`1`]"}) == 'aws x --query "A[?b==\\`1\\`]"'
    assert engine._command("${c && 'aws x --query length(A[?b==`1`])' || `null`}", {"c": True}) == \
        "aws x --query 'length(A[?b==`1`])'"
    assert expr.glob_words("aws x --query A[?b==`1`] --y length(B)") == ["A[?b==`1`]"]


@pytest.mark.skipif(not SHELLS, reason="no shell to run the commands in")
@pytest.mark.parametrize("shell", SHELLS)
def test_the_quoted_queries_reach_the_aws_cli_as_written(shell, tmp_path):
    for template, rendered, word in QUERIES:
        log = _words(shell, rendered, tmp_path, {})
        assert f"<{word}>" in log.splitlines(), (shell, rendered, log)
