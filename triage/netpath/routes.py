"""Routes: a subnet uses the route table explicitly associated with it, else
its VPC's main route table; the most specific route that matches the
destination wins (longest prefix), then static routes before propagated
ones; a blackhole route drops the traffic. Across VPCs both directions need
a route: the reply is routed by the destination subnet's table.

VPC User Guide, "Subnet route tables", "Route priority"; PrivateLink Guide,
"Gateway endpoints"; VPC Peering Guide, "Update your route tables":
https://docs.aws.amazon.com/vpc/latest/userguide/subnet-route-tables.html
https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html
https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html
https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-routing.html"""
from __future__ import annotations

import json
from typing import Any

from . import addr
from .pairs import which_destination, Pair, pairs

_TARGETS = ("GatewayId", "NatGatewayId", "TransitGatewayId", "VpcPeeringConnectionId", "NetworkInterfaceId",
            "InstanceId", "EgressOnlyInternetGatewayId", "LocalGatewayId", "CarrierGatewayId", "CoreNetworkArn")


def table_for(subnet_id: str, vpc: str | None, tables: list[dict]) -> tuple[dict | None, str]:
    """(route table, 'explicit'|'main'): the explicit association, else the main table."""
    for t in tables:
        if any(a.get("SubnetId") == subnet_id for a in t.get("Associations") or []):
            return t, "explicit"
    for t in tables:
        if t.get("VpcId") == vpc and any(a.get("Main") for a in t.get("Associations") or []):
            return t, "main"
    return None, "none"


def target_of(route: dict) -> str:
    for key in _TARGETS:
        if route.get(key):
            return str(route[key])
    return "?"


def kind_of(target: str) -> str:
    if target == "local":
        return "local"
    for prefix, kind in (("igw-", "internet-gateway"), ("nat-", "nat-gateway"), ("pcx-", "peering"),
                         ("tgw-", "transit-gateway"), ("vpce-", "endpoint"), ("eni-", "interface"),
                         ("i-", "instance"), ("vgw-", "vpn-gateway"), ("eigw-", "egress-only"),
                         ("lgw-", "local-gateway"), ("cagw-", "carrier-gateway")):
        if target.startswith(prefix):
            return kind
    return "other"


def show_route(route: dict) -> str:
    dest = route.get("DestinationCidrBlock") or route.get("DestinationPrefixListId") or route.get("DestinationIpv6CidrBlock")
    state = (route.get("State") or "active").lower()
    return f"{dest} -> {target_of(route)}" + ("" if state == "active" else f" ({state})")


def lookup(table: dict | None, dest: addr.Range, *, prefix_lists: dict | None = None,
           service_prefix_list: str | None = None) -> dict | None:
    """The route that carries traffic to `dest`: longest prefix among the routes
    whose destination contains it; static before propagated; a prefix-list
    route for the service the traffic goes to (gateway endpoint) matches it."""
    best: tuple | None = None
    for r in (table or {}).get("Routes") or []:
        length = None
        span = addr.cidr(r.get("DestinationCidrBlock"))
        if span and addr.contains(span, dest):
            length = addr.prefix_len(span)
        pl = r.get("DestinationPrefixListId")
        if pl:
            if service_prefix_list and pl == service_prefix_list:
                length = 33                               # the service's own addresses: more specific than any CIDR
            for c in (prefix_lists or {}).get(pl) or []:
                s = addr.cidr(c)
                if s and addr.contains(s, dest):
                    length = max(length or 0, addr.prefix_len(s))
        if length is None:
            continue
        static = 0 if (r.get("Origin") or "").startswith("EnableVgwRoutePropagation") else 1
        prefix_list_route = 0 if pl else 1          # static CIDR routes win over prefix-list routes of equal length
        key = (length, static, prefix_list_route)
        if best is None or key > best[0]:
            best = (key, r)
    return best[1] if best else None


def _peering(peering: Any, pcx: str | None = None) -> list[dict]:
    items = (peering or {}).get("VpcPeeringConnections") or [] if isinstance(peering, dict) else []
    return [p for p in items if pcx is None or p.get("VpcPeeringConnectionId") == pcx]


def _ends(p: dict) -> set:
    return {(p.get("RequesterVpcInfo") or {}).get("VpcId"), (p.get("AccepterVpcInfo") or {}).get("VpcId")}


