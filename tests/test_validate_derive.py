"""`triage validate` types every expression against botocore's output shapes:
derived values (and what reads them), check texts, fix commands, step
regions, for_each items and entries, filters, pipes, scan and completion
queries. And a user folder is fully validated whatever its name: a folder
called `built-in` is not the shipped playbooks."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
id: demo-derive
title: Demo derive
summary: A small playbook with a derived value.
inputs:
  function:
    required: true
steps:
  config:
    call: lambda.GetFunctionConfiguration
    params:
      FunctionName: ${inputs.function}
derive:
  timeout_s: config.Timeout
checks:
  - id: short-timeout
    severity: low
    when: timeout_s < `10`
    title: Short timeout
    explanation: Timeout is ${timeout_s}
"""

LAYERS_STEP = """\
  layers:
    call: lambda.GetLayerVersionByArn
    for_each: config.Layers
    params:
      Arn: ${item.Arn}
derive:"""

FIX = """\
    fix:
      text: Raise the timeout.
      commands:
        - aws lambda update-function-configuration --function-name ${config.FunctionName} --timeout 30
        - aws lambda get-function --function-name ${config.FunctionName}
"""

SCAN = """\
scan:
  call: lambda.ListFunctions
  query: Functions[].FunctionName
  paginate: true
  input: function
steps:"""


def derive(extra: str) -> str:
    return BASE.replace("  timeout_s: config.Timeout\n", "  timeout_s: config.Timeout\n" + extra)


def when(expression: str, text: str = BASE) -> str:
    return text.replace("    when: timeout_s < `10`", f"    when: {expression}")


def line(text: str, needle: str) -> int:
    """The 1-based line of the one line holding `needle` (the offending expression)."""
    found = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    assert len(found) == 1, (needle, found)
    return found[0]


def no_field(shown: str, call: str, name: str) -> str:
    return f"'{shown}': {call} returns no field '{name}' there"


GFC = "lambda.GetFunctionConfiguration"
ITEM_HINT = "read a for_each step's entries as <step>[].item and <step>[].result"

