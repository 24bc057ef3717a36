"""What each change did, in words: the fields a call set with their value
before (from an earlier change in the window, or from the resource's
metadata: Lambda's published versions, IAM's policy versions) and after,
and for the calls whose parameters do not read as fields (a deleted queue,
a new policy version, a security group rule) a sentence.

Values stay exact here; secrets in them are masked where the timeline
leaves the process (Timeline.to_dict)."""
from __future__ import annotations

import json
from typing import Any, Callable, Protocol

from .events import Change, policy_document, statement_diff


class Baselines(Protocol):
    """What the resources looked like before the window's changes (metadata)."""

    def field_before(self, change: Change, field: str) -> tuple[bool, Any]: ...

    def policy_before(self, change: Change) -> dict | None: ...


class NoBaselines:
    def field_before(self, change: Change, field: str) -> tuple[bool, Any]:
        return False, None

    def policy_before(self, change: Change) -> dict | None:
        return None


def describe(changes: list[Change], baselines: Baselines | None = None) -> None:
    """Fill in before values and summaries, oldest change first (each
    change's "before" is what the previous one set). `last` holds each
    resource's fields by name, and what summaries remember under '#' keys."""
    baselines = baselines or NoBaselines()
    last: dict[tuple, Any] = {}
    for change in sorted(changes, key=lambda c: c.time):
        for f in change.fields:
            key = (change.resource.key, f.field)
            if key in last:
                f.before, f.before_known = last[key], True
            else:
                f.before_known, f.before = baselines.field_before(change, f.field)
            last[key] = f.after
        summarize = SUMMARIES.get(change.event)
        if summarize is not None:
            try:
                change.summary, keep_fields = summarize(change, last, baselines)
            except Exception:   # an unexpected parameter shape: the fields still say what was sent
                keep_fields = True
            if not keep_fields:
                change.fields = []


def detail(change: Change, shown: Callable[[str, Any], str] | None = None) -> str:
    """The change in one line: its summary, then 'Field before → after' for
    each field set. `shown(field, value)` formats a value (the output edge
    passes one that masks secrets)."""
    shown = shown or (lambda field, value: short(value))
    parts = [change.summary] if change.summary else []
    for f in change.fields:
        after = shown(f.field, f.after)
        if f.before_known:
            before = shown(f.field, f.before)
            parts.append(f"{f.field} {before} → {after}" if before != after else f"{f.field} {after} (unchanged)")
        else:
            parts.append(f"{f.field} set to {after}")
    return "; ".join(parts) or "(no parameters)"


def short(value: Any, limit: int = 120) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- one sentence per kind of call ----------------------------------------------------
# (change, last values by (resource key, field), baselines) -> (summary, keep the fields?)

def _deleted(change: Change, last: dict, baselines: Baselines):
    return f"{change.resource.label} {change.resource.name} deleted", False


def _param(name: str):
    def get(change: Change) -> Any:
        return change.request.get(name)
    return get


def _fixed(text: str, keep: bool = False):
    return lambda change, last, baselines: (text, keep)


def _policy_version(change: Change, last: dict, baselines: Baselines):
    after = policy_document(change.request.get("policyDocument"))
    key = (change.resource.key, "#policy")
    before = last.get(key)
    if before is None:
        before = baselines.policy_before(change)
    last[key] = after
    default = str(change.request.get("setAsDefault")).lower() == "true"
    head = "new policy version" + (" (now the default)" if default else " (not the default)")
    if before is None:
        return f"{head}; the previous version could not be read to compare", False
    return f"{head}: {_diff_words(before, after)}", False


def _inline_policy(change: Change, last: dict, baselines: Baselines):
    name = change.request.get("policyName")
    after = policy_document(change.request.get("policyDocument"))
    key = (change.resource.key, f"#inline:{name}")
    before = last.get(key)
    last[key] = after
    if before is None:
        return f"inline policy {name} set", False
    return f"inline policy {name} changed: {_diff_words(before, after)}", False


def _document(label: str, param: str):
    def summarize(change: Change, last: dict, baselines: Baselines):
        after = policy_document(change.request.get(param))
        key = (change.resource.key, f"#{label}")
        before = last.get(key)
        last[key] = after
        if before is None:
            return f"{label} replaced", False
        return f"{label} changed: {_diff_words(before, after)}", False
    return summarize


