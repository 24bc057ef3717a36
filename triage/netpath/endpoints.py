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


def _block(pair, endpoint: dict, principal: str | None, service: str, action: str | None, resource: str | None,
           d: dict) -> dict:
    doc = _document(endpoint.get("policy")) or {"Statement": []}
    statements = [s for s in _list(doc.get("Statement")) if isinstance(s, dict)]
    kept = statements
    if d.get("explicit") and d.get("statement"):
        kept = [s for i, s in enumerate(statements) if (s.get("Sid") or f"#{i}") != d["statement"]]
    grant = {"Sid": "AllowFromTriageFix", "Effect": "Allow",
             "Principal": {"AWS": principal} if principal else "*",
             "Action": action or f"{service}:*", "Resource": resource or "*"}
    policy = {"Version": doc.get("Version") or "2012-10-17", "Statement": kept + [grant]}
    command = ["aws", "ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", endpoint.get("id"),
               "--policy-document", json.dumps(policy, separators=(",", ":"))]
    return {"pair": pair.label, "endpoint": endpoint.get("id"), "service": endpoint.get("service"),
            "principal": principal, "action": action, "reason": d["reason"], "statement": d.get("statement"),
            "iam_prefix": service,
            "explicit": bool(d.get("explicit")), "source": pair.source["name"],
            "statements": [json.dumps(s, separators=(",", ":")) for s in statements], "command": command}


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
    if b["explicit"] and b["statement"]:
        fix = (f"Statement {b['statement']} denies it explicitly, and an explicit Deny cannot be overridden by an "
               f"Allow: the command below replaces the policy without that statement and with an Allow for {who} "
               f"to {what} only. Check why the Deny is there before applying it.")
    elif b["action"]:
        fix = f"Add an Allow for {who} to call {b['action']} and nothing else (the command keeps the policy's other statements)."
    else:
        fix = (f"Add an Allow for {who} (the command keeps the policy's other statements). It allows "
               f"{b['iam_prefix']}:* because the call is unknown: run again with --action {b['iam_prefix']}:NAME "
               f"to get a command that allows only that call.")
    evidence = {"endpoint": b["endpoint"], "service": b["service"], "principal": b["principal"],
                "action": b["action"] or "(any; pass --action for one call)", "reason": b["reason"],
                "policy_statements": b["statements"], "blocked_paths": [x["pair"] for x in blocks]}
    return {"title": title, "explanation": explanation, "fix_text": fix,
            "commands": [x["command"] for x in blocks][:1], "evidence": evidence, "count": len(blocks)}
