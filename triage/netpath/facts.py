"""The two ends of a path, from what the Describe* calls answered.

A source is where connections start: the subnets its network interfaces sit
in (their addresses), its security groups, the principal it calls AWS as,
and the ephemeral ports its replies come back to. A destination is where
they go: the subnets and security groups of a DB instance, cluster or
proxy, of an interface endpoint, of a network interface found by address;
or an address outside the VPCs (the internet, a public AWS endpoint).

The VPC of a source or destination is always taken from its subnets
(DescribeSubnets), never from Lambda's VpcConfig.VpcId."""
from __future__ import annotations

from typing import Any

from . import addr
from .refs import DEFAULT_PORTS, _instances, _walk, net_ref

# Ephemeral ports replies come back to (VPC User Guide, "Ephemeral ports"):
# https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html
EPHEMERAL = {
    "lambda": (1024, 65535),      # "AWS Lambda functions use ports 1024-65535"
    "linux": (32768, 60999),      # "Many Linux kernels (including the Amazon Linux kernel) use ports 32768-61000"
    "windows": (49152, 65535),    # "Windows Server 2008 and later versions use ports 49152-65535"
    "nat": (1024, 65535),         # "A NAT gateway uses ports 1024-65535"
    "any": (1024, 65535),         # "to cover the different types of clients ... open ephemeral ports 1024-65535"
}


def _subnet_map(answers: Any) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for a in _walk(answers):
        for s in a.get("Subnets") or []:
            r = addr.cidr(s.get("CidrBlock"))
            if s.get("SubnetId") and r:
                out[s["SubnetId"]] = {"id": s["SubnetId"], "cidr": s.get("CidrBlock"), "vpc": s.get("VpcId"),
                                      "az": s.get("AvailabilityZone"), "range": list(r)}
    return out


def _error(answer: Any) -> str | None:
    """The error code of an allow_errors answer ({error: {code, message}})."""
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return str(answer["error"].get("code") or "error")
    return None


def _subnets(ids: list, known: dict, notes: list, owner: str) -> list[dict]:
    out = []
    for sid in ids:
        if sid in known:
            out.append(known[sid])
        else:
            notes.append(f"subnet {sid} of {owner} was not described; paths through it are not evaluated")
    return out


def _function_sources(answers: list, known: dict, notes: list, missing: list) -> list[dict]:
    out = []
    for a in answers:
        if a is None:
            continue
        if isinstance(a, dict) and "item" in a and ("result" in a or "error" in a):
            if a.get("error") or not isinstance(a.get("result"), dict):
                code = (a.get("error") or {}).get("code") if isinstance(a.get("error"), dict) else None
                if code == "ResourceNotFoundException":
                    missing.append({"side": "from", "ref": a.get("item"), "kind": "Lambda function",
                                    "message": f"function {a.get('item')} does not exist"})
                continue
            a = a["result"]
        if _error(a):
            continue
        vpc = a.get("VpcConfig") or {}
        name = a.get("FunctionName") or "function"
        subnet_ids = vpc.get("SubnetIds") or []
        out.append({
            "kind": "function", "name": name, "label": f"{name} (Lambda)",
            "in_vpc": bool(subnet_ids), "groups": list(vpc.get("SecurityGroupIds") or []),
            "subnets": _subnets(subnet_ids, known, notes, name), "exact": True, "address": None,
            "public_ip": None, "principal": a.get("Role"), "ephemeral": list(EPHEMERAL["lambda"]),
            "ephemeral_source": "AWS Lambda functions use ports 1024-65535"})
    return out


def _instance_source(answer: Any, known: dict, notes: list, profile: Any) -> dict | None:
    instances = _instances(answer) if isinstance(answer, dict) else []
    if not instances:
        return None
    i = instances[0]
    enis = sorted(i.get("NetworkInterfaces") or [], key=lambda n: (n.get("Attachment") or {}).get("DeviceIndex", 0))
    primary = enis[0] if enis else {}
    subnet_id = primary.get("SubnetId") or i.get("SubnetId")
    ip = primary.get("PrivateIpAddress") or i.get("PrivateIpAddress")
    groups = [g.get("GroupId") for g in (primary.get("Groups") or i.get("SecurityGroups") or [])]
    windows = (i.get("Platform") or "").lower() == "windows"
    role = None
    if isinstance(profile, dict) and isinstance(profile.get("InstanceProfile"), dict):
        roles = profile["InstanceProfile"].get("Roles") or []
        role = roles[0].get("Arn") if roles else None
    subnets = _subnets([subnet_id] if subnet_id else [], known, notes, i.get("InstanceId") or "instance")
    return {"kind": "instance", "name": i.get("InstanceId"), "label": f"{i.get('InstanceId')} (EC2 instance)",
            "in_vpc": bool(subnet_id), "groups": [g for g in groups if g], "subnets": subnets,
            "exact": True, "address": ip, "public_ip": (primary.get("Association") or {}).get("PublicIp")
            or i.get("PublicIpAddress"), "principal": role,
            "ephemeral": list(EPHEMERAL["windows" if windows else "linux"]),
            "ephemeral_source": ("Windows Server 2008 and later versions use ports 49152-65535" if windows else
                                 "Many Linux kernels (including the Amazon Linux kernel) use ports 32768-61000")}