def _diff_words(before: dict | None, after: dict | None) -> str:
    removed, added = statement_diff(before, after)
    parts = [f"removed {'; '.join(removed)}"] if removed else []
    parts += [f"added {'; '.join(added)}"] if added else []
    return ", ".join(parts) or "no statement changed"


def _attached(verb: str):
    def summarize(change: Change, last: dict, baselines: Baselines):
        return f"policy {change.request.get('policyArn')} {verb}", False
    return summarize


def _sg_rules(direction: str, verb: str):
    def summarize(change: Change, last: dict, baselines: Baselines):
        rules = []
        perms = change.request.get("ipPermissions") or {}
        for p in (perms.get("items") if isinstance(perms, dict) else perms) or []:
            proto = p.get("ipProtocol")
            proto = "all traffic" if str(proto) == "-1" else proto
            ports = "" if p.get("fromPort") in (None, -1) else (
                f" {p['fromPort']}" if p.get("fromPort") == p.get("toPort") else f" {p.get('fromPort')}-{p.get('toPort')}")
            peers = [r.get("cidrIp") for r in ((p.get("ipRanges") or {}).get("items") or [])]
            peers += [g.get("groupId") for g in ((p.get("groups") or {}).get("items") or [])]
            peers += [r.get("cidrIpv6") for r in ((p.get("ipv6Ranges") or {}).get("items") or [])]
            peers += [r.get("prefixListId") for r in ((p.get("prefixListIds") or {}).get("items") or [])]
            where = "to" if direction == "outbound" else "from"
            rules.append(f"{proto}{ports} {where} {', '.join(str(x) for x in peers if x) or '?'}")
        if not rules and change.request.get("securityGroupRuleIds"):
            rules = [str(change.request["securityGroupRuleIds"])]
        return f"{direction} rule{'s' if len(rules) != 1 else ''} {verb}: {'; '.join(rules) or '?'}", False
    return summarize


def _parameters(change: Change, last: dict, baselines: Baselines):
    params = change.request.get("parameters") or []
    params = params.get("items", params) if isinstance(params, dict) else params
    parts = []
    for p in params if isinstance(params, list) else []:
        if isinstance(p, dict):
            key = (change.resource.key, f"#parameter:{p.get('parameterName')}")
            before = last.get(key)
            last[key] = p.get("parameterValue")
            arrow = f"{short(before)} → " if before is not None else "set to "
            parts.append(f"{p.get('parameterName')} {arrow}{short(p.get('parameterValue'))}")
    return "parameters: " + ("; ".join(parts) or "?"), False


def _permission(verb: str):
    def summarize(change: Change, last: dict, baselines: Baselines):
        r = change.request
        text = f"permission {r.get('statementId') or '?'} {verb}"
        if verb == "added" and (r.get("principal") or r.get("action")):
            text += f": {r.get('principal')} may {r.get('action')}"
            if r.get("sourceArn"):
                text += f" from {r.get('sourceArn')}"
        return text, False
    return summarize


def _route(verb: str):
    def summarize(change: Change, last: dict, baselines: Baselines):
        r = change.request
        dest = r.get("destinationCidrBlock") or r.get("destinationIpv6CidrBlock") or r.get("destinationPrefixListId")
        target = next((r[k] for k in ("natGatewayId", "gatewayId", "transitGatewayId", "vpcPeeringConnectionId",
                                      "networkInterfaceId", "instanceId") if r.get(k)), None)
        return f"route {dest} {verb}" + (f" via {target}" if target and verb != "deleted" else ""), False
    return summarize


def _acl_rule_text(r: dict) -> str:
    """'allow tcp 5432 to 10.0.0.0/16' from a network ACL entry's request parameters."""
    proto = str(r.get("protocol") if r.get("protocol") is not None else "?")
    proto = {"-1": "all traffic", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}.get(proto, f"protocol {proto}")
    ports = r.get("portRange") if isinstance(r.get("portRange"), dict) else {}
    lo, hi = ports.get("from"), ports.get("to")
    span = "" if proto == "all traffic" or lo is None else (f" {lo}" if lo == hi else f" {lo}-{hi}")
    where = "to" if str(r.get("egress")).lower() == "true" else "from"
    cidr = r.get("cidrBlock") or r.get("ipv6CidrBlock") or "?"
    return f"{r.get('ruleAction') or '?'} {proto}{span} {where} {cidr}"


