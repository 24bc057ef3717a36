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


def s3_two_statement(actions: list[str], resource: str) -> list[dict] | None:
    """The seed's pattern: bucket-level actions on arn:aws:s3:::bucket, object-level on arn:aws:s3:::bucket/*."""
    m = re.match(r"^(arn:[^:]+:s3:::)([^/]+)(/.*)?$", resource or "")
    if not m or not all(a.lower().startswith("s3:") for a in actions):
        return None
    bucket = m.group(1) + m.group(2)
    objects = [a for a in actions if _S3_OBJECT_ACTION.search(a.split(":", 1)[1])]
    buckets = [a for a in actions if a not in objects]
    out = []
    if buckets:
        out.append({"Sid": "BucketLevel", "Effect": "Allow", "Action": sorted(buckets), "Resource": bucket})
    if objects:
        out.append({"Sid": "ObjectLevel", "Effect": "Allow", "Action": sorted(objects), "Resource": bucket + "/*"})
    return out


def least_privilege(actions: list[str], resource: str) -> dict:
    """A new policy granting exactly these actions on exactly this resource (S3: the two-statement pattern)."""
    actions = sorted(set(actions or []))
    statements = s3_two_statement(actions, resource) or [
        {"Sid": "TriageFix", "Effect": "Allow", "Action": actions if len(actions) > 1 else actions[0] if actions else [],
         "Resource": resource}]
    return {"Version": "2012-10-17", "Statement": statements}


def policy_add_resource(document: Any, statement: str, resource: str) -> dict | None:
    """`document` with `resource` added to the Resource of statement `statement` (Sid or #index).
    For an S3 object ARN the bucket's `/*` is added, per the two-statement pattern."""
    doc = copy.deepcopy(_as_doc(document))
    if not doc:
        return None
    m = re.match(r"^(arn:[^:]+:s3:::[^/]+)/.+$", resource or "")
    add = m.group(1) + "/*" if m else resource
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