def _eni_source(answer: Any, known: dict, notes: list) -> dict | None:
    enis = (answer or {}).get("NetworkInterfaces") if isinstance(answer, dict) else None
    if not enis:
        return None
    n = enis[0]
    lam = "AWS Lambda VPC ENI" in (n.get("Description") or "")
    return {"kind": "eni", "name": n.get("NetworkInterfaceId"), "label": f"{n.get('NetworkInterfaceId')} (network interface)",
            "in_vpc": True, "groups": [g.get("GroupId") for g in n.get("Groups") or [] if g.get("GroupId")],
            "subnets": _subnets([n.get("SubnetId")] if n.get("SubnetId") else [], known, notes,
                                n.get("NetworkInterfaceId") or "interface"),
            "exact": True, "address": n.get("PrivateIpAddress"),
            "public_ip": (n.get("Association") or {}).get("PublicIp"), "principal": None,
            "ephemeral": list(EPHEMERAL["lambda" if lam else "any"]),
            "ephemeral_source": ("AWS Lambda functions use ports 1024-65535" if lam else
                                 "to cover any client, ephemeral ports 1024-65535")}


def _subnet_source(subnet_id: str, known: dict, notes: list) -> dict:
    return {"kind": "subnet", "name": subnet_id, "label": f"subnet {subnet_id}", "in_vpc": True, "groups": [],
            "subnets": _subnets([subnet_id], known, notes, subnet_id), "exact": True, "address": None,
            "public_ip": None, "principal": None, "ephemeral": list(EPHEMERAL["any"]),
            "ephemeral_source": "to cover any client, ephemeral ports 1024-65535"}


def _first(answer: Any, key: str) -> dict | None:
    if isinstance(answer, dict) and not _error(answer):
        items = answer.get(key) or []
        return items[0] if items else None
    return None


