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
    """One decision per action in spec['actions'] (see the access-denied playbook), each on
    the resource AWS authorizes it on (request_targets): an S3 bucket-level action on the
    bucket of an object ARN, an action without resource-level permissions on "*".

    Optional keys besides the policies: ``scps``/``rcps`` (levels, root first),
    ``endpoint`` (a VPC endpoint policy), ``resource_account``, and ``identity_unknown``:
    the principal's identity-based side lives in another account and cannot be read,
    so it is assumed to allow exactly the request (the decision is then the resource
    side's: cross-account access needs the resource policy to grant it)."""
    identity = [p for p in (_policy(s, "identity") for s in spec.get("identity") or []) if p]
    levels = {}
    for kind in ("scps", "rcps"):
        if spec.get(kind):
            levels[kind] = [[p for p in (_policy(s, kind[:-1]) for s in level or []) if p] for level in spec[kind]]
    out = []
    for action, target in request_targets(spec.get("actions") or [], spec.get("resource") or "*"):
        request = Request(spec["principal"], action, target, dict(spec.get("context") or {}))
        own = identity
        if spec.get("identity_unknown"):
            own = [Policy({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": action, "Resource": target}]}, kind="identity",
                name=f"identity policies of {spec['principal']} (another account: not readable, assumed to allow)")]
        d = evaluate(request, own, resource_policy=_policy(spec.get("resource_policy"), "resource"),
                     resource_account=spec.get("resource_account") or None,
                     boundary=_policy(spec.get("boundary"), "permissions-boundary"),
                     session=_policy(spec.get("session"), "session"), scps=levels.get("scps"),
                     rcps=levels.get("rcps"), endpoint=_policy(spec.get("endpoint"), "vpc-endpoint"))
        out.append({"action": action, "resource": target, "allowed": d.allowed, "codes": d.codes,
                    "cross_account": d.cross_account,
                    "reasons": [asdict(r) for r in d.reasons],
                    "allowed_by": [asdict(m) for m in d.allowed_by],
                    "near_misses": [_near(n) for n in d.near_misses]})
    return _plain(out)


def _star_only(action: str) -> bool:
    from .catalog import star_only
    try:
        return star_only(action)
    except Exception:   # no catalogue (a damaged install): evaluate on the resource given
        return False


def request_targets(actions: list[str], resource: str) -> list[tuple[str, str]]:
    """(action, resource) as AWS authorizes each: grant_targets, and "*" for an action
    without resource-level permissions."""
    return [(a, "*" if _star_only(a) else r) for a, r in grant_targets(list(actions), resource)]


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
    sid = _unique_sid("Allow" + re.sub(r"[^A-Za-z0-9]", "", service.split(".")[0].title()) + "ToAssume", statements)
    statements.append({"Sid": sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})
    doc["Statement"] = statements
    return doc


def _unique_sid(sid: str, statements: list) -> str:
    """`sid`, or `sid` with a number after it, so that no statement of `statements` has it:
    S3, KMS and IAM reject a policy whose statement IDs repeat (an earlier fix may have
    added one of the same name)."""
    used = {str(st.get("Sid")) for st in statements if isinstance(st, dict) and st.get("Sid")}
    name, n = sid, 1
    while name in used:
        n += 1
        name = f"{sid}{n}"
    return name


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
    anywhere = [a for a in actions if _star_only(a)]     # no resource-level permissions: "*" is their only resource
    scoped = [a for a in actions if a not in anywhere]
    statements = (s3_two_statement(scoped, resource) or [
        {"Sid": "TriageFix", "Effect": "Allow", "Action": scoped if len(scoped) > 1 else scoped[0],
         "Resource": resource}]) if scoped else []
    if anywhere:
        statements.append({"Sid": "TriageFixNoResourceLevel" if scoped else "TriageFix", "Effect": "Allow",
                           "Action": anywhere if len(anywhere) > 1 else anywhere[0], "Resource": "*"})
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
    targets = request_targets(actions, resource)
    asked = {a.lower() for a in actions}
    for action, res in targets:
        if not allowed(action, res):
            problems.append(f"it does not allow {action} on {res}")
    for action, res in targets:
        for other in sibling_actions(action):
            if other.lower() not in asked and allowed(other, res):
                problems.append(f"it also allows {other} on {res}")
    target_resources = {res for _, res in targets if res != "*"}
    for action, res in targets:
        if res == "*":
            continue   # an action AWS authorizes only on "*"
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


def _has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value or "${" in value


def deny_narrowed(document: Any, statement: str, principal: str | None, actions: list[str], resource: str,
                  layer: str) -> dict | None:
    """`document` with Deny statement `statement` (Sid or #index) narrowed so that it no
    longer matches exactly these (action, resource) requests of `principal`, and still
    denies everything else it denied; None when that cannot be done exactly.

    Exact only by carving literal entries out of the statement: the request's action
    and resource must appear in its Action and Resource lists as themselves, not through
    a wildcard (narrowing `s3:*` or `bucket/*` for one request would need a Condition
    AWS has no key for). A resource-policy statement must name exactly this principal.
    Each piece keeps the statement's Effect, Principal and Condition. Before it is
    returned the evaluator checks it: the request is no longer denied by the statement,
    and other actions of the service, other resources and another principal are denied
    exactly as before (verify_narrowing). A statement that denies this request and nothing
    else is never removed by a printed fix (None): it was written for this request."""
    from .match import match_action, parse_principal

    doc = copy.deepcopy(_as_doc(document))
    if not doc or not principal or not actions or layer not in ("identity", "resource"):
        return None
    statements = doc.get("Statement")
    items = statements if isinstance(statements, list) else [statements]
    index = next((i for i, st in enumerate(items) if isinstance(st, dict)
                  and (st.get("Sid") or f"#{i}") == statement), None)
    if index is None:
        return None
    stmt = items[index]
    if stmt.get("Effect") != "Deny" or "NotAction" in stmt or "NotResource" in stmt or "NotPrincipal" in stmt:
        return None
    if layer == "resource":
        info = parse_principal(principal)
        who = info.principal_arn or info.arn
        named = stmt.get("Principal")
        aws = named.get("AWS") if isinstance(named, dict) and len(named) == 1 else None
        if (aws if isinstance(aws, str) else (aws[0] if isinstance(aws, list) and len(aws) == 1 else None)) != who:
            return None      # it denies others too: carving this request out is not the same for them
    acts = [str(a) for a in (stmt.get("Action") if isinstance(stmt.get("Action"), list) else [stmt.get("Action")])]
    ress = [str(r) for r in (stmt.get("Resource") if isinstance(stmt.get("Resource"), list) else [stmt.get("Resource")])]
    carve: dict[str, set[str]] = {}     # action entry -> resource entries to take out for it
    for action, target in request_targets(actions, resource):
        hit_actions = [a for a in acts if match_action(a, action)]
        hit_resources = [r for r in ress if r == "*" or _has_wildcard(r) and _glob_plain(r, target) or r == target]
        if not hit_actions or not hit_resources:
            continue
        if any(_has_wildcard(a) for a in hit_actions) or any(_has_wildcard(r) for r in hit_resources):
            return None
        for a in hit_actions:
            carve.setdefault(a, set()).update(hit_resources)
    if not carve:
        return None
    pieces = []
    rest = [a for a in acts if a not in carve]
    if rest:
        pieces.append((rest, ress))
    for a, taken in carve.items():
        left = [r for r in ress if r not in taken]
        if left:
            pieces.append(([a], left))
    if not pieces:
        return None          # the statement denies exactly this request and nothing else: it was written
                             # for it, so removing it is its owner's decision, not a printed fix
    sid = str(stmt.get("Sid") or "")
    used = {str(st.get("Sid")) for st in items if isinstance(st, dict) and st.get("Sid")}
    new = []
    for n, (a_list, r_list) in enumerate(pieces):
        piece = {k: copy.deepcopy(v) for k, v in stmt.items() if k not in ("Action", "Resource", "Sid")}
        if sid:
            name = sid if n == 0 else f"{sid}{n + 1}"
            while n and name in used:
                name += "x"
            used.add(name)
            piece = {"Sid": name, **piece}
        piece["Action"] = a_list if len(a_list) > 1 else a_list[0]
        piece["Resource"] = r_list if len(r_list) > 1 else r_list[0]
        new.append(piece)
    fixed_items = items[:index] + new + items[index + 1:]
    if not verify_narrowing(stmt, new, principal, actions, resource, layer):
        return None
    doc["Statement"] = fixed_items
    return doc


def _glob_plain(pattern: str, value: str) -> bool:
    from .match import match_resource
    try:
        return match_resource(pattern, value, None, variables=False)
    except Exception:
        return True        # cannot tell: treat as a wildcard hit (no narrowing)


def verify_narrowing(original: dict, pieces: list[dict], principal: str, actions: list[str], resource: str,
                     layer: str) -> bool:
    """The evaluator's word on a narrowed Deny: the request is no longer denied by it, and
    for other actions of the service, other resources and another principal the pieces
    deny exactly what the original statement denied."""
    from .match import arn_account, parse_principal

    info = parse_principal(principal)
    account = info.account or arn_account(resource) or "123456789012"
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

    def denied(statements: list[dict], who: str, action: str, res: str) -> bool:
        doc = {"Version": "2012-10-17", "Statement": statements}
        spec: dict = {"principal": who, "actions": [action], "resource": res,
                      "identity": [{"name": "allow-all", "document": allow_all}], "resource_account": account}
        if layer == "identity":
            spec["identity"].append({"name": "narrowed", "document": doc})
        else:
            spec["resource_policy"] = {"name": "narrowed", "document": doc}
        if not statements:
            return False
        decisions = evaluate_requests(spec)
        return any("explicit-deny" in d["codes"] for d in decisions)

    try:
        targets = request_targets(actions, resource)
        if any(denied(pieces, principal, a, r) for a, r in targets):
            return False
        asked = {a.lower() for a in actions}
        other = f"arn:aws:iam::{account}:role/triage-someone-else"
        probes = []
        for a, r in targets:
            probes += [(principal, s, r) for s in sibling_actions(a) if s.lower() not in asked]
            probes += [(principal, a, s) for s in sibling_resources(r) if r != "*"]
            if layer == "resource":      # an identity policy is this principal's own: no one else to probe
                probes.append((other, a, r))
        stmt_actions = original.get("Action") if isinstance(original.get("Action"), list) else [original.get("Action")]
        stmt_resources = original.get("Resource") if isinstance(original.get("Resource"), list) else [original.get("Resource")]
        for a in stmt_actions:
            for r in stmt_resources:
                if not _has_wildcard(str(a)) and not _has_wildcard(str(r)):
                    probes.append((principal, str(a), str(r)))
        targets_l = {(a.lower(), r) for a, r in targets}
        for who, a, r in probes:
            if who == principal and (a.lower(), r) in targets_l:
                continue
            if denied([original], who, a, r) != denied(pieces, who, a, r):
                return False
    except PolicyError:
        return False
    return True


def policy_add_grant(document: Any, actions: list[str], resource: str) -> dict | None:
    """`document` (a permissions boundary, or an inline policy of the name a printed grant
    is put under) with the least-privilege grant of exactly these actions on this resource
    added as statements of their own (Sids made unique); every existing statement kept.
    None when there is no document. A boundary grants nothing by itself: it only stops
    capping exactly this request."""
    doc = copy.deepcopy(_as_doc(document))
    if not doc:
        return None
    grant = least_privilege(actions, resource)
    statements = doc.get("Statement")
    items = statements if isinstance(statements, list) else [statements] if statements else []
    used = {str(st.get("Sid")) for st in items if isinstance(st, dict) and st.get("Sid")}
    for st in grant["Statement"]:
        sid = "Triage" + st["Sid"] if not st["Sid"].startswith("Triage") else st["Sid"]
        while sid in used:
            sid += "x"
        used.add(sid)
        items.append({**st, "Sid": sid})
    doc["Statement"] = items
    return doc


def authorization_message(answer: Any) -> dict | None:
    """What sts:DecodeAuthorizationMessage said, as facts for the evaluation: {decoded,
    error, allowed, explicit_deny, principal, action, resource, context, matched}. An
    answer that is an error (AccessDenied: the caller may not decode; NotImplemented on an
    emulator; an invalid or expired message) is {decoded: false, error}: inconclusive,
    never read as allowed or denied. Values are kept exact; masking is the output edge's."""
    if not isinstance(answer, dict):
        return None
    err = answer.get("error")
    if isinstance(err, dict):
        code, message = str(err.get("code") or "error"), " ".join(str(err.get("message") or "").split())
        if code in ("ResponseParserError", "NotImplemented", "InternalFailure", "500", "501") or "<html" in message.lower():
            message = "the endpoint gave no AWS answer (an emulator that does not implement it?)"
        elif len(message) > 160:
            message = message[:157] + "..."
        return {"decoded": False, "error": f"{code}: {message}" if message else code}
    try:
        msg = json.loads(answer.get("DecodedMessage") or "")
    except (TypeError, ValueError):
        return {"decoded": False, "error": "the decoded message is not JSON"}
    if not isinstance(msg, dict):
        return {"decoded": False, "error": "the decoded message is not a JSON object"}
    ctx = msg.get("context") if isinstance(msg.get("context"), dict) else {}

    def items(node: Any) -> list:
        return (node.get("items") if isinstance(node, dict) else node) or []

    context: dict[str, Any] = {}
    for c in items(ctx.get("conditions")):
        if not isinstance(c, dict) or not c.get("key"):
            continue
        values = [v.get("value") if isinstance(v, dict) else v for v in items(c.get("values"))]
        values = [str(v) for v in values if v is not None]
        context[str(c["key"])] = values[0] if len(values) == 1 else values
    matched = []
    for m in items(msg.get("matchedStatements")):
        if isinstance(m, dict):
            matched.append({"statement": m.get("statementId") or None, "effect": m.get("effect"),
                            "actions": [str(v.get("value") if isinstance(v, dict) else v) for v in items(m.get("actions"))],
                            "resources": [str(v.get("value") if isinstance(v, dict) else v) for v in items(m.get("resources"))]})
    principal = ctx.get("principal") if isinstance(ctx.get("principal"), dict) else {}
    return _plain({"decoded": True, "error": None, "allowed": bool(msg.get("allowed")),
                   "explicit_deny": bool(msg.get("explicitDeny")), "principal": principal.get("arn"),
                   "action": ctx.get("action"), "resource": ctx.get("resource"), "context": context,
                   "matched": matched})


def each_pairs(results: list | None, field: str) -> list[dict]:
    """Flatten a for_each result: [{item, result: {field: [v...]}}] -> [{item, value: v}]."""
    out = []
    for r in results or []:
        values = ((r or {}).get("result") or {}).get(field) or []
        for v in values if isinstance(values, list) else [values]:
            out.append({"item": r.get("item"), "value": v})
    return out


def scp_levels(targets: list | None, policies: list | None) -> list[list[dict]] | None:
    """SCP (or RCP) levels root -> ... -> account from two for_each results:
    targets = ListPoliciesForTarget per target (account first, then each parent),
    policies = DescribePolicy per policy id. None when a level or a policy could not be
    read (a member account usually cannot read them): unknown, never "none attached"."""
    docs = {}
    for p in policies or []:
        pol = ((p or {}).get("result") or {}).get("Policy") or {}
        summary = pol.get("PolicySummary") or {}
        if summary.get("Id"):
            docs[summary["Id"]] = {"name": f"{summary.get('Name')} ({summary['Id']})", "document": pol.get("Content")}
    levels = []
    for t in targets or []:
        result = (t or {}).get("result")
        if not isinstance(result, dict) or "error" in result or (t or {}).get("error"):
            return None     # a level that could not be read: the policies are unknown, not absent
        attached = result.get("Policies") or []
        if any(a.get("Id") not in docs for a in attached):
            return None
        levels.append([docs[a["Id"]] for a in attached])
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


# --- access-denied: resources, the S3 and KMS causes beyond IAM, what was not seen ----------

def context_value(items: list | None, key: str) -> str | None:
    """The value of condition key `key` (any case) among KEY=VALUE entries."""
    low = key.lower()
    for item in items or []:
        k, sep, v = str(item).partition("=")
        if sep and k.strip().lower() == low:
            return v
    return None


def placeholder_resource(actions: list[str], region: str | None, account: str | None) -> str:
    """The resource to evaluate and to name in fixes when none was given: the first
    action's ARN format with $NAMED_PLACEHOLDERS (arn:aws:s3:::$BUCKET_NAME/$OBJECT_NAME);
    "*" when the actions support only "*"."""
    from .catalog import placeholder, resource_types
    for action in actions or []:
        types = resource_types(action)
        if types:
            fmt = next((f for t, f in types if t in ("object", "bucket")), None) or types[-1][1]
            return placeholder(fmt, region, account)
    return "*"


def resource_rule(actions: list[str], resource: str | None) -> str:
    """Which ARN these actions need, in the words of their service."""
    from .catalog import resource_types
    actions = list(actions or [])
    if actions and all(a.lower().startswith("s3:") for a in actions):
        return ("For S3, bucket actions (s3:ListBucket) need the bucket ARN arn:aws:s3:::BUCKET and object "
                "actions (s3:GetObject) need the object ARN arn:aws:s3:::BUCKET/KEY (or BUCKET/*): a policy "
                "with only one of them fails the other silently.")
    parts = []
    for a in actions:
        types = resource_types(a)
        if not types:
            parts.append(f'{a} supports no resource-level permissions: its statement must say "Resource": "*".')
        else:
            parts.append(f"{a} acts on {' or '.join(t for t, _ in types)} resources, whose ARN is "
                         f"{' or '.join(f for _, f in types)}.")
    services = {a.split(":", 1)[0].lower() for a in actions}
    if services == {"ec2"}:
        parts.append("EC2 resource-level permissions name each resource's own ARN (region, account and id), "
                     "or a pattern such as instance/*; a statement naming another instance does not apply.")
    elif services == {"logs"}:
        parts.append("CloudWatch Logs: log-stream actions (PutLogEvents, CreateLogStream) need "
                     "log-group:NAME:log-stream:* (or log-group:NAME:*), not the bare log group ARN.")
    return " ".join(parts)


def fix_statement_text(actions: list[str], resource: str) -> str:
    """How the least-privilege grant is introduced in a fix text."""
    if actions and all(a.lower().startswith("s3:") for a in actions) and _S3_ARN.match(resource or ""):
        return "The two-statement S3 pattern (bucket actions on the bucket, object actions on the object) is"
    return "As a new statement of its own, the least-privilege grant is"


_KMS_KEY_ARN = re.compile(r"^arn:[^:]+:kms:[^:]*:\d{12}:key/.+")


def kms_key_ref(resource: str | None, head: dict | None) -> str | None:
    """The KMS key to read: the resource itself (kms:* on a key ARN), else the key an
    S3 object is encrypted with (HeadObject's SSEKMSKeyId, an id or an ARN)."""
    if resource and _KMS_KEY_ARN.match(resource):
        return resource
    if isinstance(head, dict) and head.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse"):
        return head.get("SSEKMSKeyId")
    return None


def _grant_statement(grant: dict) -> dict | None:
    grantee = grant.get("GranteePrincipal")
    ops = [f"kms:{op}" for op in grant.get("Operations") or []]
    if not grantee or not ops:
        return None
    principal = {"Service": grantee} if str(grantee).endswith(".amazonaws.com") else {"AWS": grantee}
    stmt = {"Sid": f"grant {grant.get('GrantId') or '?'}", "Effect": "Allow", "Principal": principal,
            "Action": ops, "Resource": "*"}
    constraints = grant.get("Constraints") or {}
    context = {**(constraints.get("EncryptionContextSubset") or {}), **(constraints.get("EncryptionContextEquals") or {})}
    if context:
        stmt["Condition"] = {"StringEquals": {f"kms:EncryptionContext:{k}": v for k, v in context.items()}}
    return stmt


def kms_key_policy(document: Any, grants: list | None, name: str) -> dict | None:
    """The key policy plus one Allow statement per grant (its grantee, its operations, its
    encryption-context constraints), so the evaluator decides both as AWS does: a grant
    allows its grantee whatever the key policy says."""
    doc = copy.deepcopy(_as_doc(document))
    if not doc:
        return None
    extra = [s for s in (_grant_statement(g) for g in grants or []) if s]
    if extra:
        statements = doc.get("Statement")
        statements = statements if isinstance(statements, list) else [statements] if statements else []
        doc["Statement"] = statements + extra
    label = name + (f" (with its {len(extra)} grant{'s' if len(extra) > 1 else ''})" if extra else "")
    return {"name": label, "document": doc}


def kms_request(request: dict, key: dict | None, key_policy: Any, grants: list | None, head: dict | None,
                region: str | None, resource: str | None) -> dict | None:
    """The kms:Decrypt request S3 makes for the caller when it reads an SSE-KMS object, with
    the context S3 sends (kms:ViaService, kms:CallerAccount, the aws:s3:arn encryption
    context: the bucket with an S3 Bucket Key, else the object)."""
    meta = (key or {}).get("KeyMetadata") or {}
    arn = meta.get("Arn")
    if not arn or not isinstance(head, dict):
        return None
    m = _S3_ARN.match(resource or "")
    s3_arn = (m.group(1) + m.group(2)) if m and head.get("BucketKeyEnabled") else resource
    info_account = _principal_account(request.get("principal"))
    context = {**(request.get("context") or {}),
               "kms:ViaService": f"s3.{region}.amazonaws.com" if region else "s3.amazonaws.com",
               "kms:EncryptionContext:aws:s3:arn": s3_arn, "kms:EncryptionContextKeys": ["aws:s3:arn"]}
    if info_account:
        context["kms:CallerAccount"] = info_account
    return {**request, "actions": ["kms:Decrypt"], "resource": arn, "context": context,
            "resource_policy": kms_key_policy(key_policy, grants, arn), "resource_account": None,
            "scps": None, "rcps": None, "endpoint": None}


def _principal_account(principal: str | None) -> str | None:
    from .match import parse_principal
    return parse_principal(principal).account if principal else None


def s3_ownership(object_acl: dict | None, bucket_acl: dict | None, ownership: dict | None) -> dict | None:
    """Who owns the object, who owns the bucket, and whether ACLs are in force."""
    if not isinstance(object_acl, dict) and not isinstance(bucket_acl, dict):
        return None
    rules = (((ownership or {}).get("OwnershipControls") or {}).get("Rules") or [])
    mode = (rules[0] or {}).get("ObjectOwnership") if rules else None
    owner = ((object_acl or {}).get("Owner") or {}).get("ID")
    bucket_owner = ((bucket_acl or {}).get("Owner") or {}).get("ID")
    granted = any(((g.get("Grantee") or {}).get("ID") == bucket_owner and g.get("Permission") in ("READ", "FULL_CONTROL"))
                  for g in (object_acl or {}).get("Grants") or []) if bucket_owner else False
    return {"object_ownership": mode or "ObjectWriter (no ownership controls set)",
            "acls_in_force": mode != "BucketOwnerEnforced",
            "object_owner": owner, "bucket_owner": bucket_owner,
            "other_owner": bool(owner and bucket_owner and owner != bucket_owner),
            "bucket_owner_granted_read": granted,
            "acl_error": ((object_acl or {}).get("error") or {}).get("code")}


_FULL_ACCESS = {"Version": "2008-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}


def vpc_endpoints(answer: dict | None, route_tables: dict | None, instance: dict | None, actions: list[str],
                  region: str | None, named: str | None) -> list[dict]:
    """The VPC endpoints the request went through: the one aws:SourceVpce names, else
    those of the instance's VPC for the actions' service that its subnet uses (a gateway
    endpoint in the subnet's route table, an interface endpoint with private DNS)."""
    services = {a.split(":", 1)[0].lower() for a in actions or []}
    subnet, vpc = (instance or {}).get("SubnetId"), (instance or {}).get("VpcId")
    table = None
    tables = (route_tables or {}).get("RouteTables") or []
    for t in tables:
        if any(a.get("SubnetId") == subnet for a in t.get("Associations") or []):
            table = t.get("RouteTableId")
    if table is None:
        table = next((t.get("RouteTableId") for t in tables if t.get("VpcId") == vpc
                      and any(a.get("Main") for a in t.get("Associations") or [])), None)
    out = []
    for ep in (answer or {}).get("VpcEndpoints") or []:
        eid, service = ep.get("VpcEndpointId"), str(ep.get("ServiceName") or "")
        why = None
        if named:
            if eid == named:
                why = "--context aws:SourceVpce names it"
        elif service.rsplit(".", 1)[-1].lower() in services and ep.get("State", "available").lower() == "available":
            kind = ep.get("VpcEndpointType")
            if kind == "Gateway" and table and table in (ep.get("RouteTableIds") or []):
                why = f"the route table {table} of {subnet} (instance {instance.get('InstanceId')}) routes {service} to it"
            elif kind == "Interface" and ep.get("PrivateDnsEnabled"):
                why = f"an interface endpoint with private DNS in {vpc}: {service} resolves to it from the instance"
        if why:
            document = ep.get("PolicyDocument")
            out.append({"id": eid, "type": ep.get("VpcEndpointType"), "service": service, "why": why,
                        "default_policy": not document,
                        "policy": {"name": f"VPC endpoint policy of {eid}", "document": document or _FULL_ACCESS}})
    return out


def resource_policy_fix(document: Any, principal: str | None, actions: list[str], resource: str,
                        kind: str = "resource") -> dict | None:
    """`document` (a bucket/key/VPC endpoint policy; None for none) with one more Allow
    statement naming exactly the principal (its role, for a session), the actions and
    the resources they are authorized on. Returned only when the evaluator says it makes
    the request allowed on that layer and allows nothing else it probed (another
    principal, other actions of the service, other resources); else None."""
    from .match import parse_principal

    if not principal or not actions:
        return None
    info = parse_principal(principal)
    who = info.principal_arn or info.arn
    doc = copy.deepcopy(_as_doc(document)) if document else None
    doc = doc or {"Version": "2012-10-17", "Statement": []}
    statements = doc.get("Statement")
    statements = statements if isinstance(statements, list) else [statements] if statements else []
    grouped: dict[str, list[str]] = {}
    for action, target in request_targets(actions, resource):
        grouped.setdefault(target, []).append(action)
    for i, (target, acts) in enumerate(sorted(grouped.items())):
        statements.append({"Sid": _unique_sid(f"TriageAllow{i + 1 if len(grouped) > 1 else ''}", statements), "Effect": "Allow",
                           "Principal": {"AWS": who}, "Action": sorted(acts) if len(acts) > 1 else acts[0],
                           "Resource": target})
    doc["Statement"] = statements

    def allowed(policy: Any, who_: str, action: str, target: str) -> bool:
        spec = {"principal": who_, "actions": [action], "resource": target, "identity_unknown": True}
        if kind == "vpc-endpoint":
            spec["endpoint"] = {"name": "endpoint", "document": policy} if policy else None
        else:
            spec["resource_policy"] = {"name": "resource policy", "document": policy} if policy else None
            spec["resource_account"] = "000000000000"    # decided by the resource policy alone
        (d,) = evaluate_requests(spec)
        return d["allowed"]

    try:
        targets = request_targets(actions, resource)
        if not all(allowed(doc, who, a, r) for a, r in targets):
            return None
        other = f"arn:aws:iam::{info.account or '111111111111'}:role/triage-someone-else"
        asked = {a.lower() for a in actions}
        for a, r in targets:
            if allowed(doc, other, a, r) and not allowed(document, other, a, r):
                return None
            for sibling in sibling_actions(a):
                if sibling.lower() not in asked and allowed(doc, who, sibling, r) and not allowed(document, who, sibling, r):
                    return None
            for res in sibling_resources(r) if r != "*" else []:
                if allowed(doc, who, a, res) and not allowed(document, who, a, res):
                    return None
    except PolicyError:
        return None
    return doc


# Which services' resources can carry a resource-based policy: the "Resource-based policies"
# column of the IAM User Guide's "AWS services that work with IAM" table
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-services-that-work-with-iam.html)
# and each service's "How <service> works with IAM" page. AWS's Service Authorization
# Reference (aws_catalog.jsonl) does not say, so this is a small table of the common
# services; a service in neither set is "unknown", never ruled out.
RBP_SOURCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-services-that-work-with-iam.html"
# prefix -> what the policy is called and, where the CLI takes the ARN last, how to read it
RESOURCE_POLICIES = {
    "s3": ("the bucket policy", None), "s3express": ("the directory bucket's policy", None),
    "lambda": ("the function's resource-based policy", "aws lambda get-policy --function-name"),
    "kms": ("the key policy", None),
    "sqs": ("the queue policy", None),
    "sns": ("the topic policy", "aws sns get-topic-attributes --topic-arn"),
    "secretsmanager": ("the secret's resource policy", "aws secretsmanager get-resource-policy --secret-id"),
    # DynamoDB tables and streams have resource-based policies since March 2024 (DynamoDB
    # developer guide, access-control-resource-based); backups and exports do not
    "dynamodb": ("the table's (or stream's) resource-based policy",
                 "aws dynamodb get-resource-policy --resource-arn"),
    "kinesis": ("the stream's resource-based policy", "aws kinesis get-resource-policy --resource-arn"),
    "ecr": ("the repository policy", None), "events": ("the event bus policy", None),
    "logs": ("the CloudWatch Logs resource policy (or destination policy)", None),
    "glacier": ("the vault access policy", None), "backup": ("the backup vault access policy", None),
    "elasticfilesystem": ("the file system policy", None), "es": ("the domain access policy", None),
    "execute-api": ("the API's resource policy", None), "ses": ("the identity's sending authorization policy", None),
    "glue": ("the Data Catalog resource policy", None), "codeartifact": ("the domain or repository policy", None),
    "acm-pca": ("the private CA's resource policy", None), "serverlessrepo": ("the application policy", None),
    "kafka": ("the cluster policy", None), "iam": ("the role's trust policy", None),
    "sts": ("the role's trust policy", None),
}
NO_RESOURCE_POLICY = frozenset({"ec2", "rds", "cloudwatch", "autoscaling", "elasticloadbalancing", "cloudformation",
                                "ecs", "eks", "route53", "cloudfront", "elasticache", "states", "athena",
                                "cognito-idp", "cognito-identity", "codecommit", "codedeploy", "codepipeline",
                                "elasticbeanstalk", "elasticmapreduce", "batch", "dax"})


def resource_policy_support(actions: list[str] | None, resource: str | None) -> dict:
    """Whether the resource of this request can have a resource-based policy:
    {service, name, supported: true|false|null (unknown), policy, read, source}."""
    from . import catalog as cat

    service = ""
    fields = str(resource or "").split(":")
    if len(fields) >= 6 and fields[0] == "arn":
        service = fields[2].lower()
    if not service and actions:
        service = str(actions[0]).split(":", 1)[0].lower()
    svc = cat.catalog().service(service) if service else None
    name = svc.name if svc else service or "this service"
    if service in RESOURCE_POLICIES:
        policy, read = RESOURCE_POLICIES[service]
        return {"service": service, "name": name, "supported": True, "policy": policy,
                "read": read.split() + [resource] if read and resource and "$" not in resource else None,
                "source": RBP_SOURCE}
    return {"service": service, "name": name, "supported": False if service in NO_RESOURCE_POLICY else None,
            "policy": None, "read": None, "source": RBP_SOURCE}


def cross_account_role(principal: str | None, actions: list[str] | None, resource: str | None,
                       resource_account: str | None) -> dict | None:
    """The way across accounts for a resource that cannot carry a resource-based policy: a
    role in the resource's account that trusts exactly the caller (its role, for a session)
    and allows exactly the asked actions on exactly this resource, and the caller's own
    permission to assume exactly that role. Every document goes through the evaluator
    (least_privilege; the trust: the caller may assume it, another principal may not).
    None when it cannot be built exactly (no principal, no account, a wildcard resource)."""
    ref = principal_ref(principal)
    if ref["kind"] == "unknown" or not ref["account"] or not resource_account or not actions:
        return None
    if ref["account"] == resource_account:
        return None
    caller = ref["arn"] or f"arn:aws:iam::{ref['account']}:role/{ref['name']}"
    name = re.sub(r"[^\w+=,.@-]", "-", f"triage-{ref['account']}-{ref['name']}")[:64]
    role_arn = f"arn:aws:iam::{resource_account}:role/{name}"
    try:
        permissions = least_privilege(list(actions), str(resource))
        assume = least_privilege(["sts:AssumeRole"], role_arn)
    except (FixNotMinimal, PolicyError):
        return None
    trust = {"Version": "2012-10-17", "Statement": [
        {"Sid": "TriageTrustCaller", "Effect": "Allow", "Principal": {"AWS": caller}, "Action": "sts:AssumeRole"}]}
    trust_policy = Policy(trust, kind="trust", name="trust")
    caller_side = [Policy(assume, kind="identity", name="assume")]

    def trusts(who: str) -> bool:
        return evaluate_trust(trust_policy, who, role_arn=role_arn, identity=caller_side).allowed
    if not trusts(caller) or trusts(f"arn:aws:iam::{ref['account']}:role/someone-else") \
            or trusts(f"arn:aws:iam::{resource_account}:role/someone-else"):
        return None
    return {"role_name": name, "role_arn": role_arn, "caller": caller, "caller_kind": ref["kind"],
            "caller_name": ref["name"], "caller_account": ref["account"], "trust": trust,
            "permissions": permissions, "assume": assume,
            "policy_name": "triage-allow-" + re.sub(r"^.*:", "", sorted(actions)[0]).lower(),
            "assume_policy_name": "triage-assume-" + name[len("triage-"):][:40]}

RCP_SERVICES = frozenset({"s3", "sts", "kms", "sqs", "secretsmanager", "cognito-identity", "dynamodb", "ecr",
                          "logs", "aoss"})


def rcp_service(actions: list[str]) -> bool:
    """Resource control policies apply to these actions' service (AWS Organizations user
    guide, orgs_manage_policies_rcps: the services RCPs support)."""
    return bool(actions) and all(a.split(":", 1)[0].lower() in RCP_SERVICES for a in actions)


def unseen_layers(f: dict) -> list[dict]:
    """What triage did not evaluate for this request, and why: one {layer, status, why}
    each, status "does not apply" (ruled out) or "not evaluated" (could be the cause)."""
    f = f or {}
    out: list[dict] = []

    def add(layer: str, status: str, why: str) -> None:
        out.append({"layer": layer, "status": status, "why": why})

    org = f.get("org") or {}
    home = f.get("home")
    principal = f.get("principal") or "the principal"
    if f.get("other_account"):
        add("identity policies, permissions boundary, SCPs of the caller", "not evaluated",
            f"{principal} is in account {f.get('principal_account')} and triage reads account {home}: its own "
            f"policies are not readable from here (evaluated cross-account: only the resource policy was "
            f"judged). Run triage with credentials of account {f.get('principal_account')} to check them.")
    if isinstance(org, dict) and org.get("error"):
        add("SCPs and RCPs", "does not apply", f"account {home} is not in an organization")
    elif isinstance(org, dict) and org.get("Organization"):
        master = org["Organization"].get("MasterAccountId")
        if master and master == home:
            add("SCPs", "does not apply", f"account {home} is the organization's management account, and SCPs "
                "never restrict principals of the management account, so none were evaluated (not the cause)")
            add("RCPs", "does not apply", f"RCPs never restrict resources of the management account ({home})")
        else:
            if f.get("org_error") and not f.get("scp_known"):
                add("SCPs", "not evaluated", f"could not be read ({f['org_error']}): only the management account "
                    "or a delegated administrator can read them; ask an administrator, or decode the message")
            if not f.get("rcp_service"):
                add("RCPs", "does not apply", "resource control policies do not support this service")
            elif not f.get("rcp_known"):
                add("RCPs", "not evaluated", f"could not be read ({f.get('org_error') or 'not readable'}): only the "
                    "management account or a delegated administrator can read them")
    if f.get("resource_account") and home and f.get("resource_account") != home:
        add("the resource's account", "not evaluated", f"{f.get('resource')} is in account {f['resource_account']}: "
            "its RCPs (and, for the resource owner, its own view) are not readable from here")
    service = str(f.get("resource") or "").split(":")[2:3]
    if not f.get("resource_policy_read"):
        support = resource_policy_support(f.get("actions"), f.get("resource"))
        if support["supported"] is False:
            add("resource-based policy", "does not apply", f"{support['service']} resources have no resource-based policy")
        else:
            add("resource-based policy", "not evaluated", f"triage reads S3 bucket, Lambda function and KMS key "
                f"policies; the resource-based policy of {f.get('resource')} (if it has one) was not read")
    kind = f.get("kind")
    if f.get("session"):
        add("session policy", "not evaluated", f"session {f['session']} may have been created with a session "
            "policy (AssumeRole Policy/PolicyArns), which no API returns afterwards: the CloudTrail AssumeRole "
            "event's requestParameters show it")
    elif kind == "role":
        add("session policy", "not evaluated", "the caller is a session of this role and may carry a session "
            "policy passed to AssumeRole, which no API returns afterwards (see the AssumeRole CloudTrail event)")
    if not f.get("endpoints"):
        if f.get("endpoint_named"):
            add("VPC endpoint policy", "not evaluated", f"--context names {f['endpoint_named']}, which "
                f"DescribeVpcEndpoints did not find ({f.get('endpoint_error') or 'not in this account and region'})")
        elif f.get("instance"):
            add("VPC endpoint policy", "does not apply", f"{f['instance']}'s subnet uses no VPC endpoint for this "
                "service (no gateway endpoint in its route table, no interface endpoint with private DNS)")
        else:
            add("VPC endpoint policy", "not evaluated", "unknown whether the request went through a VPC endpoint: "
                "pass --context aws:SourceVpce=vpce-... (the endpoint) or --instance (the caller's host)")
    given = sorted((f.get("context") or {}).keys())
    add("request context", "not evaluated", "condition keys the real request carried (source IP, VPC, MFA, tags, "
        "TLS) are absent unless given with --context" + (f"; given: {', '.join(given)}" if given else ""))
    if not f.get("resource_given"):
        add("the resource", "not evaluated", f"no --resource: evaluated on the placeholder {f.get('resource')}; "
            "statements scoped to particular resources were not matched against the real one")
    acl = f.get("object_acl_error")
    if acl:
        add("object ACL", "not evaluated", f"GetObjectAcl answered {acl}: triage may lack s3:GetObjectAcl, or the "
            "object belongs to another account that did not grant the bucket owner READ_ACP (with ACLs in force)")
    auth = f.get("auth") or {}
    if auth.get("decoded"):
        said, evaluated = principal_ref(auth.get("principal")), principal_ref(f.get("principal"))
        if auth.get("principal") and said["name"] == evaluated["name"] and said["kind"] == evaluated["kind"]:
            add("calling identity", "does not apply", f"the decoded authorization message names {auth['principal']}, "
                f"the principal evaluated")
        else:
            add("calling identity", "not evaluated", f"the decoded authorization message names "
                f"{auth.get('principal') or 'no principal'}, not {principal}: run triage again with --principal set to it")
        asked = {str(a).lower() for a in f.get("actions") or []}
        if auth.get("action") and str(auth["action"]).lower() not in asked:
            add("the request", "not evaluated", f"the decoded message is about {auth['action']} on "
                f"{auth.get('resource')}, not the --action given")
        if auth.get("explicit_deny"):
            add("explicit Deny (per AWS)", "not evaluated", "the decoded message says an explicit Deny decided this, "
                "and no policy triage read denies it: the Deny is in a layer it could not see (an SCP or RCP it "
                "could not read, a session policy, a VPC endpoint policy)")
    else:
        add("calling identity", "not evaluated", f"the request may have been made by another identity than {principal} "
            "(another role or profile on the host, a chained session): the encoded message or the CloudTrail event "
            "names the real caller; `aws sts get-caller-identity` on the host shows which credentials it uses")
    return out