def _active(p: dict) -> bool:
    return ((p.get("Status") or {}).get("Code") or "").lower() == "active"


def peering_between(peering: Any, a: str | None, b: str | None) -> dict | None:
    found = [p for p in _peering(peering) if _ends(p) == {a, b}]
    return next((p for p in found if _active(p)), found[0] if found else None)


def evaluate(net: dict, route_tables: Any, peering: Any = None, nat_gateways: Any = None) -> dict:
    tables = list((route_tables or {}).get("RouteTables") or []) if isinstance(route_tables, dict) else []
    nats = {n.get("NatGatewayId"): n for n in ((nat_gateways or {}).get("NatGateways") or [])
            if isinstance(nat_gateways, dict)}
    hops: list[dict] = []
    notes: list[str] = []
    blocks: list[dict] = []
    undecided: list[str] = []
    on_path: list[str] = []       # the route tables the paths (and the replies) use
    for pair in pairs(net):
        for subnet in (pair.src_subnet, pair.dst_subnet):
            table = table_for(subnet["id"], subnet["vpc"], tables)[0] if subnet else None
            if table and table.get("RouteTableId") not in on_path:
                on_path.append(table.get("RouteTableId"))
        for hop, block in _evaluate_pair(pair, tables, peering, nats, nat_gateways is not None, notes):
            hops.append({"pair": pair.label, **hop})
            if block:
                blocks.append({"pair": pair.label, **block})
            if hop["status"] == "assumed":
                undecided.append(f"{pair.label}: {hop['text']}")
    # A hop triage cannot see beyond (a transit gateway's own route tables, an
    # appliance) is not evaluated: the path is inconclusive there, never healthy.
    return {"block": _summary(blocks), "hops": hops, "notes": list(dict.fromkeys(notes)),
            "undecided": list(dict.fromkeys(undecided)) if not blocks else [], "route_tables": on_path}


def _evaluate_pair(pair: Pair, tables: list, peering: Any, nats: dict, nats_known: bool, notes: list):
    src, dest = pair.source, pair.dest
    if pair.src_subnet is None:                                  # a function outside any VPC
        if pair.dst_subnet is not None or (dest.get("via") == "private" and not dest.get("public")):
            yield _no_route(pair, None, None, "not-in-vpc", [], None)
        else:
            yield ({"order": 40, "hop": "route", "status": "allowed",
                    "text": f"{src['name']} is not attached to a VPC: Lambda's own network reaches public "
                            "addresses and AWS service endpoints"}, None)
        return
    table, how = table_for(pair.src_subnet["id"], pair.src_subnet["vpc"], tables)
    if table is None:
        notes.append(f"no route table of {pair.src_subnet['vpc']} was described")
        yield ({"order": 40, "hop": "route", "status": "skipped",
                "text": f"the route table of {pair.src_subnet['id']} is unknown"}, None)
        return
    rtb = f"{table.get('RouteTableId')} ({'explicitly associated' if how == 'explicit' else 'main table'})"
    if pair.dst_subnet is not None or dest.get("via") == "private":
        yield from _private(pair, table, rtb, tables, peering, notes)
        return
    yield from _outside(pair, table, rtb, tables, nats, nats_known, notes)


