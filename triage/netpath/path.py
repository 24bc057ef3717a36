"""Hop evaluation as seen from playbooks (plain JSON in and out), and the
path a healthy run prints. `net_eval(hop, net, data)` runs one hop kind so
that each check reads only the calls its hop needs: a denied
DescribeNetworkAcls leaves the ACL checks unchecked, not the route check."""
from __future__ import annotations

from typing import Any

from . import acls, endpoints, routes, security_groups
from .pairs import pairs

HOPS = ("security-groups", "network-acls", "routes", "endpoint-policy", "path")


def _empty() -> dict:
    return {"hops": [], "notes": []}


def net_eval(hop: str, net: Any, data: Any = None) -> dict:
    """hop: security-groups (data: {security_groups, peering}), network-acls
    (data: {network_acls}, and {route_tables, nat_gateways} to check the NAT gateway's subnet too), routes (data: {route_tables, peering, nat_gateways}),
    endpoint-policy, or path (data: the four results above)."""
    if hop not in HOPS:
        raise ValueError(f"net_eval: unknown hop {hop!r} (one of {', '.join(HOPS)})")
    data = data if isinstance(data, dict) else {}
    if not isinstance(net, dict) or not net.get("resolved"):
        return _empty() if hop != "path" else path(net or {}, data)
    if hop == "security-groups":
        return security_groups.evaluate(net, data.get("security_groups"), data.get("peering"))
    if hop == "network-acls":
        return acls.evaluate(net, data.get("network_acls"), data.get("route_tables"), data.get("nat_gateways"))
    if hop == "routes":
        return routes.evaluate(net, data.get("route_tables"), data.get("peering"), data.get("nat_gateways"))
    if hop == "endpoint-policy":
        return endpoints.evaluate(net)
    return path(net, data)


_STATUS = {"allowed": "ok", "blocked": "BLOCKED", "caveat": "ok?", "assumed": "ok?", "skipped": "--"}


def path(net: dict, results: dict) -> dict:
    """The whole path, hop by hop, per source subnet -> destination subnet:
    {reachable, summary, paths: [{path, hops: [{hop, status, text}]}], notes}."""
    hops: list[dict] = []
    notes: list[str] = list(net.get("notes") or [])
    for key in ("sg", "nacl", "routes", "endpoint"):
        r = results.get(key)
        if isinstance(r, dict):
            hops += r.get("hops") or []
            notes += r.get("notes") or []
    by_pair: dict[str, list[dict]] = {}
    for h in hops:
        by_pair.setdefault(h["pair"], []).append(h)
    paths = []
    dest = net.get("destination") or {}
    # each path to its own destination's port (a function may name databases on different ports)
    ports = {p.label: p.port for p in pairs(net)} if net.get("resolved") else {}
    for label, items in by_pair.items():
        items = sorted(items, key=lambda h: h["order"])
        src_name = label.split(" -> ")[0]
        lines = [{"hop": "source", "status": "ok", "text": src_name}]
        lines += [{"hop": h["hop"], "status": _STATUS.get(h["status"], h["status"]), "text": h["text"]} for h in items]
        lines.append({"hop": "destination", "status": "ok",
                      "text": f"{label.split(' -> ', 1)[1]} port {ports.get(label, dest.get('port'))}"})
        paths.append({"path": label, "blocked": any(h["status"] == "blocked" for h in items), "hops": lines})
    blocked = [p for p in paths if p["blocked"]]
    if not net.get("resolved"):
        summary = "the path could not be resolved: " + ("; ".join(m["message"] for m in net.get("not_found") or [])
                                                         or "one end is unknown")
        reachable = False
    elif blocked:
        summary = f"{len(blocked)} of {len(paths)} path(s) blocked"
        reachable = False
    else:
        unknown = sum(1 for h in hops if h["status"] in ("skipped", "assumed"))
        tcp = "/".join(str(p) for p in sorted(set(ports.values()))) or str(net.get("port"))
        summary = (f"reachable: {len(paths)} path(s), every hop allows TCP {tcp}" if not unknown else
                   f"inconclusive: no hop blocks TCP {tcp} on {len(paths)} path(s), but {unknown} hop(s) "
                   "could not be evaluated (marked ?)")
        reachable = True if not unknown else None      # unknown: a hop that was not evaluated is not healthy
    return {"reachable": reachable, "summary": summary, "paths": paths,
            "notes": list(dict.fromkeys(n for n in notes if n))}