def _db_destination(ref: dict, raw: dict, known: dict, notes: list) -> dict | None:
    inst = _first(raw.get("db_instance"), "DBInstances")
    cluster = _first(raw.get("db_cluster"), "DBClusters")
    proxy = _first(raw.get("db_proxy"), "DBProxies")
    port = None
    if inst and ref["kind"] in ("db", "rds-instance"):
        group = inst.get("DBSubnetGroup") or {}
        subnets = group.get("Subnets") or []
        zones = [z for z in (inst.get("AvailabilityZone"), inst.get("SecondaryAvailabilityZone")) if z]
        chosen = [s.get("SubnetIdentifier") for s in subnets
                  if (s.get("SubnetAvailabilityZone") or {}).get("Name") in zones] if zones else []
        if not chosen:
            chosen = [s.get("SubnetIdentifier") for s in subnets]
        if not subnets:
            notes.append(f"{inst.get('DBInstanceIdentifier')} reports no DB subnet group: its subnets are unknown, "
                         "so network ACLs and routes to it are not evaluated")
        elif inst.get("SecondaryAvailabilityZone"):
            notes.append(f"{inst.get('DBInstanceIdentifier')} is Multi-AZ: the standby's subnet in "
                         f"{inst['SecondaryAvailabilityZone']} is checked too (it becomes the primary on failover)")
        endpoint = inst.get("Endpoint") or {}
        port = endpoint.get("Port") or DEFAULT_PORTS.get(inst.get("Engine") or "")
        return {"kind": "db-instance", "name": inst.get("DBInstanceIdentifier"),
                "label": f"{inst.get('DBInstanceIdentifier')} (DB instance)", "host": endpoint.get("Address"),
                "port": port, "groups": [g.get("VpcSecurityGroupId") for g in inst.get("VpcSecurityGroups") or []],
                "subnets": _subnets([c for c in chosen if c], known, notes, inst.get("DBInstanceIdentifier")),
                "vpc": group.get("VpcId"), "public": bool(inst.get("PubliclyAccessible")), "via": "private",
                "exact": False}
    if cluster and ref["kind"] in ("db", "rds-cluster"):
        groups = raw.get("db_subnet_group")
        group = _first(groups, "DBSubnetGroups") or {}
        ids = [s.get("SubnetIdentifier") for s in group.get("Subnets") or []]
        if not ids:
            notes.append(f"the subnets of {cluster.get('DBClusterIdentifier')}'s subnet group are unknown: network "
                         "ACLs and routes to it are not evaluated")
        return {"kind": "db-cluster", "name": cluster.get("DBClusterIdentifier"),
                "label": f"{cluster.get('DBClusterIdentifier')} (DB cluster)", "host": cluster.get("Endpoint"),
                "port": cluster.get("Port") or DEFAULT_PORTS.get(cluster.get("Engine") or ""),
                "groups": [g.get("VpcSecurityGroupId") for g in cluster.get("VpcSecurityGroups") or []],
                "subnets": _subnets(ids, known, notes, cluster.get("DBClusterIdentifier")), "vpc": group.get("VpcId"),
                "public": bool(cluster.get("PubliclyAccessible")), "via": "private", "exact": False}
    if proxy and ref["kind"] in ("db", "rds-proxy"):
        return {"kind": "db-proxy", "name": proxy.get("DBProxyName"), "label": f"{proxy.get('DBProxyName')} (RDS Proxy)",
                "host": proxy.get("Endpoint"), "port": DEFAULT_PORTS.get(proxy.get("EngineFamily") or ""),
                "groups": list(proxy.get("VpcSecurityGroupIds") or []),
                "subnets": _subnets(list(proxy.get("VpcSubnetIds") or []), known, notes, proxy.get("DBProxyName")),
                "vpc": proxy.get("VpcId"), "public": False, "via": "private", "exact": False}
    return None


def _service_destination(ref: dict, raw: dict, sources: list, known: dict, notes: list) -> dict:
    service = ref["service"]
    short = service.split(".", 3)[-1]
    vpcs = {s["vpc"] for src in sources for s in src["subnets"]}
    endpoints = [e for a in _walk(raw.get("vpc_endpoints")) for e in a.get("VpcEndpoints") or []
                 if e.get("ServiceName") == service and e.get("VpcId") in vpcs
                 and (e.get("State") or "available").lower() == "available"]
    interface = [e for e in endpoints if (e.get("VpcEndpointType") or "Gateway") == "Interface"]
    gateway = [e for e in endpoints if (e.get("VpcEndpointType") or "Gateway") == "Gateway"]
    host = ref.get("host") or service
    base = {"kind": "service", "name": short, "service": service, "host": host, "port": ref.get("port") or 443,
            "public": True, "vpc": None}
    named_endpoint = host.startswith("vpce-")
    usable = [e for e in interface if e.get("PrivateDnsEnabled") or named_endpoint]
    if usable:
        e = usable[0]
        return {**base, "label": f"{short} through interface endpoint {e.get('VpcEndpointId')}", "via": "interface-endpoint",
                "groups": [g.get("GroupId") for g in e.get("Groups") or [] if g.get("GroupId")],
                "subnets": _subnets(list(e.get("SubnetIds") or []), known, notes, e.get("VpcEndpointId")),
                "vpc": e.get("VpcId"), "exact": False, "endpoint": _endpoint(e)}
    if interface:
        notes.append(f"interface endpoint {interface[0].get('VpcEndpointId')} for {short} has private DNS off: "
                     f"{host} resolves to the public endpoint, so traffic does not use it")
    pl = {p.get("PrefixListName"): p for a in _walk(raw.get("prefix_lists")) for p in a.get("PrefixLists") or []}
    cidrs = [c for c in (pl.get(service) or {}).get("Cidrs") or [] if addr.cidr(c)]
    if gateway:
        e = gateway[0]
        return {**base, "label": f"{short} (gateway endpoint {e.get('VpcEndpointId')} or public endpoint)",
                "via": "gateway-endpoint", "groups": [], "subnets": [], "exact": False,
                "prefix_list": (pl.get(service) or {}).get("PrefixListId"), "cidrs": cidrs,
                "endpoint": _endpoint(e), "range": list(addr.ALL_V4)}
    return {**base, "label": f"{short} public endpoint", "via": "internet", "groups": [], "subnets": [],
            "exact": False, "range": list(addr.ALL_V4), "cidrs": cidrs,
            "prefix_list": (pl.get(service) or {}).get("PrefixListId")}


