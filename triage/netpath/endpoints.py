"""VPC endpoint policies. An endpoint policy is a resource-based policy on
the endpoint: a request through it must be allowed by it (it never grants
anything the caller's own policies do not). Without a policy the endpoint
has the default one, which allows everything.

PrivateLink Guide, "Control access to VPC endpoints using endpoint policies":
https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html"""
from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

from .pairs import pairs

DEFAULT_POLICY = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _document(policy: Any) -> dict | None:
    if policy in (None, ""):
        return DEFAULT_POLICY
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    return policy if isinstance(policy, dict) else None


def _principal_matches(stmt: dict, principal: str | None) -> bool:
    """Does the statement's Principal name this caller (or everyone)?"""
    p = stmt.get("Principal")
    if p == "*" or p is None and "NotPrincipal" not in stmt:
        return True
    aws = _list(p.get("AWS")) if isinstance(p, dict) else []
    if "*" in aws:
        return True
    if not principal:
        return False
    account = principal.split(":")[4] if principal.startswith("arn:") and len(principal.split(":")) > 4 else None
    return any(a == principal or a == account or a == f"arn:aws:iam::{account}:root" for a in aws)


def _names_service(patterns: list, service: str) -> bool:
    """Could these Action patterns match some action of the service?"""
    return any(p == "*" or str(p).lower().startswith(f"{service.lower()}:") or
               fnmatchcase(f"{service.lower()}:x", str(p).lower()) for p in patterns)


