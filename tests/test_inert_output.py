"""Issue 11, item 4: output is inert whatever the content. Markdown code
spans cannot be closed by what they hold, every ${...} hole in a fix command
is quoted for the shell context it sits in, and playbook-supplied text is
stripped of terminal control sequences like AWS-supplied text."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli
from triage import expr
from triage.engine import _command
from triage.render.markdown import code

HOSTILE = ["$(touch PWNED)", "`touch PWNED`", "a\"b; touch PWNED", "it's; touch PWNED", "\\\"; touch PWNED #",
           "$HOME", "x'\"$(touch PWNED)\"'y"]


@pytest.mark.parametrize("template", [
    "printf '%s\\n' ${v}",                  # bare
    'printf \'%s\\n\' "${v}"',              # inside the template's own double quotes
    "printf '%s\\n' '${v}'",                # inside its own single quotes
    'printf \'%s\\n\' "pre ${v} post"',     # in the middle of a double-quoted word
])
@pytest.mark.parametrize("value", HOSTILE)
def test_every_hole_reaches_the_shell_as_data(tmp_path, template, value):
    command = expr.parse_template(template).render({"v": value}, quote=True)
    p = subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, (command, p.stderr)
    assert not (tmp_path / "PWNED").exists(), command
    expected = f"pre {value} post" if "pre " in template else value
    assert p.stdout == expected + "\n", command


def test_a_command_that_is_one_hole_yielding_a_string_is_one_quoted_word(tmp_path):
    command = _command("${join(' ', ['printf', v])}", {"v": "$(touch PWNED)"})
    assert command == "'printf $(touch PWNED)'"
    subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, timeout=10)
    assert not (tmp_path / "PWNED").exists()
    assert _command("${['printf', v]}", {"v": "$(touch PWNED)"}) == "printf '$(touch PWNED)'"


@pytest.mark.parametrize("text", ["a ``<script>alert(1)</script>`` b", "```", "x`y", "`lead", "trail`", "<img src=x onerror=alert(1)>"])
def test_markdown_code_spans_cannot_be_closed_by_their_content(text):
    span = code(text)
    fence = span[:len(span) - len(span.lstrip("`"))]
    inner = span[len(fence):len(span) - len(fence)]
    assert span.endswith(fence) and fence not in inner, span
    assert inner.strip(" ") == text


def test_playbook_titles_with_escape_sequences_are_printed_inertly(tmp_path: Path):
    (tmp_path / "evil.yaml").write_text(
        'id: evil\ntitle: "Evil \\x1b]0;pwned\\x07 title \\x1b[31mred"\nsummary: "s \\x1b[2J"\ninputs: {}\n'
        "steps:\n  me:\n    call: sts.GetCallerIdentity\nchecks:\n  - id: c\n    severity: low\n"
        '    when: "`false`"\n    title: t\n    explanation: e\n')
    for argv in (["--playbooks", str(tmp_path), "--help"], ["--playbooks", str(tmp_path), "playbooks"],
                 ["--playbooks", str(tmp_path), "evil", "--help"]):
        r = run_cli(*argv)
        assert r.code == 0, r.err
        assert "\x1b" not in r.out and "\x07" not in r.out, argv
        assert "Evil" in r.out and "title" in r.out


def test_notes_built_from_pasted_text_quote_what_they_took_from_it():
    import json
    import shlex
    r = run_cli("explain", "--no-run", "--output", "json",
                "User: arn:aws:sts::123456789012:assumed-role/reports-reader/run-1 is not authorized to perform: "
                "s3:GetObject on resource: arn:aws:s3:::b/k")
    note = next(n for n in json.loads(r.out)["notes"] if "aws iam get-role" in n)
    assert shlex.split(note[note.index("aws iam get-role"):]) == ["aws", "iam", "get-role", "--role-name", "reports-reader"]