# (name, playbook text, text on the offending line, message, hint)
CASES = [
    ("derive reads a misspelt field", BASE.replace("config.Timeout\n", "config.Timout\n"), "timeout_s: config.Timout",
     no_field("config.Timout", GFC, "Timout"), "did you mean 'Timeout'?"),
    ("derive reads a derive that is a path into a step",
     derive("  vpc: config.VpcConfig\n  subnets: vpc.SubnetIdz\n"), "subnets: vpc.SubnetIdz",
     no_field("vpc.SubnetIdz", GFC, "SubnetIdz"), "did you mean 'SubnetIds'?"),
    ("three derives deep, through an index",
     derive("  layers: config.Layers\n  first: layers[0]\n  size: first.CodeSiz\n"), "size: first.CodeSiz",
     no_field("first.CodeSiz", GFC, "CodeSiz"), "did you mean 'CodeSize'?"),
    ("derive reads a projection of a derive",
     derive("  layers: config.Layers[]\n  arns: layers[].Arnn\n"), "arns: layers[].Arnn",
     no_field("layers[].Arnn", GFC, "Arnn"), "did you mean 'Arn'?"),
    ("check `when` reads a derived value", when("length(vpc.SubnetIdz || `[]`) > `0`", derive("  vpc: config.VpcConfig\n")),
     "when: length(vpc.SubnetIdz", no_field("vpc.SubnetIdz", GFC, "SubnetIdz"), "did you mean 'SubnetIds'?"),
    ("evidence reads a derived value",
     derive("  vpc: config.VpcConfig\n") + "    evidence: {vpc_id: vpc.VpcIdd}\n", "vpc_id: vpc.VpcIdd",
     no_field("vpc.VpcIdd", GFC, "VpcIdd"), "did you mean 'VpcId'?"),
    ("title template reads a derived value",
     derive("  vpc: config.VpcConfig\n").replace("title: Short timeout", "title: Short timeout in ${vpc.VpcIdd}"),
     "title: Short timeout in", no_field("vpc.VpcIdd", GFC, "VpcIdd"), "did you mean 'VpcId'?"),
    ("explanation template reads a derived value",
     derive("  vpc: config.VpcConfig\n").replace("Timeout is ${timeout_s}", "Timeout is ${timeout_s} in ${vpc.VpcIdd}"),
     "explanation: Timeout is", no_field("vpc.VpcIdd", GFC, "VpcIdd"), "did you mean 'VpcId'?"),
    ("second fix command: its own line, not the `fix:` line",
     BASE + FIX.replace("get-function --function-name ${config.FunctionName}", "get-function --function-name ${config.FunctionNam}"),
     "get-function --function-name", no_field("config.FunctionNam", GFC, "FunctionNam"), "did you mean 'FunctionName'?"),
    ("fix text: its own line",
     BASE + FIX.replace("text: Raise the timeout.", "text: Raise the timeout above ${config.Timout} s."),
     "text: Raise the timeout above", no_field("config.Timout", GFC, "Timout"), "did you mean 'Timeout'?"),
    ("step region template",
     BASE.replace("derive:", "  layer:\n    call: lambda.GetLayerVersionByArn\n"
                  "    region: \"${arn_part(config.FunctionArnn, 'region')}\"\n"
                  "    params:\n      Arn: \"${config.Layers[0].Arn}\"\nderive:"),
     "region:", no_field("config.FunctionArnn", GFC, "FunctionArnn"), "did you mean 'FunctionArn'?"),
    ("for_each item has the type of the list's elements",
     BASE.replace("derive:", LAYERS_STEP.replace("${item.Arn}", "${item.Arnn}")), "Arn: ${item.Arnn}",
     no_field("item.Arnn", GFC, "Arnn"), "did you mean 'Arn'?"),
    ("for_each entries are {item, result}",
     BASE.replace("derive:", LAYERS_STEP + "\n  runtimes: layers[].reslt"), "runtimes: layers[].reslt",
     no_field("layers[].reslt", "lambda.GetLayerVersionByArn with for_each", "reslt"), "did you mean 'result'?"),
    ("for_each result has the call's output shape",
     BASE.replace("derive:", LAYERS_STEP + "\n  runtimes: layers[].result.CompatibleRuntime"),
     "runtimes: layers[].result", no_field("layers[].result.CompatibleRuntime", "lambda.GetLayerVersionByArn", "CompatibleRuntime"),
     "did you mean 'CompatibleRuntimes'?"),
    ("field inside a filter is a field of each element", when("length(config.Layers[?CodeSiz > `0`]) > `0`"),
     "when: length(config.Layers", no_field("config.Layers[].CodeSiz", GFC, "CodeSiz"), "did you mean 'CodeSize'?"),
    ("right side of a pipe", derive("  first_arn: config.Layers | [0].Arnn\n"), "first_arn:",
     no_field("config.Layers | [0].Arnn", GFC, "Arnn"), "did you mean 'Arn'?"),
    ("scan query reads the listing call's result", BASE.replace("steps:", SCAN.replace("FunctionName\n", "FunctionNme\n")),
     "query: Functions[].FunctionNme", no_field("Functions[].FunctionNme", "lambda.ListFunctions", "FunctionNme"),
     "did you mean 'FunctionName'?"),
    ("scan params are the listing call's parameters",
     BASE.replace("steps:", SCAN.replace("  paginate: true\n", "  params: {MaxItem: 50}\n")), "params: {MaxItem: 50}",
     "unknown parameter 'MaxItem' for lambda.ListFunctions", "did you mean 'MaxItems'?"),
    ("completion query reads the completion call's result",
     BASE.replace("    required: true\n", "    required: true\n"
                  "    complete: {call: lambda.ListFunctions, query: \"Functions[].FunctionNme\"}\n"),
     "complete:", no_field("Functions[].FunctionNme", "lambda.ListFunctions", "FunctionNme"), "did you mean 'FunctionName'?"),
    ("completion params are the completion call's parameters",
     BASE.replace("    required: true\n", "    required: true\n    complete:\n      call: lambda.ListFunctions\n"
                  "      params: {MaxItem: 50}\n      query: Functions[].FunctionName\n"),
     "params: {MaxItem: 50}", "unknown parameter 'MaxItem' for lambda.ListFunctions", "did you mean 'MaxItems'?"),
    ("`item` in a derived value is always null", derive("  first: item.Timeout\n"), "first: item.Timeout",
     "`item` is not defined in a derived value: it is only set in the params and region of a step with `for_each`",
     ITEM_HINT),
    ("`item` in a check is always null", when("item.Timeout < `10`"), "when: item.Timeout",
     "`item` is not defined in a check: it is only set in the params and region of a step with `for_each`",
     ITEM_HINT),
]


@pytest.mark.parametrize("name,text,needle,message,hint", CASES, ids=[c[0] for c in CASES])
def test_every_expression_is_checked_against_the_output_shape(tmp_path, name, text, needle, message, hint):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    r = run_cli("validate", str(path))
    assert "Traceback" not in r.out + r.err
    assert r.code == 2, r.out
    assert f"{path}:{line(text, needle)}: {message}\n    {hint}\n" in r.out, r.out
    assert r.out.count(f"{path}:") == 1, r.out   # that mistake, once, and nothing else


