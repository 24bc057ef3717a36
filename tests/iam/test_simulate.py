"""`triage iam simulate FILE`: one request against the policies in a file, offline.
Exit 0 allow, 1 deny, 2 a file that cannot be evaluated (file:line, never a
traceback); `--output json` is the schema documented in docs/iam-simulate.md."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli
from triage.iam import simulate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "iam-simulate.yaml"
USER = "arn:aws:iam::111122223333:user/alice"
OBJECT = "arn:aws:s3:::amzn-s3-demo-bucket/photos/cat.jpg"
RESULT_KEYS = {"schema", "file", "request", "decision", "deny", "cross_account", "deciding", "reasons",
               "allowed_by", "near_misses", "notes", "errors"}
ALLOW_GET = {"Version": "2012-10-17", "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject",
                                                     "Resource": "*"}]}


def write(tmp_path: Path, doc, name: str = "sim.yaml") -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def request(**extra) -> dict:
    return {"principal": USER, "action": "s3:GetObject", "resource": OBJECT, **extra}


# --- decisions and exit codes ---------------------------------------------------------

def test_the_documented_example_allows_and_its_wrong_endpoint_twin_is_an_explicit_deny(tmp_path):
    r = run_cli("iam", "simulate", str(EXAMPLE))
    assert r.code == 0, r.err
    assert r.out.startswith("ALLOW  s3:GetObject on arn:aws:s3:::orders-data/reports/2026.csv")
    assert "identity policy ReadReports, statement ReadReports" in r.out
    twin = EXAMPLE.read_text().replace("aws:SourceVpce: vpce-1a2b3c4d\n", "aws:SourceVpce: vpce-9z8y7x6w\n")
    r = run_cli("iam", "simulate", write(tmp_path, twin), "--output", "json")
    assert r.code == 1
    data = json.loads(r.out)
    assert (data["decision"], data["deny"]) == ("deny", "explicit")
    assert data["deciding"] == [{"layer": "resource", "policy": "bucket policy of orders-data",
                                 "statement": "OnlyThroughTheEndpoint", "effect": "Deny"}]
    assert [r["code"] for r in data["reasons"]] == ["explicit-deny"]


def test_json_schema_is_stable(tmp_path):
    r = run_cli("iam", "simulate", write(tmp_path, {"request": request(), "identity": [ALLOW_GET]}), "-o", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert set(data) == RESULT_KEYS
    assert data["schema"] == "triage.iam.simulate/1" == simulate.SCHEMA
    assert data["request"] == {"principal": USER, "action": "s3:GetObject", "resource": OBJECT, "context": {}}
    assert (data["decision"], data["deny"], data["cross_account"], data["errors"]) == ("allow", None, False, [])
    assert data["deciding"] == [{"layer": "identity", "policy": "identity[0]", "statement": "Read", "effect": "Allow"}]
    assert data["allowed_by"] == [{"layer": "identity", "policy": "identity[0]", "statement": "Read",
                                   "effect": "Allow", "via": ""}]


def test_implicit_deny_names_every_layer_that_did_not_allow(tmp_path):
    doc = {"request": request(), "identity": [],
           "boundary": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]},
           "scps": [[{"name": "FullAWSAccess", "document": {"Version": "2012-10-17", "Statement": [
               {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}], [{"name": "Ec2Only", "document": {
                   "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}}]]}
    r = run_cli("iam", "simulate", write(tmp_path, doc), "--output", "json")
    assert r.code == 1
    data = json.loads(r.out)
    assert (data["decision"], data["deny"], data["deciding"]) == ("deny", "implicit", [])
    assert [x["code"] for x in data["reasons"]] == ["scp-no-allow", "no-identity-allow", "boundary-no-allow"]
    assert "Ec2Only (scps[1][0])" in data["reasons"][0]["policy"]


def test_text_output_shows_reasons_and_near_misses(tmp_path):
    doc = {"request": request(), "identity": [{"Version": "2012-10-17", "Statement": [
        {"Sid": "BucketOnly", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket"}]}]}
    r = run_cli("iam", "simulate", write(tmp_path, doc))
    assert r.code == 1
    assert r.out.startswith("DENY (implicit deny)  s3:GetObject")
    assert "[no-identity-allow]" in r.out and "Near misses" in r.out
    assert "add arn:aws:s3:::amzn-s3-demo-bucket/*" in r.out


def test_markdown_output(tmp_path):
    r = run_cli("iam", "simulate", write(tmp_path, {"request": request(), "identity": [ALLOW_GET]}), "-o", "markdown")
    assert r.code == 0 and r.out.startswith("## ALLOW") and "\n### Decided by\n- Allow" in r.out


def test_json_file_policy_as_json_string_and_named_policies(tmp_path):
    doc = {"request": request(context={"aws:SourceIp": "10.0.0.5", "aws:TagKeys": ["a", "b"]}),
           "identity": [json.dumps(ALLOW_GET), {"name": "named", "document": ALLOW_GET}]}
    r = run_cli("iam", "simulate", write(tmp_path, json.dumps(doc, indent="\t"), "sim.json"), "-o", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert [d["policy"] for d in data["deciding"]] == ["identity[0]", "named"]
    assert data["request"]["context"] == {"aws:SourceIp": "10.0.0.5", "aws:TagKeys": ["a", "b"]}


def test_get_caller_identity_note_and_kms_key_policy(tmp_path):
    r = run_cli("iam", "simulate", write(tmp_path, {"request": request(action="sts:GetCallerIdentity", resource="*"),
                                                    "identity": []}), "-o", "json")
    assert r.code == 0 and "cannot be denied" in json.loads(r.out)["notes"][0]
    key = "arn:aws:kms:us-east-1:111122223333:key/1234"
    doc = {"request": request(action="kms:Decrypt", resource=key), "identity": [
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]}
    r = run_cli("iam", "simulate", write(tmp_path, doc), "-o", "json")
    assert r.code == 1
    assert "key policy must allow the account" in json.loads(r.out)["reasons"][0]["message"]


def test_standard_input(monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(yaml.safe_dump({"request": request(), "identity": [ALLOW_GET]})))
    r = run_cli("iam", "simulate", "-")
    assert r.code == 0, r.err


# --- malformed files: exit 2, file:line, no traceback ---------------------------------

@pytest.mark.parametrize("text,line,message", [
    ("request: [unclosed\n", 2, "YAML syntax error"),
    ("- just\n- a list\n", 1, "must be a mapping"),
    ("identity: []\n", 1, "missing required key 'request'"),
    ("request: {principal: x, action: s3:GetObject}\n", 1, "missing required key 'identity'"),
    ("request: {principal: x, action: s3:GetObject}\nidentity: []\nresource_acount: '1'\n", 3,
     "unknown key 'resource_acount'"),
    ("request: {principal: x, action: GetObject}\nidentity: []\n", 1, "is not an IAM action"),
    ("request: {principal: x}\nidentity: []\n", 1, "request.action is required"),
    ("request: {principal: x, action: s3:GetObject}\nidentity:\n  - Statement:\n      - {Effect: allow, Action: '*', "
     "Resource: '*'}\n", 4, "Effect must be Allow or Deny"),
    ("request: {principal: x, action: s3:GetObject}\nidentity:\n  - Statement:\n      - {Effect: Allow, Actoin: '*', "
     "Resource: '*'}\n", 4, "did you mean"),
    ("request: {principal: x, action: s3:GetObject}\nidentity:\n  - Statement:\n      - {Effect: Allow, Action: '*'}\n",
     4, "needs Resource or NotResource"),
    ("request: {principal: x, action: s3:GetObject}\nidentity: []\nresource_policy:\n  Statement:\n"
     "    - {Effect: Allow, Action: '*', Resource: '*'}\n", 5, "needs Principal"),
    ("request: {principal: x, action: s3:GetObject}\nidentity:\n  - Statement:\n"
     "      - {Effect: Allow, Principal: '*', Action: '*', Resource: '*'}\n", 4, "not allowed in a identity policy"),
    ("request: {principal: x, action: s3:GetObject}\nidentity: []\nscps: [{Statement: []}]\n", 3, "list of levels"),
    ("request: {principal: x, action: s3:GetObject}\nidentity: ['{not json']\n", 2, "not a JSON policy document"),
    ("request: {principal: x, action: s3:GetObject}\nidentity: []\nresource_account: 12345\n", 3, "12-digit"),
    ("request: {principal: x, action: s3:GetObject, context: [a]}\nidentity: []\n", 1, "mapping of condition keys"),
    ("request: {principal: x, action: s3:GetObject}\nidentity:\n  - Statement:\n"
     "      - {Effect: Allow, Action: '*', Resource: '*', Condition: {StringEquals: x}}\n", 4, "Condition maps"),
    ("request: {principal: x, action: s3:GetObject}\nidentity:\n  - {Version: '2012-10-17', Statement: []}\n"
     "  - {Version: '2012-10-17', Statement: []}\nboundary: {Version: 2012-10-17, Statment: []}\n", 5, "Statement"),
])
def test_malformed_file_exits_2_with_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    r = run_cli("iam", "simulate", path)
    assert r.code == 2, r.out + r.err
    assert f"{path}:{line}: " in r.err, r.err
    assert message in r.err
    assert "Traceback" not in r.err and r.out == ""
    r = run_cli("iam", "simulate", path, "--output", "json")
    assert r.code == 2
    data = json.loads(r.out)
    assert set(data) == RESULT_KEYS and data["decision"] is None
    assert any(e["line"] == line and message in e["message"] + (e["hint"] or "") for e in data["errors"]), data["errors"]


def test_every_problem_is_reported_at_once(tmp_path):
    text = ("request: {principal: x, action: GetObject}\nidentity:\n  - Statement:\n"
            "      - {Effect: allow, Action: '*', Resource: '*'}\nscp: []\n")
    r = run_cli("iam", "simulate", write(tmp_path, text))
    assert r.code == 2
    assert r.err.count("triage: ") == 3 and "did you mean 'scps'?" in r.err


def test_invalid_json_file_names_the_line(tmp_path):
    path = write(tmp_path, '{\n\t"identity": [],\n\t"request": {"principal": "a",, "action": "s3:GetObject"}\n}\n',
                 "bad.json")
    r = run_cli("iam", "simulate", path)
    assert r.code == 2 and f"{path}:3: not valid JSON" in r.err, r.err


@pytest.mark.parametrize("argv,message", [
    (["iam", "simulate", "/nonexistent/sim.yaml"], "no such file"),
    (["iam", "simulate"], "the following arguments are required: FILE"),
    (["iam", "simulat", "x.yaml"], "invalid choice"),
])
def test_usage_errors_exit_2(argv, message):
    r = run_cli(*argv)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err


def test_a_directory_is_not_a_file(tmp_path):
    r = run_cli("iam", "simulate", str(tmp_path))
    assert r.code == 2 and "cannot read the file" in r.err


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
                     st.sampled_from(["Allow", "Deny", "*", "s3:GetObject", "2012-10-17", USER, OBJECT]))
_keys = st.sampled_from(["request", "identity", "Statement", "Effect", "Action", "Resource", "Condition", "principal",
                         "action", "resource", "context", "scps", "boundary", "Principal", "StringEquals", "document",
                         "name", "NotPrincipal", "resource_account", "x"])
_docs = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(_keys, inner, max_size=5)), max_leaves=15)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_docs)
def test_any_document_is_evaluated_or_refused_never_crashes(doc):
    try:
        sim = simulate.parse(doc, "fuzz.yaml")
    except simulate.SimulateFileError as exc:
        assert exc.problems
        return
    decision = simulate.run(sim)
    json.dumps(simulate.result(sim, decision))


def test_the_docs_describe_every_field_and_reason_code():
    import re

    docs = (ROOT / "docs" / "iam-simulate.md").read_text()
    for key in RESULT_KEYS:
        assert f'"{key}"' in docs, key
    source = (ROOT / "triage" / "iam" / "evaluate.py").read_text()
    codes = set(re.findall(r'"((?:[a-z]+-)+(?:allow|deny|failed|account))"', source)) - {"not-principal", "trust-no-allow"}
    assert codes and all(f"`{code}`" in docs for code in codes), sorted(c for c in codes if f"`{c}`" not in docs)
    assert "docs/examples/iam-simulate.yaml" in docs and EXAMPLE.exists()


def test_a_hostile_file_is_refused_quickly(tmp_path):
    deep = '{"request": ' + "[" * 5000 + "]" * 5000 + ', "identity": []}'
    r = run_cli("iam", "simulate", write(tmp_path, deep, "deep.json"))
    assert r.code == 2 and "nests deeper than" in r.err and "Traceback" not in r.err
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
    r = run_cli("iam", "simulate", write(tmp_path, bomb, "bomb.yaml"))
    assert r.code == 2 and "alias" in r.err and "Traceback" not in r.err