def decide(policy: Any, principal: str | None, service: str, action: str | None, resource: str = "*") -> dict:
    """{allowed: True|False|None (cannot tell), statement, reason}. With an
    action, the IAM evaluator decides exactly (explicit deny, then an allow
    that names the principal, action and resource). Without one: denied when
    an unconditional Deny covers the whole service for this principal or no
    Allow could apply to it at all."""
    doc = _document(policy)
    if doc is None:
        return {"allowed": None, "statement": None, "reason": "the endpoint policy is not valid JSON"}
    statements = [s for s in _list(doc.get("Statement")) if isinstance(s, dict)]
    if action and principal:
        from ..iam.evaluate import Policy, PolicyError, Request, evaluate
        try:
            endpoint = Policy(doc, kind="vpc-endpoint", name="the endpoint policy")
        except PolicyError as exc:
            return {"allowed": None, "statement": None, "reason": str(exc)}
        allow_all = Policy({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, name="(identity)")
        d = evaluate(Request(principal, action, resource or "*"), [allow_all], endpoint=endpoint)
        mine = [r for r in d.reasons if r.layer == "vpc-endpoint"]
        if not mine:
            return {"allowed": True, "statement": None, "reason": f"allows {action}"}
        r = mine[0]
        return {"allowed": False, "statement": r.statement or None, "reason": r.message,
                "explicit": r.code.startswith("explicit")}
    for i, s in enumerate(statements):
        label = s.get("Sid") or f"#{i}"
        if s.get("Effect") == "Deny" and _principal_matches(s, principal) and not s.get("Condition") \
                and any(a in ("*", f"{service}:*") for a in _list(s.get("Action"))) \
                and "*" in _list(s.get("Resource")):
            return {"allowed": False, "statement": label, "explicit": True,
                    "reason": f"statement {label} denies every {service} action to {principal or 'every principal'}"}
    allows = [s for s in statements if s.get("Effect") == "Allow" and _principal_matches(s, principal)
              and (_names_service(_list(s.get("Action")), service) or "NotAction" in s)]
    if allows:
        return {"allowed": True, "statement": allows[0].get("Sid"), "reason": "an Allow statement applies"}
    if principal is None and any(s.get("Effect") == "Allow" for s in statements):
        return {"allowed": None, "statement": None,
                "reason": "the policy allows only some principals; pass a function or instance to know which one calls"}
    return {"allowed": False, "statement": None, "explicit": False,
            "reason": f"no statement allows {principal or 'this caller'} any {service} action"}


def evaluate(net: dict) -> dict:
    hops: list[dict] = []
    blocks: list[dict] = []
    notes: list[str] = []
    seen: set = set()
    for pair in pairs(net):
        dest = pair.dest
        endpoint = dest.get("endpoint")
        if not isinstance(endpoint, dict) or pair.src_subnet is None:   # a database's endpoint is its name
            continue
        if endpoint.get("type") == "Gateway" and dest.get("via") != "gateway-endpoint":
            continue
        principal = pair.source.get("principal")
        key = (endpoint.get("id"), principal)
        if key in seen:
            continue
        seen.add(key)
        service = (endpoint.get("service") or "").split(".", 3)[-1]
        action = net.get("action")
        iam_prefix = {"monitoring": "cloudwatch", "email-smtp": "ses", "execute-api": "execute-api",
                      "ecr.api": "ecr", "ecr.dkr": "ecr"}.get(service, service)
        d = decide(endpoint.get("policy"), principal, iam_prefix, action, net.get("resource") or "*")
        who = principal or "the caller (unknown for this source)"
        if d["allowed"] is False:
            hops.append({"pair": pair.label, "order": 70, "hop": "endpoint policy", "status": "blocked",
                         "text": f"{endpoint.get('id')} policy: {d['reason']}"})
            blocks.append(_block(pair, endpoint, principal, iam_prefix, action, net.get("resource"), d))
        elif d["allowed"] is None:
            hops.append({"pair": pair.label, "order": 70, "hop": "endpoint policy", "status": "skipped",
                         "text": f"{endpoint.get('id')} policy: {d['reason']}"})
        else:
            hops.append({"pair": pair.label, "order": 70, "hop": "endpoint policy", "status": "allowed",
                         "text": f"{endpoint.get('id')} policy allows {who}"
                                 + (f" to call {action}" if action else f" {iam_prefix} actions")})
        if not action and d["allowed"] is not False:
            notes.append(f"pass --action (e.g. {iam_prefix}:...) to check the endpoint policy for one API call")
    return {"block": _summary(blocks), "hops": hops, "notes": list(dict.fromkeys(notes))}


_ACTION_MARK = "__TRIAGE_ACTION__"   # where "$ACTION" goes in a policy printed before the call is known


def _block(pair, endpoint: dict, principal: str | None, service: str, action: str | None, resource: str | None,
           d: dict) -> dict:
    """The fix for one blocked path: an Allow for exactly this caller and call,
    the policy's other statements kept. An explicit Deny is narrowed only when
    the IAM evaluator can carve exactly this request out of it (iam.bridge.
    deny_narrowed, verified); otherwise it is shown, not removed: a Deny for
    everyone was written for more than this caller. Without --action the call
    is a shell variable ("$ACTION"), never `service:*`."""
    from ..iam.bridge import deny_narrowed

    doc = _document(endpoint.get("policy")) or {"Statement": []}
    statements = [s for s in _list(doc.get("Statement")) if isinstance(s, dict)]
    command, narrowed = None, False
    if d.get("explicit") and d.get("statement"):
        carved = deny_narrowed(doc, d["statement"], principal, [action], resource or "*", "resource") \
            if action and principal else None
        if carved is not None:
            kept, narrowed = [s for s in _list(carved.get("Statement")) if isinstance(s, dict)], True
        else:
            kept = None
    else:
        kept = statements
    if kept is not None:
        grant = {"Sid": _unused_sid(kept), "Effect": "Allow",
                 "Principal": {"AWS": principal} if principal else "*",
                 "Action": action or _ACTION_MARK, "Resource": resource or "*"}
        if narrowed and decide({"Statement": kept}, principal, service, action).get("allowed"):
            grant = None     # with the Deny narrowed, an Allow already there admits it
        policy = {"Version": doc.get("Version") or "2012-10-17", "Statement": kept + ([grant] if grant else [])}
        text = json.dumps(policy, separators=(",", ":"))
        word: Any = text
        if not action:   # the engineer names the call: "$ACTION" expands inside the quoted document
            before, after = text.split(_ACTION_MARK, 1)
            word = {"var": "ACTION", "prefix": before, "suffix": after}
        command = ["aws", "ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", endpoint.get("id"),
                   "--policy-document", word]
    else:   # shown, not changed
        command = ["aws", "ec2", "describe-vpc-endpoints", "--vpc-endpoint-ids", endpoint.get("id"),
                   "--query", "VpcEndpoints[0].PolicyDocument", "--output", "text"]
    return {"pair": pair.label, "endpoint": endpoint.get("id"), "service": endpoint.get("service"),
            "principal": principal, "action": action, "reason": d["reason"], "statement": d.get("statement"),
            "iam_prefix": service, "changes_policy": kept is not None, "narrowed": narrowed,
            "explicit": bool(d.get("explicit")), "source": pair.source["name"],
            "statements": [json.dumps(s, separators=(",", ":")) for s in statements], "command": command}


def _unused_sid(statements: list[dict]) -> str:
    used = {str(s.get("Sid")) for s in statements if s.get("Sid")}
    sid, n = "AllowFromTriageFix", 2
    while sid in used:
        sid, n = f"AllowFromTriageFix{n}", n + 1
    return sid


def _summary(blocks: list[dict]) -> dict | None:
    if not blocks:
        return None
    b = blocks[0]
    who = b["principal"] or "this caller"
    what = b["action"] or f"{b['iam_prefix']}:*"
    title = f"The policy of endpoint {b['endpoint']} ({b['service']}) denies {b['source']}"
    explanation = (f"{b['source']} reaches {b['service']} through the interface endpoint {b['endpoint']}, and every "
                   f"request through an endpoint must be allowed by its endpoint policy: {b['reason']}. The network "
                   f"path is open, but the calls are refused (AccessDenied naming the VPC endpoint).")
    if b["explicit"] and b["statement"] and not b["changes_policy"]:
        fix = (f"Statement {b['statement']} denies it explicitly, and an explicit Deny cannot be overridden by an "
               f"Allow. triage does not print a change: the Deny also covers other callers or calls (or matches "
               f"this one through a wildcard), so taking this request out of it is a decision for its owner. The "
               f"command shows the current policy"
               + ("" if b["action"] else f"; run again with --action {b['iam_prefix']}:NAME to have it narrowed "
                                         f"exactly when it can be") + ".")
    elif b["explicit"] and b["statement"]:
        fix = (f"Statement {b['statement']} denies it explicitly: the command takes exactly {who} calling "
               f"{b['action']} out of it (every other caller and call stays denied, checked by the IAM evaluator) "
               f"and keeps the policy's other statements.")
    elif b["action"]:
        fix = f"Add an Allow for {who} to call {b['action']} and nothing else (the command keeps the policy's other statements)."
    else:
        fix = (f"Add an Allow for {who} to call the one action it needs (the command keeps the policy's other "
               f"statements). ACTION: that action, e.g. {b['iam_prefix']}:SendMessage; or run again with --action "
               f"{b['iam_prefix']}:NAME to have it filled in.")
    evidence = {"endpoint": b["endpoint"], "service": b["service"], "principal": b["principal"],
                "action": b["action"] or "(any; pass --action for one call)", "reason": b["reason"],
                "policy_statements": b["statements"], "blocked_paths": [x["pair"] for x in blocks]}
    return {"title": title, "explanation": explanation, "fix_text": fix,
            "commands": [x["command"] for x in blocks][:1], "evidence": evidence, "count": len(blocks)}