def _endpoint(e: dict) -> dict:
    return {"id": e.get("VpcEndpointId"), "type": e.get("VpcEndpointType") or "Gateway", "service": e.get("ServiceName"),
            "policy": e.get("PolicyDocument"), "route_tables": list(e.get("RouteTableIds") or []),
            "private_dns": bool(e.get("PrivateDnsEnabled"))}


def _address_destination(ref: dict, raw: dict, known: dict, notes: list) -> dict:
    ip = ref["address"]
    r = addr.cidr(ip)
    eni = _first(raw.get("dst_eni"), "NetworkInterfaces")
    port = ref.get("port")
    if eni:
        return {"kind": "address", "name": ip, "label": f"{ip} ({eni.get('NetworkInterfaceId')})", "host": ip, "port": port,
                "groups": [g.get("GroupId") for g in eni.get("Groups") or [] if g.get("GroupId")],
                "subnets": _subnets([eni.get("SubnetId")], known, notes, ip), "vpc": eni.get("VpcId"),
                "public": False, "via": "private", "exact": True, "range": list(r)}
    inside = [s for s in known.values() if addr.contains(tuple(s["range"]), r)]
    if ref.get("private"):
        if inside:
            notes.append(f"no network interface answers for {ip}: its security groups are unknown, so only "
                         "network ACLs and routes are evaluated")
        return {"kind": "address", "name": ip, "label": ip, "host": ip, "port": port, "groups": [],
                "subnets": inside[:1], "vpc": inside[0]["vpc"] if inside else None, "public": False,
                "via": "private", "exact": True, "range": list(r)}
    return {"kind": "address", "name": ip, "label": f"{ip} (internet)", "host": ip, "port": port, "groups": [],
            "subnets": [], "vpc": None, "public": True, "via": "internet", "exact": True, "range": list(r)}


