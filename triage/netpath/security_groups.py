"""Security groups: allow rules only, every rule of every group on the
interface counts (their union), and they are stateful, so the reply to an
allowed connection is always let back in and out: only the egress of the
source and the ingress of the destination decide.

VPC User Guide, "Security group rules" and "Control traffic to your AWS
resources using security groups":
https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html
https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html"""
from __future__ import annotations

import json
from typing import Any

from . import addr
from .pairs import which_destination, Pair, certainty, pairs

TCP = ("-1", "tcp", "6", "all")


def rule_ports(rule: dict) -> addr.Range:
    if str(rule.get("IpProtocol")).lower() in ("-1", "all"):
        return addr.ALL_PORTS
    lo, hi = rule.get("FromPort"), rule.get("ToPort")
    if lo is None or hi is None or lo == -1:
        return addr.ALL_PORTS
    return (int(lo), int(hi))


def show_rule(group_id: str, rule: dict, direction: str) -> list[str]:
    """One line per peer of an IpPermission: 'sg-1 egress tcp 5432 to 10.0.0.0/16'."""
    proto = str(rule.get("IpProtocol")).lower()
    proto = "all traffic" if proto in ("-1", "all") else proto
    ports = "" if proto == "all traffic" else " " + addr.show_ports(rule_ports(rule))
    word = "to" if direction == "egress" else "from"
    peers = [r.get("CidrIp") for r in rule.get("IpRanges") or []]
    peers += [r.get("CidrIpv6") for r in rule.get("Ipv6Ranges") or []]
    peers += [p.get("GroupId") for p in rule.get("UserIdGroupPairs") or []]
    peers += [p.get("PrefixListId") for p in rule.get("PrefixListIds") or []]
    return [f"{group_id} {direction} {proto}{ports} {word} {p}" for p in peers if p]


def covered(groups: list[dict], direction: str, request: addr.Box, *, peer_groups: list[str],
            reference_ok: bool, prefix_lists: dict | None = None, via_prefix_list: str | None = None
            ) -> tuple[list[str], list[addr.Box]]:
    """(rules that allow part of `request`, the part no rule allows). Rules are
    allow-only and unioned over all groups; a rule naming a security group
    covers the peer when the peer's interface is in that group and the
    reference can work (same VPC or a peering connection); a rule naming a
    prefix list covers the service behind it (a gateway endpoint) or the
    prefix list's CIDRs."""
    key = "IpPermissionsEgress" if direction == "egress" else "IpPermissions"
    remaining = [request]
    allowed_by: list[str] = []
    for g in groups:
        for rule in g.get(key) or []:
            if str(rule.get("IpProtocol")).lower() not in TCP:
                continue
            ports = rule_ports(rule)
            boxes: list[tuple[addr.Box, str]] = []
            for r in rule.get("IpRanges") or []:
                span = addr.cidr(r.get("CidrIp"))
                if span:
                    boxes.append(((span, ports), r.get("CidrIp")))
            for p in rule.get("UserIdGroupPairs") or []:
                if reference_ok and p.get("GroupId") in peer_groups:
                    boxes.append(((request[0], ports), p.get("GroupId")))
            for p in rule.get("PrefixListIds") or []:
                pl = p.get("PrefixListId")
                if via_prefix_list and pl == via_prefix_list:
                    boxes.append(((request[0], ports), pl))
                for c in (prefix_lists or {}).get(pl) or []:
                    span = addr.cidr(c)
                    if span:
                        boxes.append(((span, ports), f"{pl} ({c})"))
            for box, peer in boxes:
                if any(addr.intersect(box, part) for part in remaining):
                    what = "all traffic" if ports == addr.ALL_PORTS else f"tcp {addr.show_ports(ports)}"
                    allowed_by.append(f"{g.get('GroupId')} {direction} {what} "
                                      f"{'to' if direction == 'egress' else 'from'} {peer}")
                    remaining = addr.subtract_all(remaining, box)
    return allowed_by, remaining


def _peered(vpc_a: str | None, vpc_b: str | None, peering: Any) -> str | None:
    """The id of an active peering connection between two VPCs, if any."""
    for p in (peering or {}).get("VpcPeeringConnections") or [] if isinstance(peering, dict) else []:
        ends = {(p.get("RequesterVpcInfo") or {}).get("VpcId"), (p.get("AccepterVpcInfo") or {}).get("VpcId")}
        if ends == {vpc_a, vpc_b} and ((p.get("Status") or {}).get("Code") or "").lower() == "active":
            return p.get("VpcPeeringConnectionId")
    return None


def reference_works(pair: Pair, peering: Any) -> bool:
    """A rule naming a security group matches traffic from/to the interfaces in
    that group within the VPC, or across a VPC peering connection in the same
    region (VPC Peering Guide, "Update your security groups to reference peer
    security groups"); not through a NAT gateway, internet gateway or transit gateway."""
    if pair.dst_subnet is None or pair.src_subnet is None:
        return False
    if pair.same_vpc:
        return True
    return _peered(pair.src_subnet["vpc"], pair.dst_subnet["vpc"], peering) is not None


