"""The IAM evaluator as seen from playbooks: plain JSON in (what the IAM,
S3, Organizations... calls returned), plain JSON out (decisions, reasons,
near misses, corrected policies). Registered as JMESPath functions in
triage/expr.py, so the access-denied playbook stays declarative."""
from __future__ import annotations

import copy
import json
import re
from dataclasses import asdict
from typing import Any

from .evaluate import Policy, PolicyError, Request, evaluate, evaluate_trust

_ROLE = re.compile(r"^arn:(?P<p>[^:]+):iam::(?P<acct>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$")
_USER = re.compile(r"^arn:(?P<p>[^:]+):iam::(?P<acct>\d{12}):user/(?:.*/)?(?P<name>[^/]+)$")
_SESSION = re.compile(r"^arn:(?P<p>[^:]+):sts::(?P<acct>\d{12}):assumed-role/(?P<name>[^/]+)/(?P<session>.+)$")


def principal_ref(ref: str | None) -> dict:
    """What a --principal value names: {kind: role|user|unknown, name, arn, account, session}."""
    ref = (ref or "").strip()
    for kind, pattern in (("role", _ROLE), ("user", _USER), ("role", _SESSION)):
        m = pattern.match(ref)
        if m:
            d = m.groupdict()
            return {"kind": kind, "name": d["name"], "account": d["acct"], "session": d.get("session"),
                    "arn": ref if pattern is not _SESSION else None}
    return {"kind": "unknown", "name": ref.rsplit("/", 1)[-1], "account": None, "session": None, "arn": None}


def _policy(spec: Any, kind: str) -> Policy | None:
    if not spec or not isinstance(spec, dict) or not spec.get("document"):
        return None
    try:
        return Policy(spec["document"], kind=kind, name=str(spec.get("name") or ""), source=str(spec.get("source") or ""))
    except PolicyError:
        return None


def evaluate_requests(spec: dict) -> list[dict]:
    """One decision per action in spec['actions'] (see the access-denied playbook)."""
    identity = [p for p in (_policy(s, "identity") for s in spec.get("identity") or []) if p]
    scps = spec.get("scps")
    scp_levels = None
    if scps:
        scp_levels = [[p for p in (_policy(s, "scp") for s in level or []) if p] for level in scps]
    out = []
    for action in spec.get("actions") or []:
        request = Request(spec["principal"], action, spec.get("resource") or "*", dict(spec.get("context") or {}))
        d = evaluate(request, identity, resource_policy=_policy(spec.get("resource_policy"), "resource"),
                     resource_account=spec.get("resource_account"), boundary=_policy(spec.get("boundary"), "permissions-boundary"),
                     session=_policy(spec.get("session"), "session"), scps=scp_levels)
        out.append({"action": action, "allowed": d.allowed, "codes": d.codes,
                    "reasons": [asdict(r) for r in d.reasons],
                    "allowed_by": [asdict(m) for m in d.allowed_by],
                    "near_misses": [_near(n) for n in d.near_misses]})
    return _plain(out)