def _acl_entry(verb: str):
    """Create/Replace/DeleteNetworkAclEntry: the rule, before → after when an
    earlier change in the window set it (the event carries only the new rule)."""
    def summarize(change: Change, last: dict, baselines: Baselines):
        r = change.request
        direction = "outbound" if str(r.get("egress")).lower() == "true" else "inbound"
        key = (change.resource.key, f"#acl:{direction}:{r.get('ruleNumber')}")
        before = last.get(key)
        after = None if verb == "deleted" else _acl_rule_text(r)
        last[key] = after
        head = f"{direction} rule {r.get('ruleNumber', '?')} {verb}"
        if verb == "deleted":
            return head + (f" (was: {before})" if before else ""), False
        if verb == "replaced" and before:
            return f"{head}: {before} → {after}", False
        return f"{head}: {after}", False
    return summarize


def _route_change(verb: str):
    """Create/Replace/DeleteRoute, before → after when an earlier change in the window set the route."""
    plain = _route(verb)

    def summarize(change: Change, last: dict, baselines: Baselines):
        r = change.request
        dest = r.get("destinationCidrBlock") or r.get("destinationIpv6CidrBlock") or r.get("destinationPrefixListId")
        target = next((r[k] for k in ("natGatewayId", "gatewayId", "transitGatewayId", "vpcPeeringConnectionId",
                                      "networkInterfaceId", "instanceId", "vpcEndpointId") if r.get(k)), None)
        key = (change.resource.key, f"#route:{dest}")
        before = last.get(key)
        last[key] = None if verb == "deleted" else target
        if before and verb == "replaced":
            return f"route {dest} replaced: via {before} → via {target}", False
        if before and verb == "deleted":
            return f"route {dest} deleted (was via {before})", False
        return plain(change, last, baselines)
    return summarize


def _association(what: str):
    def summarize(change: Change, last: dict, baselines: Baselines):
        r = change.request
        target = r.get("networkAclId") if what == "network ACL" else r.get("routeTableId")
        subnet = r.get("subnetId")
        if change.event.startswith("Disassociate"):
            return f"{what} association {r.get('associationId') or '?'} removed", False
        return (f"{what} association {r.get('associationId') or 'of ' + str(subnet or '?')} now uses {target}"
                if change.event.startswith("Replace") else f"{what} {target} associated with {subnet or '?'}"), False
    return summarize


def _sg_rule_modified(change: Change, last: dict, baselines: Baselines):
    rules = change.request.get("securityGroupRules") or {}
    items = rules.get("items") if isinstance(rules, dict) else rules
    parts = []
    for item in items or []:
        rule = (item or {}).get("securityGroupRule") or {}
        proto = "all traffic" if str(rule.get("ipProtocol")) == "-1" else rule.get("ipProtocol")
        ports = "" if rule.get("fromPort") in (None, -1) else (
            f" {rule['fromPort']}" if rule.get("fromPort") == rule.get("toPort") else f" {rule.get('fromPort')}-{rule.get('toPort')}")
        peer = rule.get("cidrIpv4") or rule.get("cidrIpv6") or rule.get("referencedGroupId") or rule.get("prefixListId")
        parts.append(f"{item.get('securityGroupRuleId')} now {proto}{ports} {peer or '?'}")
    return "rules modified: " + ("; ".join(parts) or "?"), False


def _mapping(change: Change, last: dict, baselines: Baselines):
    enabled = change.request.get("enabled")
    if enabled is None:
        return None, True
    return ("mapping disabled" if str(enabled).lower() == "false" else "mapping enabled"), True