def _private(pair: Pair, table: dict, rtb: str, tables: list, peering: Any, notes: list):
    src_vpc = pair.src_subnet["vpc"]
    dst_vpc = pair.dst_subnet["vpc"] if pair.dst_subnet else pair.dest.get("vpc")
    route = lookup(table, pair.dst_range)
    state = (route or {}).get("State", "active").lower() if route else None
    if route is None:
        yield _no_route(pair, table, None, "no-route", tables, peering)
        return
    target = target_of(route)
    kind = kind_of(target)
    if state == "blackhole":
        yield _no_route(pair, table, route, "blackhole", tables, peering)
        return
    if kind == "local":
        if dst_vpc and dst_vpc != src_vpc:
            yield _no_route(pair, table, route, "local-other-vpc", tables, peering)
            return
        yield ({"order": 40, "hop": "route", "status": "allowed",
                "text": f"{rtb}: {show_route(route)} (inside {src_vpc})"}, None)
        return
    if kind == "peering":
        p = next(iter(_peering(peering, target)), None)
        if p is None:
            notes.append(f"peering connection {target} was not described")
            yield ({"order": 40, "hop": "route", "status": "skipped", "text": f"{rtb}: {show_route(route)}: "
                    f"the peering connection is unknown"}, None)
            return
        if not _active(p):
            yield _no_route(pair, table, route, "peering-inactive", tables, peering, p)
            return
        if dst_vpc and _ends(p) != {src_vpc, dst_vpc}:
            yield _no_route(pair, table, route, "peering-other-vpc", tables, peering, p)
            return
        yield ({"order": 40, "hop": "route", "status": "allowed",
                "text": f"{rtb}: {show_route(route)} (peering {src_vpc} <-> {dst_vpc}, active)"}, None)
        yield from _return_route(pair, tables, peering, target)
        return
    if kind == "transit-gateway":
        yield ({"order": 40, "hop": "route", "status": "assumed",
                "text": f"{rtb}: {show_route(route)}: the path beyond transit gateway {target} was not evaluated "
                        f"(triage does not read transit gateway route tables or attachments), so whether it reaches "
                        f"{addr.show(pair.dst_range)} is unknown"}, None)
        yield from _return_route(pair, tables, peering, None)
        return
    if kind in ("internet-gateway", "nat-gateway", "egress-only"):
        if pair.dest.get("public"):
            yield ({"order": 40, "hop": "route", "status": "caveat",
                    "text": f"{rtb}: {show_route(route)}: {pair.dest['name']} is publicly accessible, so from "
                            f"outside its VPC its endpoint resolves to a public address; its security group must "
                            f"admit the public address this traffic leaves from"}, None)
            return
        yield _no_route(pair, table, route, "private-via-internet", tables, peering)
        return
    yield ({"order": 40, "hop": "route", "status": "assumed",
            "text": f"{rtb}: {show_route(route)}: forwarded to {target}, whose own routing is not evaluated"}, None)


def _return_route(pair: Pair, tables: list, peering: Any, pcx: str | None):
    if pair.dst_subnet is None:
        return
    table, how = table_for(pair.dst_subnet["id"], pair.dst_subnet["vpc"], tables)
    if table is None:
        yield ({"order": 85, "hop": "return route", "status": "skipped",
                "text": f"the route table of {pair.dst_subnet['id']} ({pair.dst_subnet['vpc']}) was not described"}, None)
        return
    route = lookup(table, pair.src_range)
    ok = False
    if route is not None and (route.get("State") or "active").lower() == "active":
        target = target_of(route)
        if kind_of(target) == "peering":
            p = next(iter(_peering(peering, target)), None)
            ok = p is not None and _active(p) and _ends(p) == {pair.src_subnet["vpc"], pair.dst_subnet["vpc"]}
        elif kind_of(target) == "transit-gateway":
            ok = True
    rtb = f"{table.get('RouteTableId')} ({'explicitly associated' if how == 'explicit' else 'main table'})"
    if ok and kind_of(target_of(route)) == "transit-gateway":
        yield ({"order": 85, "hop": "return route", "status": "assumed",
                "text": f"{rtb} of {pair.dst_subnet['id']}: {show_route(route)}: the reply goes back through transit "
                        f"gateway {target_of(route)}, whose route tables were not evaluated"}, None)
        return
    if ok:
        yield ({"order": 85, "hop": "return route", "status": "allowed",
                "text": f"{rtb} of {pair.dst_subnet['id']}: {show_route(route)} carries the reply back"}, None)
        return
    reverse = Pair(pair.source, pair.dst_subnet, pair.dst_range, pair.dest, pair.src_subnet, pair.src_range)
    hop, block = _no_route(reverse, table, route, "no-return-route", tables, peering, pcx_hint=pcx)
    block["pair_reversed"] = True
    yield ({**hop, "order": 85, "hop": "return route"}, block)