def _plain(value: Any) -> Any:
    """JMESPath only knows JSON types: tuples become lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _near(n) -> dict:
    d = asdict(n)
    d["conditions"] = [c["message"] if isinstance(c, dict) else str(c) for c in d.get("conditions", [])]
    return d


def trust_decision(trust_document: Any, principal: str, role_arn: str | None = None) -> dict:
    try:
        policy = Policy(trust_document, kind="trust", name="trust policy")
    except PolicyError as exc:
        return {"allowed": False, "reasons": [{"code": "trust-invalid", "message": str(exc)}], "trusted": []}
    d = evaluate_trust(policy, principal, role_arn=role_arn)
    trusted = []
    for _, stmt in policy.statements():
        if stmt.get("Effect") == "Allow" and isinstance(stmt.get("Principal"), dict):
            for values in stmt["Principal"].values():
                trusted += values if isinstance(values, list) else [values]
    return _plain({"allowed": d.allowed, "reasons": [asdict(r) for r in d.reasons], "trusted": trusted})


def trust_with_service(trust_document: Any, service: str) -> dict:
    """The trust policy with one more statement letting `service` assume the role."""
    doc = copy.deepcopy(_as_doc(trust_document)) or {"Version": "2012-10-17", "Statement": []}
    statements = doc.get("Statement")
    statements = statements if isinstance(statements, list) else [statements] if statements else []
    statements.append({"Sid": "Allow" + re.sub(r"[^A-Za-z0-9]", "", service.split(".")[0].title()) + "ToAssume",
                       "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})
    doc["Statement"] = statements
    return doc


def _as_doc(document: Any) -> dict | None:
    if isinstance(document, str):
        try:
            return json.loads(document)
        except ValueError:
            return None
    return document if isinstance(document, dict) else None


_S3_OBJECT_ACTION = re.compile(r"Object|MultipartUploadParts|AbortMultipartUpload|RestoreObject", re.I)
_S3_ARN = re.compile(r"^(arn:[^:]+:s3:::)([^/]+)(/.*)?$")


def _s3_split(actions: list[str], resource: str) -> tuple[str, str, list[str], list[str]] | None:
    """(bucket ARN, object resource, bucket-level actions, object-level actions) for S3 requests."""
    m = _S3_ARN.match(resource or "")
    if not m or not actions or not all(a.lower().startswith("s3:") for a in actions):
        return None
    bucket = m.group(1) + m.group(2)
    objects = [a for a in actions if _S3_OBJECT_ACTION.search(a.split(":", 1)[1])]
    buckets = [a for a in actions if a not in objects]
    # The object the request names, exactly; only a bare bucket ARN leaves "its objects".
    obj = resource if m.group(3) and m.group(3) != "/" else bucket + "/*"
    return bucket, obj, buckets, objects


def s3_two_statement(actions: list[str], resource: str) -> list[dict] | None:
    """The seed's pattern: bucket-level actions on arn:aws:s3:::bucket, object-level actions on the
    object the request names (arn:aws:s3:::bucket/key; bucket/* only when no object was named)."""
    split = _s3_split(actions, resource)
    if split is None:
        return None
    bucket, obj, buckets, objects = split
    out = []
    if buckets:
        out.append({"Sid": "BucketLevel", "Effect": "Allow", "Action": sorted(buckets), "Resource": bucket})
    if objects:
        out.append({"Sid": "ObjectLevel", "Effect": "Allow", "Action": sorted(objects), "Resource": obj})
    return out


class FixNotMinimal(ValueError):
    """A computed fix that the evaluator says does not grant the request, or grants more."""


def least_privilege(actions: list[str], resource: str) -> dict:
    """A new policy granting exactly these actions on exactly this resource (S3: the two-statement
    pattern). Before it is returned it goes through the evaluator (verify_grant): it must allow
    every requested action on its resource and nothing else that was sampled; otherwise
    FixNotMinimal is raised and no fix is printed."""
    actions = sorted(set(actions or []))
    statements = s3_two_statement(actions, resource) or [
        {"Sid": "TriageFix", "Effect": "Allow", "Action": actions if len(actions) > 1 else actions[0] if actions else [],
         "Resource": resource}]
    policy = {"Version": "2012-10-17", "Statement": statements}
    problems = verify_grant(policy, actions, resource)
    if problems:
        raise FixNotMinimal("the least-privilege fix did not pass the evaluator: " + "; ".join(problems[:3]))
    return policy


def grant_targets(actions: list[str], resource: str) -> list[tuple[str, str]]:
    """(action, resource) pairs as AWS authorizes them: for S3, bucket-level actions on the
    bucket ARN and object-level actions on the object."""
    split = _s3_split(actions, resource)
    if split is None:
        return [(a, resource) for a in actions]
    bucket, obj, buckets, objects = split
    return [(a, bucket) for a in buckets] + [(a, obj) for a in objects]


_VERBS = ("Get", "Put", "Delete", "List", "Create", "Update", "Describe", "Tag", "Untag", "Start", "Stop")


def sibling_actions(action: str) -> list[str]:
    """Other actions of the same service, as probes: other verbs on the same noun, longer names."""
    service, _, name = action.partition(":")
    noun = re.sub(r"^[A-Z][a-z]+", "", name) or name
    names = {f"{verb}{noun}" for verb in _VERBS} | {f"{name}Acl", f"{name}s", f"{name}Version", "Other"}
    return sorted(f"{service}:{n}" for n in names if n.lower() != name.lower())


def sibling_resources(resource: str) -> list[str]:
    """Resources next to ``resource`` that a grant of exactly ``resource`` must not reach."""
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return [] if resource == "*" else [resource + "-other"]
    out = []
    if re.fullmatch(r"\d{12}", parts[4]):
        out.append(":".join(parts[:4] + ["999999999999", parts[5]]))
    if parts[3] and "*" not in parts[3] and "?" not in parts[3]:
        out.append(":".join(parts[:3] + ["xx-other-1"] + parts[4:]))
    rest = parts[5]
    out.append(":".join(parts[:5] + ["other-" + rest]))
    m = _S3_ARN.match(resource)
    if m:
        out.append(f"{m.group(1)}{m.group(2)}-other{m.group(3) or ''}")
    if "*" not in rest and "?" not in rest:
        out += [resource + "-other", resource + "/other", resource[:-1] + ("x" if resource[-1] != "x" else "y")]
        if m and m.group(3):
            out.append(f"{m.group(1)}{m.group(2)}")  # the bucket itself, for an object grant
    return [r for r in out if r != resource]


def verify_grant(policy: dict, actions: list[str], resource: str) -> list[str]:
    """What is wrong with ``policy`` as a grant of exactly ``actions`` on ``resource``, decided
    by the evaluator: every target (action, resource) allowed, every sibling action on the
    targets and every requested action on sibling resources not allowed."""
    from .match import arn_account

    if not actions:
        return []
    account = arn_account(resource) or "123456789012"
    principal = f"arn:aws:iam::{account}:user/triage-verify"
    fix = Policy(policy, kind="identity", name="fix")
    # A resource policy that only delegates to identity-based policies (KMS key policies
    # must): the decision is then the fix's alone.
    delegate = Policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "*", "Resource": "*"}]},
        kind="resource", name="delegation")

    def allowed(action: str, res: str) -> bool:
        return evaluate(Request(principal, action, res), [fix], resource_policy=delegate).allowed

    problems = []
    targets = grant_targets(actions, resource)
    asked = {a.lower() for a in actions}
    for action, res in targets:
        if not allowed(action, res):
            problems.append(f"it does not allow {action} on {res}")
    for action, res in targets:
        for other in sibling_actions(action):
            if other.lower() not in asked and allowed(other, res):
                problems.append(f"it also allows {other} on {res}")
    target_resources = {res for _, res in targets}
    for action, res in targets:
        for other in sibling_resources(res) + [r for r in target_resources if r != res]:
            if (action, other) not in targets and allowed(action, other):
                problems.append(f"it also allows {action} on {other}")
    return problems


def policy_add_resource(document: Any, statement: str, resource: str) -> dict | None:
    """`document` with `resource` added to the Resource of statement `statement` (Sid or #index).
    Exactly that resource (an S3 object ARN, not the bucket's `/*`): the corrected policy allows
    the request and nothing that was not already allowed."""
    doc = copy.deepcopy(_as_doc(document))
    if not doc:
        return None
    add = resource  # exactly the resource asked for: the fix reaches nothing else
    statements = doc.get("Statement")
    items = statements if isinstance(statements, list) else [statements]
    for i, stmt in enumerate(items):
        label = stmt.get("Sid") or f"#{i}"
        if label == statement and isinstance(stmt, dict):
            current = stmt.get("Resource", [])
            current = current if isinstance(current, list) else [current]
            if add not in current:
                current.append(add)
            stmt["Resource"] = current if len(current) > 1 else current[0]
    doc["Statement"] = items if isinstance(statements, list) else items[0]
    return doc


def each_pairs(results: list | None, field: str) -> list[dict]:
    """Flatten a for_each result: [{item, result: {field: [v...]}}] -> [{item, value: v}]."""
    out = []
    for r in results or []:
        values = ((r or {}).get("result") or {}).get(field) or []
        for v in values if isinstance(values, list) else [values]:
            out.append({"item": r.get("item"), "value": v})
    return out


def scp_levels(targets: list | None, policies: list | None) -> list[list[dict]]:
    """SCP levels root -> ... -> account from two for_each results:
    targets = ListPoliciesForTarget per target (account first, then each parent),
    policies = DescribePolicy per policy id."""
    docs = {}
    for p in policies or []:
        pol = ((p or {}).get("result") or {}).get("Policy") or {}
        summary = pol.get("PolicySummary") or {}
        if summary.get("Id"):
            docs[summary["Id"]] = {"name": f"{summary.get('Name')} ({summary['Id']})", "document": pol.get("Content")}
    levels = []
    for t in targets or []:
        attached = ((t or {}).get("result") or {}).get("Policies") or []
        levels.append([docs[a["Id"]] for a in attached if a.get("Id") in docs])
    return list(reversed(levels))


def kv_pairs(items: list | None) -> dict:
    """['aws:SourceIp=10.0.0.1', 'aws:MultiFactorAuthPresent=true'] -> condition context."""
    out: dict = {}
    for item in items or []:
        key, sep, value = str(item).partition("=")
        if sep:
            if key in out:
                out[key] = (out[key] if isinstance(out[key], list) else [out[key]]) + [value]
            else:
                out[key] = value
    return out


def simulator_disagreements(simulated: list | None, decisions: list | None) -> list[dict]:
    """Actions where iam:SimulatePrincipalPolicy and the local evaluation differ."""
    local = {d.get("action", "").lower(): d.get("allowed") for d in decisions or []}
    out = []
    for s in simulated or []:
        action = str(s.get("action") or "")
        if action.lower() in local and (s.get("decision") == "allowed") != local[action.lower()]:
            out.append({"action": action, "simulator": s.get("decision"), "triage": "allowed" if local[action.lower()] else "denied"})
    return out