def _ip_permissions(port: int, peer_kind: str, peer: str) -> str:
    perm: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if peer_kind == "group":
        perm["UserIdGroupPairs"] = [{"GroupId": peer}]
    elif peer_kind == "prefix-list":
        perm["PrefixListIds"] = [{"PrefixListId": peer}]
    else:
        perm["IpRanges"] = [{"CidrIp": peer}]
    return json.dumps([perm], separators=(",", ":"))


def evaluate(net: dict, security_groups: Any, peering: Any = None) -> dict:
    """Egress of the source's groups and ingress of the destination's groups,
    for every path. Returns {egress, ingress (summaries or null), hops, notes}."""
    by_id = {g.get("GroupId"): g for g in ((security_groups or {}).get("SecurityGroups") or [])
             if isinstance(security_groups, dict)}
    hops: list[dict] = []
    notes: list[str] = []
    blocks: dict[str, list[dict]] = {"sg-egress-blocks": [], "sg-ingress-blocks": []}
    prefix_lists = {}
    for pair in pairs(net):
        if pair.src_subnet is None:
            continue                                       # not in a VPC: no security groups of its own
        dest, src = pair.dest, pair.source
        ref_ok = reference_works(pair, peering)
        port = pair.port
        via_pl = dest.get("prefix_list") if dest.get("via") == "gateway-endpoint" else None
        if dest.get("cidrs") and dest.get("prefix_list"):
            prefix_lists[dest["prefix_list"]] = dest["cidrs"]
        # egress of the source
        if src.get("groups"):
            groups = [by_id[g] for g in src["groups"] if g in by_id]
            missing = [g for g in src["groups"] if g not in by_id]
            if missing:
                notes.append(f"security group(s) {', '.join(missing)} of {src['name']} were not described")
            request = (pair.dst_range, (port, port))
            allowed, left = covered(groups, "egress", request, peer_groups=dest.get("groups") or [],
                                    reference_ok=ref_ok, prefix_lists=prefix_lists, via_prefix_list=via_pl)
            status = certainty(request, left, pair.dst_exact)
            text = (f"egress of {', '.join(src['groups'])}: tcp {port} to {pair.dst_label} "
                    + ("allowed by " + "; ".join(allowed[:2]) if status != "blocked" else "is not allowed by any rule"))
            if status == "caveat":
                text += f" (only part of {addr.show(pair.dst_range)}: allowed if the destination's address is inside it)"
            hops.append({"pair": pair.label, "order": 20, "hop": "security group egress", "status": status, "text": text})
            if status == "blocked":
                blocks["sg-egress-blocks"].append(_egress_block(pair, groups, ref_ok, via_pl))
        else:
            hops.append({"pair": pair.label, "order": 20, "hop": "security group egress", "status": "skipped",
                         "text": f"{src['label']} has no security groups of its own (pass an instance or interface to check them)"})
        # ingress of the destination (security groups are stateful: the reply needs no rule)
        if pair.dst_subnet is not None and dest.get("groups"):
            groups = [by_id[g] for g in dest["groups"] if g in by_id]
            missing = [g for g in dest["groups"] if g not in by_id]
            if missing:
                notes.append(f"security group(s) {', '.join(missing)} of {dest['name']} were not described")
            request = (pair.src_range, (port, port))
            allowed, left = covered(groups, "ingress", request, peer_groups=src.get("groups") or [],
                                    reference_ok=ref_ok)
            status = certainty(request, left, True)
            text = (f"ingress of {', '.join(dest['groups'])}: tcp {port} from {pair.src_label} "
                    + ("allowed by " + "; ".join(allowed[:2]) if status != "blocked" else "is not allowed by any rule"))
            if status == "blocked" and allowed:
                text = (f"ingress of {', '.join(dest['groups'])}: tcp {port} is allowed from only part of "
                        f"{addr.show(pair.src_range)} ({'; '.join(allowed[:2])})")
            hops.append({"pair": pair.label, "order": 60, "hop": "security group ingress", "status": status, "text": text})
            if status == "blocked":
                blocks["sg-ingress-blocks"].append(_ingress_block(pair, groups, ref_ok, left))
        elif pair.dst_subnet is not None:
            hops.append({"pair": pair.label, "order": 60, "hop": "security group ingress", "status": "skipped",
                         "text": f"the security groups of {dest['label']} are unknown"})
        hops.append({"pair": pair.label, "order": 95, "hop": "replies", "status": "allowed",
                     "text": "security groups are stateful: replies to an allowed connection need no rule"})
    return {"egress": _summary("sg-egress-blocks", blocks["sg-egress-blocks"]),
            "ingress": _summary("sg-ingress-blocks", blocks["sg-ingress-blocks"]), "hops": hops,
            "notes": list(dict.fromkeys(notes))}