def _outside(pair: Pair, table: dict, rtb: str, tables: list, nats: dict, nats_known: bool, notes: list):
    dest = pair.dest
    endpoint = dest.get("endpoint") or {}
    if dest.get("via") == "gateway-endpoint":
        route = next((r for r in table.get("Routes") or [] if r.get("GatewayId") == endpoint.get("id")
                      and (r.get("State") or "active").lower() == "active"), None)
        if route is not None:
            yield ({"order": 40, "hop": "route", "status": "allowed",
                    "text": f"{rtb}: {show_route(route)} (gateway endpoint {endpoint.get('id')} for {dest['name']})"}, None)
            return
        notes.append(f"gateway endpoint {endpoint.get('id')} is not associated with {table.get('RouteTableId')}: "
                     f"traffic from {pair.src_subnet['id']} to {dest['name']} takes the public endpoint")
    dst = pair.dst_range if pair.dst_exact else addr.ALL_V4
    route = lookup(table, dst)
    if route is None:
        yield _no_route(pair, table, None, "no-default-route", tables, None, nats=nats)
        return
    target = target_of(route)
    kind = kind_of(target)
    if (route.get("State") or "active").lower() == "blackhole":
        yield _no_route(pair, table, route, "blackhole", tables, None, nats=nats)
        return
    if kind == "nat-gateway":
        nat = nats.get(target)
        if nats_known and (nat is None or (nat.get("State") or "").lower() != "available"):
            yield _no_route(pair, table, route, "nat-unavailable", tables, None, nats=nats, nat=nat)
            return
        if nat:
            nat_table, _ = table_for(nat.get("SubnetId"), nat.get("VpcId"), tables)
            up = lookup(nat_table, dst) if nat_table else None
            if nat_table is not None and (up is None or kind_of(target_of(up)) != "internet-gateway"):
                yield _no_route(pair, table, route, "nat-without-igw", tables, None, nats=nats, nat=nat)
                return
        yield ({"order": 40, "hop": "route", "status": "allowed",
                "text": f"{rtb}: {show_route(route)} (NAT gateway, then the internet gateway)"}, None)
        return
    if kind == "internet-gateway":
        if pair.source.get("public_ip"):
            yield ({"order": 40, "hop": "route", "status": "allowed",
                    "text": f"{rtb}: {show_route(route)} (public address {pair.source['public_ip']})"}, None)
            return
        yield _no_route(pair, table, route, "igw-without-public-ip", tables, None, nats=nats)
        return
    if kind == "local":
        yield _no_route(pair, table, route, "no-default-route", tables, None, nats=nats)
        return
    yield ({"order": 40, "hop": "route", "status": "assumed",
            "text": f"{rtb}: {show_route(route)}: forwarded to {target} (e.g. a central egress VPC), whose own "
                    "routing is not evaluated"}, None)


_REASONS = {
    "no-route": "{rtb} has no route that covers {dst}: the traffic is dropped",
    "blackhole": "{rtb} sends {dst} to {target}, which no longer exists (blackhole): the traffic is dropped",
    "local-other-vpc": "{dst} overlaps the VPC's own range in {rtb}, so it never leaves {src_vpc}",
    "peering-inactive": "{rtb} sends {dst} to {target}, whose status is {status}: nothing passes until it is active",
    "peering-other-vpc": "{rtb} sends {dst} to {target}, which connects {peer_ends}, not {dst_vpc}; peering is not "
                         "transitive",
    "private-via-internet": "{rtb} sends {dst} to {target}: a private address of another VPC cannot be reached "
                            "through an internet or NAT gateway; it needs a peering connection or a transit gateway",
    "not-in-vpc": "{src_name} is not attached to a VPC: it runs in Lambda's own network, which reaches only public "
                  "addresses, and {dst_name} has a private address in {dst_vpc}",
    "no-return-route": "the reply cannot come back: {rtb} (the destination subnet's table) has no active route to "
                       "{dst} through a peering connection or transit gateway",
    "no-default-route": "{rtb} has no route to the internet (0.0.0.0/0) for {dst_name}: the connection hangs until "
                        "it times out",
    "nat-unavailable": "{rtb} sends it to NAT gateway {target}, which is {status}",
    "nat-without-igw": "{rtb} sends it to NAT gateway {target}, but the NAT gateway's subnet {nat_subnet} has no "
                       "route to an internet gateway",
    "igw-without-public-ip": "{rtb} sends it to internet gateway {target}, but {src_name} has no public IP address "
                             "(Lambda network interfaces never have one): replies cannot come back",
}


def _peer_cidr(link: dict, vpc: str | None) -> str | None:
    for side in ("AccepterVpcInfo", "RequesterVpcInfo"):
        info = link.get(side) or {}
        if info.get("VpcId") == vpc and addr.cidr(info.get("CidrBlock")):
            return info["CidrBlock"]
    return None


