"""Fuzzing what users hand to triage: playbook files (arbitrary text,
arbitrary YAML, and mutations of the shipped playbooks that get past the
parser into validation) and pasted error text for `explain`. Whatever comes
in, the answer is a Playbook or a PlaybookError naming the file: never
another exception, so never a traceback."""
from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli
from triage import catalog, playbook
from triage.errors import PlaybookError

SHIPPED = sorted(catalog.builtin_dir().glob("*.yaml"))
SHIPPED_TEXT = {p.name: p.read_text(encoding="utf-8") for p in SHIPPED}
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_or_reject(text: str, filename: str = "fuzz.yaml") -> None:
    """The property: a Playbook, or a PlaybookError whose problems name the file."""
    try:
        pb = playbook.loads(text, filename)
    except PlaybookError as exc:
        assert exc.problems, "a PlaybookError must say what is wrong"
        assert all(p.file == filename and p.message for p in exc.problems)
        assert exc.message
        return
    assert isinstance(pb, playbook.Playbook) and pb.id


# -- the shipped playbooks are the seeds of the mutations ------------------------------------

def test_shipped_playbooks_load():
    assert "lambda-timeout.yaml" in SHIPPED_TEXT
    for name, text in SHIPPED_TEXT.items():
        assert playbook.loads(text, name).id == name.removesuffix(".yaml")


# -- arbitrary text and arbitrary YAML -----------------------------------------------------------

YAML_NOISE = ["id:", "steps:", "checks:", "inputs:", "derive:", "call: ", "when: ", "  ", "- ", ": ", "${", "}",
              "`", "'", '"', "\n", "\t", "&a", "*a", "<<: *a", "!!python/object:os.system", "%YAML 1.1\n",
              "---\n", "...", "{", "[", "]", "#", "|\n", ">\n", "\x00", "\ufeff", "é", "?"]


@FUZZ
@given(st.text(max_size=400) | st.lists(st.sampled_from(YAML_NOISE) | st.text(max_size=4), max_size=60).map("".join))
def test_arbitrary_text_is_a_playbook_error(text: str):
    load_or_reject(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25)
TOP_KEYS = ["id", "title", "summary", "inputs", "steps", "derive", "checks", "triggers", "references", "tags"]


@FUZZ
@given(st.dictionaries(st.sampled_from(TOP_KEYS) | st.text(max_size=8), json_values, max_size=8))
def test_arbitrary_yaml_documents_are_a_playbook_error(doc: dict):
    load_or_reject(yaml.safe_dump(doc, allow_unicode=True))


# -- mutations of real playbooks: past the parser, into validation -------------------------------

def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _parent(doc, path):
    node = doc
    for key in path[:-1]:
        node = node[key]
    return node


EXPRESSIONS = ["config.Timeout", "`1` > `0`", "length(", "foo.bar[?", "${inputs.function}", "${nope}",
               "inputs.nope", "config.Timout", "lambda.DeleteFunction", "logs.FilterLogEvent", "iam.CreateUser",
               "!a.b", "a ||", "max(`[]`)", "ago_ms('24h')", "regex_match('(', 'x')", "${", "}", "\x1b[2J", ""]


@st.composite
def mutated_playbook(draw):
    name = draw(st.sampled_from(sorted(SHIPPED_TEXT)))
    doc = copy.deepcopy(yaml.safe_load(SHIPPED_TEXT[name]))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        action = draw(st.sampled_from(["delete", "replace", "expression", "rename"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "expression":
            parent[path[-1]] = draw(st.sampled_from(EXPRESSIONS))
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(EXPRESSIONS + ["steps", "when", "call", "needs"]))] = parent.pop(path[-1])
    return name, yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@FUZZ
@given(mutated_playbook())
def test_mutated_shipped_playbooks_are_a_playbook_error(case):
    name, text = case
    load_or_reject(text, name)


@st.composite
def edited_playbook_text(draw):
    """Edits a person makes to the file itself: a line deleted, duplicated,
    re-indented or cut off; text typed in the middle."""
    name = draw(st.sampled_from(sorted(SHIPPED_TEXT)))
    lines = SHIPPED_TEXT[name].splitlines(keepends=True)
    i = draw(st.integers(0, len(lines) - 1))
    edit = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "truncate", "insert"]))
    if edit == "delete":
        del lines[i]
    elif edit == "duplicate":
        lines.insert(i, lines[i])
    elif edit == "indent":
        lines[i] = "  " + lines[i]
    elif edit == "dedent":
        lines[i] = lines[i].lstrip()
    elif edit == "truncate":
        lines = lines[:i] + [lines[i][: draw(st.integers(0, len(lines[i])))]]
    else:
        at = draw(st.integers(0, len(lines[i])))
        lines[i] = lines[i][:at] + draw(st.sampled_from(YAML_NOISE) | st.text(max_size=6)) + lines[i][at:]
    return name, "".join(lines)


@FUZZ
@given(edited_playbook_text())
def test_hand_edited_shipped_playbooks_are_a_playbook_error(case):
    name, text = case
    load_or_reject(text, name)


# -- the same through the CLI: `validate` and the header-only listing ------------------------------

@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited_playbook_text() | mutated_playbook())
def test_validate_and_listing_never_print_a_traceback(case):
    name, text = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        entry = catalog._header(path, folder)        # what `triage --help` reads for user folders
        assert entry.id and (entry.error is None or isinstance(entry.error, str))
        r = run_cli("validate", str(path))
        assert r.code in (0, 2), (r.code, r.err)
        assert "Traceback" not in r.err + r.out and "internal error" not in r.err
        if r.code == 2:
            assert f"{path}" in r.err + r.out


# -- pasted error text: explain's parser and router -------------------------------------------------

ERROR_FRAGMENTS = [
    "An error occurred (AccessDenied) when calling the GetObject operation: ", "User: ",
    "arn:aws:sts::123456789012:assumed-role/app-role/i-0abc", " is not authorized to perform: ", "s3:GetObject",
    " on resource: ", "arn:aws:s3:::bucket/key", " because no identity-based policy allows the ", " action",
    " with an explicit deny in a service control policy", "Task timed out after ", "3.00", " seconds",
    "Function not found: ", "arn:aws:lambda:us-east-1:123456789012:function:orders-etl",
    "FATAL: sorry, too many clients already", "remaining connection slots are reserved",
    "Encoded authorization failure message: ", "\n", "\t", "\x1b[31m", '{"errorMessage": "', '"}', "é", "\x00",
]


@pytest.fixture(scope="module")
def routes():
    from triage.explain import route

    entries = catalog.discover()
    return lambda text: route(text, entries)


@FUZZ
@given(st.text(max_size=300) | st.lists(st.sampled_from(ERROR_FRAGMENTS) | st.text(max_size=5), max_size=30).map("".join))
def test_explain_routing_never_raises(routes, text: str):
    result = routes(text)
    assert result.routed_to is None or result.routed_to in catalog.discover()
    assert isinstance(result.reason, str) and isinstance(result.inputs, dict)
    assert all(isinstance(m, str) for m in result.missing)


def test_explain_routes_the_cheat_sheet_timeout(routes):
    result = routes("2026-11-22T16:23:41.000Z 1b2c Task timed out after 3.00 seconds")
    assert result.routed_to == "lambda-timeout"