def net_facts(raw: dict) -> dict:
    """Resolve both ends. `raw` holds the inputs (from, to, port, action,
    resource, region, target) and the Describe* answers (function or
    functions, instance, eni, instance_profile, db_instance, db_cluster,
    db_proxy, db_subnet_group, dst_eni, subnets, vpc_endpoints, prefix_lists)."""
    raw = raw if isinstance(raw, dict) else {}
    notes: list[str] = []
    missing: list[dict] = []
    known = _subnet_map(raw.get("subnets"))
    region = raw.get("region")
    out: dict[str, Any] = {"applicable": False, "resolved": False, "not_found": missing, "notes": notes,
                           "sources": [], "destination": None, "port": None, "protocol": "tcp",
                           "action": raw.get("action"), "resource": raw.get("resource"), "region": region,
                           "found_in": raw.get("env")}

    # --- sources
    src_ref = net_ref(raw.get("from"), "from", region) if raw.get("from") else {"kind": "function" if (
        raw.get("function") is not None or raw.get("functions") is not None) else None}
    sources: list[dict] = []
    kind = src_ref.get("kind")
    if kind == "function" or raw.get("functions") is not None:
        answers = raw.get("functions") if raw.get("functions") is not None else [raw.get("function")]
        answers = answers if isinstance(answers, list) else [answers]
        single = raw.get("function")
        if _error(single) == "ResourceNotFoundException":
            missing.append({"side": "from", "ref": src_ref.get("name"), "kind": "Lambda function",
                            "message": f"function {src_ref.get('name')} does not exist in {region}"})
        sources = _function_sources(answers, known, notes, missing)
    elif kind == "instance":
        s = _instance_source(raw.get("instance"), known, notes, raw.get("instance_profile"))
        if s is None and raw.get("instance") is not None:
            missing.append({"side": "from", "ref": src_ref["name"], "kind": "EC2 instance",
                            "message": f"instance {src_ref['name']} does not exist in {region}"})
        sources = [s] if s else []
    elif kind == "eni":
        s = _eni_source(raw.get("eni"), known, notes)
        if s is None and raw.get("eni") is not None:
            missing.append({"side": "from", "ref": src_ref["name"], "kind": "network interface",
                            "message": f"network interface {src_ref['name']} does not exist in {region}"})
        sources = [s] if s else []
    elif kind == "subnet":
        if src_ref["name"] in known:
            sources = [_subnet_source(src_ref["name"], known, notes)]
        elif raw.get("subnets") is not None:
            missing.append({"side": "from", "ref": src_ref["name"], "kind": "subnet",
                            "message": f"subnet {src_ref['name']} does not exist in {region}"})
    elif raw.get("from"):
        notes.append(f"--from {raw.get('from')!s}: not a function, instance (i-...), network interface (eni-...) or subnet")
    out["sources"] = sources

    # --- destination(s)
    if isinstance(raw.get("targets"), list):
        return _many(out, raw, sources, known, notes)
    target = raw.get("target") if raw.get("target") is not None else raw.get("to")
    dst_ref = net_ref(target, "to", region)
    dest = None
    dkind = dst_ref.get("kind")
    if dkind in ("db", "rds-instance", "rds-cluster", "rds-proxy"):
        dest = _db_destination(dst_ref, raw, known, notes)
        asked = [raw.get(k) for k in ("db_instance", "db_cluster", "db_proxy")]
        if dest is None and any(a is not None for a in asked):
            what = {"db": "DB instance, cluster or proxy", "rds-instance": "DB instance",
                    "rds-cluster": "DB cluster", "rds-proxy": "RDS Proxy"}[dkind]
            elsewhere = dst_ref.get("region") if dst_ref.get("region") not in (None, region) else None
            missing.append({"side": "to", "ref": dst_ref.get("name"), "kind": what,
                            "message": f"no {what} named {dst_ref.get('name')} in {region}" + (
                                f" (its endpoint names {elsewhere}: pass --region {elsewhere} if the source is "
                                "there too; a path across regions is not evaluated)" if elsewhere else "")})
        if dest and dst_ref.get("host"):
            dest["host"] = dst_ref["host"]
    elif dkind == "service":
        dest = _service_destination(dst_ref, raw, sources, known, notes) if raw.get("subnets") is not None or \
            not any(s["in_vpc"] for s in sources) else None
    elif dkind == "address":
        dest = _address_destination(dst_ref, raw, known, notes)
    elif dkind == "host":
        dest = {"kind": "host", "name": dst_ref["host"], "label": f"{dst_ref['host']} (internet)", "host": dst_ref["host"],
                "port": dst_ref.get("port"), "groups": [], "subnets": [], "vpc": None, "public": True,
                "via": "internet", "exact": False, "range": list(addr.ALL_V4)}
        notes.append(f"{dst_ref['host']} is not an AWS resource triage can look up: it is treated as an internet "
                     "address (pass its IP as --to IP:PORT to check rules that name addresses)")
    elif target:
        notes.append(f"--to {dst_ref.get('text') or '?'}: not a DB instance, cluster, proxy, endpoint or HOST:PORT")
    if dest is not None:
        port = raw.get("port") or dst_ref.get("port") or dest.get("port")
        if not port:
            port = 443
            notes.append("no port given or known for the destination: TCP 443 is assumed (pass --port)")
        dest["port"] = int(port)
        out["port"] = int(port)
    out["destination"] = dest
    out["resolved"] = bool(sources) and dest is not None
    # Something to evaluate: at least one source in a VPC (a function outside a
    # VPC reaches only public addresses, which network-path reports as a route).
    out["applicable"] = out["resolved"] and (raw.get("mode") != "db" or any(s["in_vpc"] for s in sources))
    if raw.get("mode") == "db":
        out["sources"] = [s for s in sources if s["in_vpc"]]
    return out


# The error codes of DescribeDBInstances / DescribeDBClusters / DescribeDBProxies for a name that does not exist.
_NOT_FOUND = {"DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault", "DBProxyNotFoundFault"}
_WHAT = {"db": "DB instance, cluster or proxy", "rds-instance": "DB instance", "rds-cluster": "DB cluster",
         "rds-proxy": "RDS Proxy"}