SUMMARIES: dict[str, Callable] = {
    **{name: _deleted for name in (
        "DeleteQueue", "DeleteTable", "DeleteStream", "DeleteFunction", "DeleteBucket", "DeleteDBInstance",
        "DeleteDBCluster", "DeleteDBProxy", "DeleteTrail", "DeleteEventSourceMapping", "DeleteRole", "DeleteUser",
        "DeleteGroup", "DeletePolicy", "DeleteSecurityGroup", "DeleteNatGateway", "DeleteLogGroup", "DeleteTopic",
        "DeleteSubnet", "DeleteRouteTable", "DeleteNetworkAcl", "DeleteDBParameterGroup", "TerminateInstances")},
    "StopLogging": _fixed("logging stopped"),
    "StartLogging": _fixed("logging started"),
    "PurgeQueue": _fixed("queue purged"),
    "CreatePolicyVersion": _policy_version,
    "SetDefaultPolicyVersion": lambda c, last, b: (f"default version set to {c.request.get('versionId')}", False),
    "DeletePolicyVersion": lambda c, last, b: (f"version {c.request.get('versionId')} deleted", False),
    **{f"Attach{who}Policy": _attached("attached") for who in ("Role", "User", "Group")},
    **{f"Detach{who}Policy": _attached("detached") for who in ("Role", "User", "Group")},
    **{f"Put{who}Policy": _inline_policy for who in ("Role", "User", "Group")},
    **{f"Delete{who}Policy": (lambda c, last, b: (f"inline policy {c.request.get('policyName')} deleted", False))
       for who in ("Role", "User", "Group")},
    "PutBucketPolicy": _document("bucket policy", "policy"),
    "DeleteBucketPolicy": _fixed("bucket policy deleted"),
    "UpdateAssumeRolePolicy": _document("trust policy", "policyDocument"),
    "PutRolePermissionsBoundary": lambda c, last, b: (
        f"permissions boundary set to {c.request.get('permissionsBoundary')}", False),
    "PutUserPermissionsBoundary": lambda c, last, b: (
        f"permissions boundary set to {c.request.get('permissionsBoundary')}", False),
    "DeleteRolePermissionsBoundary": _fixed("permissions boundary removed"),
    "DeleteUserPermissionsBoundary": _fixed("permissions boundary removed"),
    "RemoveUserFromGroup": lambda c, last, b: (f"user {c.request.get('userName')} removed from "
                                               f"{c.request.get('groupName')}", False),
    "AddUserToGroup": lambda c, last, b: (f"user {c.request.get('userName')} added to {c.request.get('groupName')}",
                                          False),
    "AuthorizeSecurityGroupIngress": _sg_rules("inbound", "added"),
    "AuthorizeSecurityGroupEgress": _sg_rules("outbound", "added"),
    "RevokeSecurityGroupIngress": _sg_rules("inbound", "removed"),
    "RevokeSecurityGroupEgress": _sg_rules("outbound", "removed"),
    "ModifySecurityGroupRules": _sg_rule_modified,
    "CreateRoute": _route_change("added"),
    "ReplaceRoute": _route_change("replaced"),
    "DeleteRoute": _route_change("deleted"),
    "AssociateRouteTable": _association("route table"),
    "ReplaceRouteTableAssociation": _association("route table"),
    "DisassociateRouteTable": _association("route table"),
    "CreateNetworkAclEntry": _acl_entry("added"),
    "ReplaceNetworkAclEntry": _acl_entry("replaced"),
    "DeleteNetworkAclEntry": _acl_entry("deleted"),
    "ReplaceNetworkAclAssociation": _association("network ACL"),
    "UpdateFunctionCode": _fixed("code updated"),
    "DeleteFunctionConcurrency": _fixed("reserved concurrency removed (unbounded again)"),
    "AddPermission": _permission("added"),
    "RemovePermission": _permission("removed"),
    "UpdateEventSourceMapping": _mapping,
    "PutBucketNotification": _fixed("bucket notifications replaced"),
    "PutBucketNotificationConfiguration": _fixed("bucket notifications replaced"),
    "DeletePublicAccessBlock": _fixed("Block Public Access removed"),
    "DeleteBucketPublicAccessBlock": _fixed("Block Public Access removed"),
    "ModifyDBParameterGroup": _parameters,
    "ResetDBParameterGroup": _fixed("parameters reset to the engine defaults"),
    "RebootDBInstance": _fixed("rebooted"),
}