_NO_FREE_ROUTE = (" {rtb} already has an active route for {cidrs} that other traffic may use: triage prints no "
                  "command that would replace it; decide which route to change.")


def var(name: str, *, prefix: str = "", suffix: str = "") -> dict:
    """A word of a fix command that leaves a value to a human: rendered as
    prefix"$NAME"suffix (engine._shell_word), the fixed parts quoted."""
    return {"var": name, "prefix": prefix, "suffix": suffix}


def route_command(table: dict | None, cidrs: list[str], flag: str, target: Any,
                  dead_targets: set | frozenset = frozenset()) -> tuple[list | None, str | None]:
    """(the command that routes the first of `cidrs` the table can take, that CIDR):
    create-route where the table has no route for it, replace-route only over
    a dead one (a blackhole, or a target in `dead_targets`); an active route is
    never replaced (other traffic may use it), so with none free: (None, None)."""
    if table is None:
        return None, None
    routes = {r.get("DestinationCidrBlock"): r for r in table.get("Routes") or [] if r.get("DestinationCidrBlock")}
    for c in dict.fromkeys(cidrs):
        r = routes.get(c)
        if r is not None and (r.get("State") or "active").lower() != "blackhole" and target_of(r) not in dead_targets:
            continue
        verb = "create-route" if r is None else "replace-route"
        return ["aws", "ec2", verb, "--route-table-id", table.get("RouteTableId"), "--destination-cidr-block", c,
                flag, target], c
    return None, None


