"""Network ACLs: one per subnet (its explicit association, else the VPC's
default ACL), rules in ascending rule number, the first rule that matches
decides, and the final `*` rule denies. They are stateless: a connection
needs the request allowed out of the source subnet and into the
destination subnet, and the reply (to the client's ephemeral ports)
allowed out of the destination subnet and back into the source subnet.
Rules are evaluated when traffic enters or leaves a subnet, not within it.

VPC User Guide, "Network ACL basics", "Network ACL rules", "Ephemeral ports":
https://docs.aws.amazon.com/vpc/latest/userguide/nacl-basics.html
https://docs.aws.amazon.com/vpc/latest/userguide/nacl-rules.html
https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html"""
from __future__ import annotations

import json
from typing import Any

from . import addr
from .pairs import which_destination, Pair, certainty, pairs

DEFAULT_RULE = 32767          # the `*` rule as DescribeNetworkAcls reports it


def entry_ports(entry: dict) -> addr.Range:
    if str(entry.get("Protocol")) == "-1":
        return addr.ALL_PORTS
    pr = entry.get("PortRange") or {}
    if pr.get("From") is None or pr.get("To") is None:
        return addr.ALL_PORTS
    return (int(pr["From"]), int(pr["To"]))


def show_entry(entry: dict | None) -> str:
    if entry is None or int(entry.get("RuleNumber", DEFAULT_RULE)) >= DEFAULT_RULE:
        return "rule * deny all traffic (the default rule)"
    proto = {"-1": "all traffic", "6": "tcp", "17": "udp", "1": "icmp"}.get(str(entry.get("Protocol")), f"protocol {entry.get('Protocol')}")
    ports = "" if proto == "all traffic" else " " + addr.show_ports(entry_ports(entry))
    word = "to" if entry.get("Egress") else "from"
    return (f"rule {entry.get('RuleNumber')} {str(entry.get('RuleAction')).lower()} {proto}{ports} "
            f"{word} {entry.get('CidrBlock') or entry.get('Ipv6CidrBlock')}")


def decide(entries: list[dict], egress: bool, request: addr.Box) -> list[tuple[dict | None, str, addr.Box]]:
    """First match wins, in rule-number order: every part of `request` gets the
    action of the first rule that matches it, else the `*` rule's deny.
    Returns (entry or None for `*`, 'allow'|'deny', part)."""
    rules = sorted((e for e in entries or [] if bool(e.get("Egress")) == egress and e.get("CidrBlock")
                    and str(e.get("Protocol")) in ("-1", "6")),
                   key=lambda e: int(e.get("RuleNumber", DEFAULT_RULE)))
    remaining = [request]
    out: list[tuple[dict | None, str, addr.Box]] = []
    for e in rules:
        if not remaining:
            break
        span = addr.cidr(e.get("CidrBlock"))
        if span is None:
            continue
        box = (span, entry_ports(e))
        star = int(e.get("RuleNumber", DEFAULT_RULE)) >= DEFAULT_RULE
        for part in remaining:
            inter = addr.intersect(part, box)
            if inter:
                out.append((None if star else e, str(e.get("RuleAction")).lower(), inter))
        remaining = addr.subtract_all(remaining, box)
    out += [(None, "deny", part) for part in remaining]     # the * rule
    return out


def acl_of(subnet_id: str, vpc: str | None, acls: list[dict]) -> dict | None:
    for a in acls:
        if any(x.get("SubnetId") == subnet_id for x in a.get("Associations") or []):
            return a
    return next((a for a in acls if a.get("IsDefault") and a.get("VpcId") == vpc), None)