def test_derived_values_that_are_not_plain_paths_are_unknown_never_false_errors(tmp_path):
    """Only a plain path keeps a shape: functions, `||`, multiselects, maps,
    allow_errors' `error` and fan-outs over computed lists are never guessed.
    The one real typo is the only problem."""
    text = BASE.replace("    params:\n      FunctionName: ${inputs.function}\n",
                        "    params:\n      FunctionName: ${inputs.function}\n"
                        "    allow_errors: [ResourceNotFoundException]\n"
                        "  layers:\n    call: lambda.GetLayerVersionByArn\n"
                        "    for_each: unique(config.Layers[].Arn || `[]`)\n"
                        "    params:\n      Arn: ${item.Anything}\n") + \
        "    evidence:\n" \
        "      a: maybe_layers[0].Anything\n" \
        "      b: pair.Anything\n" \
        "      c: missing\n" \
        "      d: env_var.Anything\n" \
        "      e: layers[?!(error)].result.Content.Location\n" \
        "      f: count.Anything\n"
    text = text.replace("  timeout_s: config.Timeout\n",
                        "  timeout_s: config.Timeout\n"
                        "  maybe_layers: config.Layers || `[]`\n"
                        "  pair: \"config.{t: Timeout}\"\n"
                        "  missing: config.error.code\n"
                        "  env_var: config.Environment.Variables.DB_HOST\n"
                        "  count: length(config.Layers || `[]`)\n"
                        "  memory: config.MemorySiz\n")
    path = tmp_path / "tricky.yaml"
    path.write_text(text)
    r = run_cli("validate", str(path))
    assert "Traceback" not in r.out + r.err
    assert r.out == (f"{path}:{line(text, 'memory: config.MemorySiz')}: "
                     f"{no_field('config.MemorySiz', GFC, 'MemorySiz')}\n    did you mean 'MemorySize'?\n"), r.out
    assert r.code == 2


# --- a user folder called `built-in` is a user folder ------------------------------------

def _user_folder_named_built_in(tmp_path: Path, monkeypatch, text: str) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRIAGE_PLAYBOOK_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "built-in"
    folder.mkdir()
    (folder / "mine-check.yaml").write_text(text.replace("id: demo-derive", "id: mine-check"))
    return folder


def _run_mine(how: str, monkeypatch):
    # a closed port and one attempt: if the playbook ran, it would fail fast with exit 3, not 2
    run = ("mine-check", "--function", "orders-etl", "--endpoint-url", "http://127.0.0.1:9",
           "--max-attempts", "1", "--deadline", "10")
    if how == "env":
        monkeypatch.setenv("TRIAGE_PLAYBOOK_PATH", "built-in")
        return run_cli(*run)
    return run_cli(*run, "--playbooks", "built-in")


@pytest.mark.parametrize("how", ["env", "flag"])
def test_a_user_folder_named_built_in_gets_full_validation(tmp_path, monkeypatch, how):
    bad = BASE.replace("    when: timeout_s < `10`", "    when: config.Timout < `10`")
    _user_folder_named_built_in(tmp_path, monkeypatch, bad)
    r = _run_mine(how, monkeypatch)
    assert "Traceback" not in r.out + r.err
    assert r.code == 2, (r.out, r.err)
    where = Path("built-in") / "mine-check.yaml"
    assert (f"playbook error:\n{where}:{line(bad, 'when:')}: {no_field('config.Timout', GFC, 'Timout')}\n"
            "    did you mean 'Timeout'?\n") in r.err, r.err


@pytest.mark.parametrize("how", ["env", "flag"])
def test_a_user_folder_named_built_in_gets_the_schema_too(tmp_path, monkeypatch, how):
    """Skipping the schema let a broken user playbook reach the builder (an internal error)."""
    bad = BASE.replace("checks:", "chekcs:")
    _user_folder_named_built_in(tmp_path, monkeypatch, bad)
    r = _run_mine(how, monkeypatch)
    assert "internal error" not in r.err and "Traceback" not in r.out + r.err
    assert r.code == 2, (r.out, r.err)
    where = Path("built-in") / "mine-check.yaml"
    assert f"{where}:1: top level: missing required key 'checks'\n    add a `checks:` list\n" in r.err, r.err


def test_built_in_is_decided_by_the_package_location_not_a_name(tmp_path, monkeypatch):
    from triage import catalog

    folder = _user_folder_named_built_in(tmp_path, monkeypatch, BASE)
    entries = catalog.discover(["built-in"])
    mine = entries["mine-check"]
    assert mine.origin == str(folder) and mine.origin != "built-in"   # the label names the real folder
    assert catalog.is_builtin(mine.path) is False
    assert catalog.is_builtin(entries["lambda-timeout"].path) is True
    assert entries["lambda-timeout"].origin == "built-in"


# --- the shipped playbooks stay clean ------------------------------------------------------

def test_all_shipped_playbooks_still_validate():
    shipped = sorted(p for p in (ROOT / "playbooks").glob("*.yaml"))
    assert shipped
    r = run_cli("validate", str(ROOT / "playbooks"))
    assert r.code == 0, r.out
    assert "Traceback" not in r.out + r.err
    assert [ln.split(": ok (")[0] for ln in r.out.splitlines()] == [str(p) for p in shipped], r.out