def _no_route(pair: Pair, table: dict | None, route: dict | None, reason: str, tables: list, peering: Any,
              p: dict | None = None, pcx_hint: str | None = None, nats: dict | None = None, nat: dict | None = None):
    src, dest = pair.source, pair.dest
    src_vpc = pair.src_subnet["vpc"] if pair.src_subnet else None
    dst_vpc = (pair.dst_subnet or {}).get("vpc") or dest.get("vpc")
    rtb = table.get("RouteTableId") if table else None
    target = target_of(route) if route else None
    if reason in ("no-default-route", "nat-unavailable", "nat-without-igw", "igw-without-public-ip"):
        dst = "0.0.0.0/0" if not pair.dst_exact else addr.show(pair.dst_range)
    else:
        dst = addr.show(pair.dst_range)
    text = _REASONS[reason].format(
        rtb=rtb, dst=dst, target=target, src_vpc=src_vpc, dst_vpc=dst_vpc, src_name=src["name"],
        dst_name=dest["name"], status=((p or {}).get("Status") or {}).get("Code") or (nat or {}).get("State") or "?",
        peer_ends=" <-> ".join(sorted(x for x in _ends(p) if x)) if p else "?", nat_subnet=(nat or {}).get("SubnetId"))
    commands: list[list] = []
    fix = ""
    if reason == "not-in-vpc":
        subnets = ",".join(s["id"] for s in dest.get("subnets") or [])
        fix = (f"Attach {src['name']} to {dst_vpc or 'the database VPC'}: subnets that can reach {dest['name']} and a "
               f"security group that {dest['name']}'s security group admits.")
        if src.get("kind") == "function":
            if subnets:
                config = var("SECURITY_GROUP_ID", prefix=f"SubnetIds={subnets},SecurityGroupIds=")
                fix += " SECURITY_GROUP_ID: that security group's id."
            else:
                config = var("VPC_CONFIG")
                fix += " VPC_CONFIG: SubnetIds=subnet-...,SecurityGroupIds=sg-..."
            commands.append(["aws", "lambda", "update-function-configuration", "--function-name", src["name"],
                             "--vpc-config", config])
    elif reason in ("no-route", "blackhole", "peering-other-vpc", "private-via-internet", "local-other-vpc",
                    "no-return-route", "peering-inactive"):
        link = peering_between(peering, src_vpc, dst_vpc) if src_vpc and dst_vpc else None
        tgw = next((target_of(r) for r in (table or {}).get("Routes") or []
                    if kind_of(target_of(r)) == "transit-gateway"), None)
        if reason == "peering-inactive" and p is not None:
            fix = (f"Accept the peering connection {p.get('VpcPeeringConnectionId')} (in the accepter's account and "
                   f"region); the route is already there.")
            commands.append(["aws", "ec2", "accept-vpc-peering-connection", "--vpc-peering-connection-id",
                             p.get("VpcPeeringConnectionId")])
        elif reason == "local-other-vpc":
            fix = "The two VPCs' address ranges overlap; they cannot be routed to each other. Re-address one of them."
        elif link is not None and rtb:
            whole = _peer_cidr(link, dst_vpc) or dst          # the peer VPC's range: one route for all its subnets
            command, used = route_command(table, [whole, dst], "--vpc-peering-connection-id",
                                          link.get("VpcPeeringConnectionId"))
            fix = (f"Route {used or whole} through the peering connection {link.get('VpcPeeringConnectionId')} "
                   f"({' <-> '.join(sorted(x for x in _ends(link) if x))}) in {rtb}.")
            if not _active(link):
                fix += " The connection is not active yet: accept it too."
            if command:
                commands.append(command)
            else:
                fix += _NO_FREE_ROUTE.format(rtb=rtb, cidrs=" and ".join(dict.fromkeys([whole, dst])))
        elif tgw and rtb:
            command, used = route_command(table, [dst], "--transit-gateway-id", tgw)
            fix = (f"Route {dst} to transit gateway {tgw} in {rtb} (and make sure the transit gateway's route "
                   f"table has a route to {dst_vpc}).")
            if command:
                commands.append(command)
            else:
                fix += _NO_FREE_ROUTE.format(rtb=rtb, cidrs=dst)
        else:
            fix = (f"Nothing connects {src_vpc} and {dst_vpc}: create a peering connection (or attach both to a "
                   f"transit gateway), then add a route for {dst} in {rtb} and one back in the destination's table.")
            if src_vpc and dst_vpc:
                commands.append(["aws", "ec2", "create-vpc-peering-connection", "--vpc-id", src_vpc, "--peer-vpc-id", dst_vpc])
    elif reason == "igw-without-public-ip":
        # The subnet is public: its 0.0.0.0/0 -> internet gateway route serves whatever has a public
        # address there, so it is never replaced. The source moves, or gets a public address.
        if src.get("kind") == "function":
            fix = (f"Lambda functions never get a public address: attach {src['name']} to private subnets whose route "
                   f"table sends 0.0.0.0/0 to a NAT gateway (PRIVATE_SUBNET_IDS, comma-separated), keeping its "
                   f"security groups. The public subnet's internet gateway route stays as it is.")
            groups = ",".join(src.get("groups") or [])
            commands.append(["aws", "lambda", "update-function-configuration", "--function-name", src["name"],
                             "--vpc-config", var("PRIVATE_SUBNET_IDS", prefix="SubnetIds=",
                                                 suffix=f",SecurityGroupIds={groups}" if groups else "")])
        elif src.get("kind") == "instance":
            fix = (f"Give {src['name']} a public address (an Elastic IP), or move it to a private subnet whose route "
                   f"table sends 0.0.0.0/0 to a NAT gateway. The subnet's internet gateway route stays as it is.")
            commands.append(["aws", "ec2", "associate-address", "--instance-id", src["name"], "--allocation-id",
                             var("EIP_ALLOCATION_ID")])
        else:
            fix = (f"{src['name']} has no public address: move it to a private subnet whose route table sends "
                   f"0.0.0.0/0 to a NAT gateway, or give it an Elastic IP. The internet gateway route stays as it is.")
    elif reason == "nat-without-igw" and nat:
        nat_table, _ = table_for(nat.get("SubnetId"), nat.get("VpcId"), tables)
        fix = (f"Put the NAT gateway in a public subnet: {nat.get('SubnetId')}'s route table needs 0.0.0.0/0 "
               f"-> the VPC's internet gateway (INTERNET_GATEWAY_ID).")
        command, _ = route_command(nat_table, ["0.0.0.0/0"], "--gateway-id", var("INTERNET_GATEWAY_ID"))
        if command:
            commands.append(command)
        elif nat_table is not None:
            fix += _NO_FREE_ROUTE.format(rtb=nat_table.get("RouteTableId"), cidrs="0.0.0.0/0")
    else:                                                          # the internet, a public AWS endpoint
        in_vpc = [n for n in (nats or {}).values() if n.get("VpcId") == src_vpc
                  and (n.get("State") or "").lower() == "available" and n.get("NatGatewayId") != target]
        dead = {target} if reason == "nat-unavailable" and target else set()
        if in_vpc and rtb:
            natid = in_vpc[0].get("NatGatewayId")
            command, _ = route_command(table, ["0.0.0.0/0"], "--nat-gateway-id", natid, dead_targets=dead)
            fix = f"Send 0.0.0.0/0 from {rtb} to the NAT gateway {natid}."
            if command:
                commands.append(command)
            else:
                fix += _NO_FREE_ROUTE.format(rtb=rtb, cidrs="0.0.0.0/0")
        elif rtb:
            fix = (f"Give {pair.src_subnet['id'] if pair.src_subnet else 'the subnet'} a route to a NAT gateway in a "
                   f"public subnet (a subnet whose route table sends 0.0.0.0/0 to an internet gateway): create one "
                   f"in PUBLIC_SUBNET_ID with the Elastic IP EIP_ALLOCATION_ID, then route to it (NAT_GATEWAY_ID, "
                   f"the id the first command prints).")
            command, _ = route_command(table, ["0.0.0.0/0"], "--nat-gateway-id", var("NAT_GATEWAY_ID"),
                                       dead_targets=dead)
            commands.append(["aws", "ec2", "create-nat-gateway", "--subnet-id", var("PUBLIC_SUBNET_ID"),
                             "--allocation-id", var("EIP_ALLOCATION_ID")])
            if command:
                commands.append(command)
            else:
                fix += _NO_FREE_ROUTE.format(rtb=rtb, cidrs="0.0.0.0/0")
        endpoint = dest.get("endpoint") or {}
        if dest.get("kind") == "service":
            if endpoint.get("type") == "Gateway" and rtb:
                fix = (f"Associate the gateway endpoint {endpoint.get('id')} with {rtb} (free, and traffic stays "
                       f"private), or: " + fix)
                commands.insert(0, ["aws", "ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", endpoint.get("id"),
                                    "--add-route-table-ids", rtb])
            elif src_vpc and rtb:
                fix += (f" Or reach {dest['name']} privately through a VPC endpoint for {dest['service']}.")
    hop = {"order": 40, "hop": "route", "status": "blocked", "text": text}
    block = {**which_destination(pair), "reason": reason, "text": text, "route_table": rtb, "subnet": (pair.src_subnet or {}).get("id"),
             "destination": dst, "dest_label": pair.dst_label, "source": src["name"], "dest_name": dest["name"],
             "matched_route": show_route(route) if route else "none",
             "routes": [show_route(r) for r in (table or {}).get("Routes") or []], "fix": fix, "commands": commands}
    return hop, block