def _egress_block(pair: Pair, groups: list[dict], ref_ok: bool, via_pl: str | None) -> dict:
    dest, port = pair.dest, pair.port
    target_group = (dest.get("groups") or [None])[0] if ref_ok else None
    if target_group:
        peer_kind, peer = "group", target_group
    elif via_pl:
        peer_kind, peer = "prefix-list", via_pl
    elif dest.get("via") == "internet" and not pair.dst_exact:
        peer_kind, peer = "cidr", "0.0.0.0/0"              # the destination is the internet
    else:
        peer_kind, peer = "cidr", addr.show(pair.dst_range)
    group = pair.source["groups"][0]
    rules = [line for g in groups for r in g.get("IpPermissionsEgress") or [] for line in show_rule(g.get("GroupId"), r, "egress")]
    return {"pair": pair.label, **which_destination(pair), "source": pair.source["name"], "subnet": pair.src_subnet["id"],
            "security_groups": pair.source["groups"], "group": group, "port": port, "destination": pair.dst_label,
            "dest_name": dest["name"], "peer": peer, "peer_kind": peer_kind, "rules": rules or ["(no outbound rules)"],
            "missing": f"{group} egress tcp {port} to {peer}",
            "command": ["aws", "ec2", "authorize-security-group-egress", "--group-id", group,
                        "--ip-permissions", _ip_permissions(port, peer_kind, peer)]}


def _ingress_block(pair: Pair, groups: list[dict], ref_ok: bool, left: list) -> dict:
    dest, src, port = pair.dest, pair.source, pair.port
    group = dest["groups"][0]
    if ref_ok and src.get("groups"):
        peer, flag = src["groups"][0], "--source-group"
    else:
        peer, flag = addr.show(pair.src_range), "--cidr"
    rules = [line for g in groups for r in g.get("IpPermissions") or [] for line in show_rule(g.get("GroupId"), r, "ingress")]
    return {"pair": pair.label, **which_destination(pair), "source": src["name"], "subnet": pair.src_subnet["id"],
            "security_groups": dest["groups"], "group": group, "port": port, "destination": pair.dst_label,
            "dest_name": dest["name"], "peer": peer, "peer_kind": "group" if flag == "--source-group" else "cidr",
            "rules": rules or ["(no inbound rules)"], "missing": f"{group} ingress tcp {port} from {peer}",
            "uncovered": [addr.show(b[0]) for b in left][:4], "pair_range": addr.show(pair.src_range),
            "command": ["aws", "ec2", "authorize-security-group-ingress", "--group-id", group, "--protocol", "tcp",
                        "--port", str(port), flag, peer]}


def _summary(check: str, blocks: list[dict]) -> dict | None:
    if not blocks:
        return None
    b = blocks[0]
    more = f" (and {len(blocks) - 1} more path(s))" if len(blocks) > 1 else ""
    commands = list({json.dumps(x["command"]): x["command"] for x in blocks}.values())
    if check == "sg-egress-blocks":
        peer = {"group": f"security group {b['peer']}", "prefix-list": f"prefix list {b['peer']}",
                "cidr": b["peer"]}[b["peer_kind"]]
        title = (f"{b['source']}'s security group {b['group']} does not allow outbound TCP {b['port']} "
                 f"to {b['dest_name']}{more}")
        explanation = (f"Security groups allow only what a rule names. No outbound rule of "
                       f"{', '.join(b['security_groups'])} (the groups of {b['source']}) allows TCP {b['port']} to "
                       f"{b['destination']}, so connections from {b['source']} never leave its network interface "
                       f"and time out. The reply needs no rule: security groups are stateful.")
        fix = (f"Allow exactly this: outbound TCP {b['port']} from {b['group']} to {peer}.")
        evidence = {"security_groups": b["security_groups"], "port": b["port"], "destination": b["destination"],
                    "outbound_rules": b["rules"], "missing_rule": b["missing"], "blocked_paths": [x["pair"] for x in blocks]}
    else:
        peer = f"security group {b['peer']}" if b["peer_kind"] == "group" else b["peer"]
        title = (f"{b['dest_name']}'s security group {b['group']} does not admit {b['source']} on TCP "
                 f"{b['port']}{more}")
        partial = (f" (the rules that exist leave out {', '.join(b['uncovered'])})"
                   if b.get("uncovered") and b["uncovered"] != [b["pair_range"]] else "")
        explanation = (f"No inbound rule of {', '.join(b['security_groups'])} (the groups of {b['dest_name']}) "
                       f"allows TCP {b['port']} from {b['source']} ({b['pair'].split(' -> ')[0]}){partial}: "
                       f"its connection attempts are dropped and time out. Security groups are stateful, so "
                       f"this one inbound rule is all the path needs; no outbound rule for the reply.")
        fix = f"Admit exactly this: inbound TCP {b['port']} to {b['group']} from {peer}."
        evidence = {"security_groups": b["security_groups"], "port": b["port"], "source": b["pair"].split(" -> ")[0],
                    "inbound_rules": b["rules"], "missing_rule": b["missing"], "blocked_paths": [x["pair"] for x in blocks]}
    return {"database": b["database"], "found_in": b["found_in"],
            "title": title, "explanation": explanation, "fix_text": fix, "commands": commands[:3],
            "evidence": evidence, "count": len(blocks)}