def _db_missing(t: dict, kind: str, region: str | None) -> dict:
    """A database the function is said to connect to that does not exist."""
    what = _WHAT.get(kind, _WHAT["db"])
    given = t.get("variable") == "--db"
    if given:
        title = f"no {what} named {t['name']} in {region} (--db {t.get('endpoint')})"
        explanation = (f"--db names {t.get('endpoint')}, and no {what} of that name exists in {region}: every lookup "
                       "answered not found.")
    else:
        title = f"{t.get('variable')} names {t['name']}, a {what} that does not exist in {region}"
        explanation = (f"The function's environment variable {t.get('variable')} points at {t.get('endpoint')}, and "
                       f"no {what} named {t['name']} exists in {region}: it was deleted or renamed, or the variable "
                       "was never updated. Every connection to it fails (the name does not resolve), whatever the "
                       "network allows.")
    return {"variable": t.get("variable"), "endpoint": t.get("endpoint"), "name": t["name"], "kind": what,
            "region": region, "title": title, "explanation": explanation, "given": given,
            "message": f"{t.get('endpoint')} ({t.get('variable')}): no {what} named {t['name']} in {region}"}


def _answer_for(answers: Any, name: str | None) -> Any:
    """The answer of a for_each step for one item ({item, result|error})."""
    for a in answers if isinstance(answers, list) else []:
        if isinstance(a, dict) and a.get("item") == name:
            return a.get("result") if isinstance(a.get("result"), dict) else {"error": a.get("error") or {}}
    return None


def _many(out: dict, raw: dict, sources: list, known: dict, notes: list) -> dict:
    """mode 'db' with `targets` (env_dbs: every database a function's
    environment names, or --db): one destination per database, each looked
    up in the for_each answers db_instances, db_clusters, db_proxies and
    db_subnet_groups (by subnet group name). Every path to every one of
    them is evaluated. One that every lookup answered "not found" is in
    `db_not_found` (a finding: the function is configured for a database
    that does not exist, or --db names none); one whose endpoint names
    another region is in `db_elsewhere` (not evaluated: never healthy)."""
    dests: list[dict] = []
    missing: list[dict] = []            # named (--db, an environment variable) and answered not-found
    elsewhere: list[dict] = []          # an endpoint in another region: not looked up here
    for t in raw["targets"]:
        if not isinstance(t, dict) or not t.get("name"):
            continue
        ref = net_ref(t.get("endpoint"), "to") if "." in str(t.get("endpoint") or "") else \
            {"kind": t.get("kind") or "db", "name": t["name"], "host": None, "port": t.get("port")}
        ref["kind"] = t.get("kind") or ref.get("kind")
        cluster = _first(_answer_for(raw.get("db_clusters"), t["name"]), "DBClusters") or {}
        per = {"db_instance": _answer_for(raw.get("db_instances"), t["name"]),
               "db_cluster": _answer_for(raw.get("db_clusters"), t["name"]),
               "db_proxy": _answer_for(raw.get("db_proxies"), t["name"]),
               "db_subnet_group": _answer_for(raw.get("db_subnet_groups"), cluster.get("DBSubnetGroup"))}
        region = out.get("region")
        where = t.get("region") or ref.get("region")
        if where and region and where != region:
            elsewhere.append({"variable": t.get("variable"), "endpoint": t.get("endpoint"), "name": t["name"],
                              "region": where,
                              "reason": f"{t.get('endpoint')} ({t.get('variable')}) is in {where}, not in {region} "
                                        "where triage looked: whether it exists and the path to it across regions "
                                        "are not evaluated"})
            continue
        dest = _db_destination(ref, per, known, notes)
        if dest is None:
            asked = {k: v for k, v in per.items() if k != "db_subnet_group" and v is not None}
            if asked and all(_error(v) in _NOT_FOUND for v in asked.values()):
                missing.append(_db_missing(t, ref["kind"], region))
            else:
                notes.append(f"{t.get('endpoint')} (in {t.get('variable')}) was not looked up in {region}: the path "
                             "to it is not evaluated")
            continue
        if ref.get("host"):
            dest["host"] = ref["host"]
        dest["found_in"] = t.get("variable")
        dest["endpoint"] = t.get("endpoint")
        dest["port"] = int(raw.get("port") or t.get("port") or dest.get("port") or 443)
        dests.append(dest)
    out["destinations"] = dests
    out["db_not_found"] = missing
    out["db_not_found_title"] = (missing[0]["title"] + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                                 if missing else None)
    out["db_elsewhere"] = elsewhere
    out["destination"] = dests[0] if dests else None
    out["port"] = dests[0]["port"] if dests else None
    out["resolved"] = bool(sources) and bool(dests)
    out["applicable"] = out["resolved"] and any(s["in_vpc"] for s in sources)
    out["sources"] = [s for s in sources if s["in_vpc"]]
    return out