def _summary(blocks: list[dict]) -> dict | None:
    if not blocks:
        return None
    b = blocks[0]
    more = f" (and {len(blocks) - 1} more)" if len(blocks) > 1 else ""
    if b["reason"] == "no-return-route":
        title = f"No route back from {b['dest_name']} to {b['source']}: {b['route_table']} has no route to {b['destination']}{more}"
    elif b["reason"] == "not-in-vpc":
        title = f"{b['source']} is not in a VPC and cannot reach {b['dest_name']}'s private address{more}"
    elif b["route_table"]:
        title = f"No route from {b['subnet']} to {b['dest_name']} ({b['destination']}) in {b['route_table']}{more}"
    else:
        title = f"No route from {b['source']} to {b['dest_name']}{more}"
    commands = list({json.dumps(c): c for x in blocks for c in x["commands"]}.values())
    evidence = {"route_table": b["route_table"], "subnet": b["subnet"], "destination": b["destination"],
                "matched_route": b["matched_route"], "routes": b["routes"] or ["(none)"], "reason": b["text"],
                "blocked_paths": [x["pair"] for x in blocks]}
    explanation = (f"{b['text']}. Routing is decided per subnet by its route table "
                   f"(the explicitly associated one, else the VPC's main table), using the most specific route "
                   f"that matches; with no route (or a dead one) the connection hangs until it times out.")
    return {"database": b["database"], "found_in": b["found_in"],
            "title": title, "explanation": explanation, "fix_text": b["fix"], "commands": commands[:3],
            "evidence": evidence, "count": len(blocks)}