def free_rule_number(entries: list[dict], egress: bool, before: int) -> int | None:
    """An unused rule number below `before` (the rule that decides now), preferring
    multiples of 10: the new rule must be evaluated first."""
    used = {int(e.get("RuleNumber", 0)) for e in entries or [] if bool(e.get("Egress")) == egress}
    top = min(before, DEFAULT_RULE) - 1
    if before >= DEFAULT_RULE:                     # decided by `*`: after the last numbered rule is fine
        numbered = [n for n in used if n < DEFAULT_RULE]
        start = ((max(numbered) // 100) + 1) * 100 if numbered else 100
        for n in range(min(start, 32766), 0, -1):
            if n not in used and (n % 10 == 0 or n == 32766):
                return n
    for n in range(top, 0, -1):
        if n % 10 == 0 and n not in used:
            return n
    return next((n for n in range(top, 0, -1) if n not in used), None)


def _legs(pair: Pair) -> list[dict]:
    """The four crossings of a subnet boundary a TCP connection makes."""
    port, eph = pair.port, tuple(pair.source["ephemeral"])
    legs = []
    if pair.src_subnet is not None:
        legs.append({"subnet": pair.src_subnet, "egress": True, "peer": pair.dst_range, "peer_exact": pair.dst_exact,
                     "ports": (port, port), "traffic": "request", "check": "nacl-outbound-blocks", "order": 30})
    if pair.dst_subnet is not None:
        legs.append({"subnet": pair.dst_subnet, "egress": False, "peer": pair.src_range, "peer_exact": True,
                     "ports": (port, port), "traffic": "request", "check": "nacl-inbound-blocks", "order": 50})
        legs.append({"subnet": pair.dst_subnet, "egress": True, "peer": pair.src_range, "peer_exact": True,
                     "ports": eph, "traffic": "return", "check": "nacl-outbound-blocks", "order": 80})
    if pair.src_subnet is not None:
        legs.append({"subnet": pair.src_subnet, "egress": False, "peer": pair.dst_range, "peer_exact": pair.dst_exact,
                     "ports": eph, "traffic": "return", "check": "nacl-inbound-blocks", "order": 90})
    return legs


def _nat_legs(pair: Pair, tables: list, nats: dict) -> list[dict]:
    """Traffic to the internet through a NAT gateway crosses the NAT gateway's
    own subnet too: in from the source and out to the destination, and the
    reply in from the destination (to the NAT gateway's ports 1024-65535) and
    out to the source (to its ephemeral ports). Its network ACL filters all four
    (VPC User Guide, "Network ACL rules" example for a NAT gateway)."""
    from . import routes
    if pair.src_subnet is None or pair.dst_subnet is not None or not tables:
        return []
    table, _ = routes.table_for(pair.src_subnet["id"], pair.src_subnet["vpc"], tables)
    route = routes.lookup(table, pair.dst_range if pair.dst_exact else addr.ALL_V4) if table else None
    if route is None or routes.kind_of(routes.target_of(route)) != "nat-gateway":
        return []
    nat = nats.get(routes.target_of(route))
    if not nat or not nat.get("SubnetId"):
        return []
    where = {"id": nat["SubnetId"], "vpc": nat.get("VpcId") or pair.src_subnet["vpc"]}
    owner = f"NAT gateway {nat.get('NatGatewayId')}"
    port, eph = pair.port, tuple(pair.source["ephemeral"])
    legs = [{"subnet": where, "egress": True, "peer": pair.dst_range, "peer_exact": pair.dst_exact,
             "ports": (port, port), "traffic": "request", "check": "nacl-outbound-blocks", "order": 44, "owner": owner},
            {"subnet": where, "egress": False, "peer": pair.dst_range, "peer_exact": pair.dst_exact,
             "ports": tuple(EPHEMERAL_NAT), "traffic": "return", "check": "nacl-inbound-blocks", "order": 86,
             "owner": owner, "ephemeral_source": "A NAT gateway uses ports 1024-65535"}]
    if nat["SubnetId"] != pair.src_subnet["id"]:       # within one subnet no ACL applies
        legs += [{"subnet": where, "egress": False, "peer": pair.src_range, "peer_exact": True,
                  "ports": (port, port), "traffic": "request", "check": "nacl-inbound-blocks", "order": 42,
                  "owner": owner},
                 {"subnet": where, "egress": True, "peer": pair.src_range, "peer_exact": True, "ports": eph,
                  "traffic": "return", "check": "nacl-outbound-blocks", "order": 88, "owner": owner}]
    return sorted(legs, key=lambda leg: leg["order"])


EPHEMERAL_NAT = (1024, 65535)


def evaluate(net: dict, network_acls: Any, route_tables: Any = None, nat_gateways: Any = None) -> dict:
    """Both subnets' ACLs, both directions; with the route tables and NAT
    gateways, also the ACL of the NAT gateway's subnet on the way to the internet."""
    acls = list((network_acls or {}).get("NetworkAcls") or []) if isinstance(network_acls, dict) else []
    tables = list((route_tables or {}).get("RouteTables") or []) if isinstance(route_tables, dict) else []
    nats = {n.get("NatGatewayId"): n for n in ((nat_gateways or {}).get("NatGateways") or [])
            if isinstance(nat_gateways, dict)}
    hops: list[dict] = []
    notes: list[str] = []
    blocks: dict[str, list[dict]] = {"nacl-outbound-blocks": [], "nacl-inbound-blocks": []}
    on_path: list[str] = []       # the ACLs the paths go through (what a change timeline follows)
    for pair in pairs(net):
        if pair.src_subnet is None:
            continue
        if pair.same_subnet:
            hops.append({"pair": pair.label, "order": 30, "hop": "network ACL", "status": "allowed",
                         "text": f"same subnet {pair.src_subnet['id']}: network ACLs apply only where traffic "
                                 "enters or leaves a subnet"})
            continue
        for leg in _legs(pair) + _nat_legs(pair, tables, nats):
            subnet = leg["subnet"]
            acl = acl_of(subnet["id"], subnet["vpc"], acls)
            if acl is not None and acl.get("NetworkAclId") not in on_path:
                on_path.append(acl.get("NetworkAclId"))
            direction = "outbound" if leg["egress"] else "inbound"
            if acl is None:
                notes.append(f"the network ACL of {subnet['id']} was not described")
                hops.append({"pair": pair.label, "order": leg["order"], "hop": f"network ACL {direction}",
                             "status": "skipped", "text": f"the network ACL of {subnet['id']} is unknown"})
                continue
            request = (leg["peer"], leg["ports"])
            decisions = decide(acl.get("Entries") or [], leg["egress"], request)
            denied = [d for d in decisions if d[1] != "allow"]
            status = certainty(request, [d[2] for d in denied], leg["peer_exact"])
            word = "to" if leg["egress"] else "from"
            what = (f"tcp {addr.show_ports(leg['ports'])} {word} {addr.show(leg['peer'])}"
                    + (" (return traffic on ephemeral ports)" if leg["traffic"] == "return" else ""))
            first = decisions[0] if decisions else None
            rule = show_entry(denied[0][0] if status == "blocked" else (first[0] if first else None))
            text = f"{acl.get('NetworkAclId')} ({subnet['id']}) {direction} {what}: " + \
                   (f"denied by {rule}" if status == "blocked" else f"allowed by {show_entry(first[0]) if first else '?'}")
            if status == "caveat":
                text += " (denied for part of the range: allowed if the destination's address is outside it)"
            hops.append({"pair": pair.label, "order": leg["order"],
                         "hop": f"network ACL {direction}" + (" (NAT)" if leg.get("owner") else ""),
                         "status": status, "text": text})
            if status == "blocked":
                blocks[leg["check"]].append(_block(pair, leg, acl, denied))
    return {"outbound": _summary("nacl-outbound-blocks", blocks["nacl-outbound-blocks"]),
            "inbound": _summary("nacl-inbound-blocks", blocks["nacl-inbound-blocks"]),
            "hops": hops, "notes": list(dict.fromkeys(notes)), "network_acls": on_path}


def _block(pair: Pair, leg: dict, acl: dict, denied: list) -> dict:
    entry = denied[0][0]
    number = int(entry.get("RuleNumber")) if entry else DEFAULT_RULE
    entries = acl.get("Entries") or []
    new = free_rule_number(entries, leg["egress"], number)
    lo, hi = leg["ports"]
    if pair.dst_subnet is None and not pair.dst_exact and leg["peer"] == addr.ALL_V4:
        peer_cidr = "0.0.0.0/0"                          # the destination is the internet
    else:
        peer_cidr = addr.show(leg["peer"])
    rules = [show_entry(e) for e in sorted(entries, key=lambda e: int(e.get("RuleNumber", DEFAULT_RULE)))
             if bool(e.get("Egress")) == leg["egress"] and e.get("CidrBlock")]
    command = ["aws", "ec2", "create-network-acl-entry", "--network-acl-id", acl.get("NetworkAclId"),
               "--egress" if leg["egress"] else "--ingress", "--rule-number", str(new), "--protocol", "tcp",
               "--port-range", f"From={lo},To={hi}", "--cidr-block", peer_cidr, "--rule-action", "allow"] if new else None
    return {"pair": pair.label, **which_destination(pair), "acl": acl.get("NetworkAclId"), "subnet": leg["subnet"]["id"],
            "direction": "outbound" if leg["egress"] else "inbound", "traffic": leg["traffic"],
            "ports": addr.show_ports(leg["ports"]), "peer": peer_cidr, "rule": show_entry(entry),
            "rule_number": number if entry else "*", "rules": rules or ["rule * deny all traffic (the default rule)"],
            "source": pair.source["name"], "dest_name": pair.dest["name"], "port": pair.port,
            "ephemeral_source": leg.get("ephemeral_source") or pair.source.get("ephemeral_source"),
            "new_rule_number": new, "owner": leg.get("owner"),
            "side": "source" if leg["subnet"] is pair.src_subnet else "destination", "command": command}


def _summary(check: str, blocks: list[dict]) -> dict | None:
    if not blocks:
        return None
    b = blocks[0]
    more = f" (and {len(blocks) - 1} more)" if len(blocks) > 1 else ""
    owner = b.get("owner") or (b["source"] if b["side"] == "source" else b["dest_name"])
    if b["traffic"] == "return":
        word = "to" if b["direction"] == "outbound" else "from"
        peer_end = b["source"] if b["direction"] == "outbound" else b["dest_name"]
        title = (f"Network ACL {b['acl']} ({b['subnet']}, {owner}) blocks the {b['direction']} return traffic "
                 f"{word} {peer_end} on ephemeral ports {b['ports']}{more}")
        explanation = (f"Network ACLs are stateless: allowing the connection (TCP {b['port']}) is not enough, the "
                       f"reply must be allowed too. It goes {b['direction']} through {b['acl']} of {b['subnet']} "
                       f"{word} {b['peer']} on the client's ephemeral ports {b['ports']} "
                       f"({b['ephemeral_source']}), and {b['rule']} drops it. The connection fails silently: "
                       f"the request arrives, the answer never does.")
        fix = (f"Add an {b['direction']} rule for the return traffic only: TCP {b['ports']} {word} {b['peer']}, "
               f"numbered {b['new_rule_number']} so it is evaluated before {('rule ' + str(b['rule_number'])) if b['rule_number'] != '*' else 'the * rule'}.")
    else:
        word = "to" if b["direction"] == "outbound" else "from"
        title = (f"Network ACL {b['acl']} ({b['subnet']}, {owner}) denies {b['direction']} TCP {b['port']} "
                 f"{word} {b['peer']}{more}")
        explanation = (f"Rules of a network ACL are evaluated in rule-number order and the first match decides; "
                       f"the connection from {b['source']} to {b['dest_name']} on TCP {b['port']} leaves or enters "
                       f"{b['subnet']} through {b['acl']}, where {b['rule']} decides: it is dropped.")
        fix = (f"Allow exactly this {b['direction']} traffic: TCP {b['port']} {word} {b['peer']}, numbered "
               f"{b['new_rule_number']} so it comes before {('rule ' + str(b['rule_number'])) if b['rule_number'] != '*' else 'the * rule'}"
               + (". A deny rule is often deliberate: check why it is there first." if b["rule_number"] != "*" else "."))
    if b["new_rule_number"] is None:
        fix += f" There is no free rule number below {b['rule_number']}: renumber the rules (replace-network-acl-entry)."
    commands = [c for c in {json.dumps(x["command"]): x["command"] for x in blocks if x["command"]}.values()]
    evidence = {"network_acl": b["acl"], "subnet": b["subnet"], "direction": b["direction"],
                "traffic": "return traffic on ephemeral ports" if b["traffic"] == "return" else "request",
                "ports": b["ports"], "cidr": b["peer"], "decided_by": b["rule"], "rules": b["rules"],
                "blocked_paths": [f"{x['pair']}: {x['acl']} {x['direction']} {x['traffic']}" for x in blocks]}
    return {"database": b["database"], "found_in": b["found_in"],
            "title": title, "explanation": explanation, "fix_text": fix, "commands": commands[:3],
            "evidence": evidence, "count": len(blocks)}
