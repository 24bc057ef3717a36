"""A synthetic VPC world for the evaluator's unit tests: the Describe*
answers a playbook would get (in botocore's shapes), built in a few lines,
and the helpers that run the evaluator over them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from triage.netpath import net_eval, net_facts

ALL_TRAFFIC = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "UserIdGroupPairs": [], "PrefixListIds": []}


def perm(port: int | tuple | None = None, *, cidr: str | list | None = None, group: str | None = None,
         proto: str = "tcp", pl: str | None = None, ipv6: str | None = None) -> dict:
    """One IpPermission: perm(5432, group='sg-fn'), perm((1024, 65535), cidr='10.0.0.0/16')."""
    p: dict[str, Any] = {"IpProtocol": proto, "IpRanges": [], "UserIdGroupPairs": [], "PrefixListIds": [], "Ipv6Ranges": []}
    if proto not in ("-1",):
        lo, hi = (port, port) if isinstance(port, int) else port
        p["FromPort"], p["ToPort"] = lo, hi
    for c in ([cidr] if isinstance(cidr, str) else cidr or []):
        p["IpRanges"].append({"CidrIp": c})
    if group:
        p["UserIdGroupPairs"].append({"GroupId": group})
    if pl:
        p["PrefixListIds"].append({"PrefixListId": pl})
    if ipv6:
        p["Ipv6Ranges"].append({"CidrIpv6": ipv6})
    return p


def entry(number: int, egress: bool, action: str, cidr: str = "0.0.0.0/0", ports: tuple | None = None,
          proto: str = "6", ipv6: bool = False) -> dict:
    """One network ACL entry: entry(100, False, 'allow', '10.0.0.0/16', (5432, 5432))."""
    e: dict[str, Any] = {"RuleNumber": number, "Egress": egress, "RuleAction": action, "Protocol": proto}
    e["Ipv6CidrBlock" if ipv6 else "CidrBlock"] = cidr
    if ports and proto != "-1":
        e["PortRange"] = {"From": ports[0], "To": ports[1]}
    return e


def default_entries() -> list[dict]:
    """The default network ACL (VPC User Guide, "Default network ACL")."""
    return [entry(100, False, "allow", proto="-1"), entry(32767, False, "deny", proto="-1"),
            entry(100, True, "allow", proto="-1"), entry(32767, True, "deny", proto="-1")]


@dataclass
class World:
    subnets: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    acls: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    peering: list = field(default_factory=list)
    nats: list = field(default_factory=list)
    endpoints: list = field(default_factory=list)
    prefix_lists: list = field(default_factory=list)

    # --- building -----------------------------------------------------------------
    def vpc(self, vpc: str, cidr: str) -> str:
        """A VPC with its default network ACL and main route table (local route only)."""
        self.acls.append({"NetworkAclId": f"acl-default-{vpc}", "VpcId": vpc, "IsDefault": True,
                          "Associations": [], "Entries": default_entries()})
        self.tables.append({"RouteTableId": f"rtb-main-{vpc}", "VpcId": vpc,
                            "Associations": [{"Main": True, "RouteTableId": f"rtb-main-{vpc}"}],
                            "Routes": [{"DestinationCidrBlock": cidr, "GatewayId": "local", "State": "active",
                                        "Origin": "CreateRouteTable"}]})
        return vpc

    def subnet(self, sid: str, vpc: str, cidr: str, az: str = "us-east-1a") -> str:
        self.subnets.append({"SubnetId": sid, "VpcId": vpc, "CidrBlock": cidr, "AvailabilityZone": az})
        acl = next(a for a in self.acls if a["VpcId"] == vpc and a["IsDefault"])
        acl["Associations"].append({"SubnetId": sid, "NetworkAclId": acl["NetworkAclId"]})
        return sid

    def group(self, gid: str, vpc: str, *, ingress: list | None = None, egress: list | None = None) -> str:
        """egress=None keeps the default allow-all outbound rule."""
        self.groups.append({"GroupId": gid, "VpcId": vpc, "IpPermissions": ingress or [],
                            "IpPermissionsEgress": [ALL_TRAFFIC] if egress is None else egress})
        return gid

    def acl(self, acl_id: str, vpc: str, subnets: list[str], entries: list[dict]) -> str:
        """A custom ACL that takes over the subnets' associations."""
        for a in self.acls:
            a["Associations"] = [x for x in a["Associations"] if x["SubnetId"] not in subnets]
        self.acls.append({"NetworkAclId": acl_id, "VpcId": vpc, "IsDefault": False, "Entries": entries,
                          "Associations": [{"SubnetId": s, "NetworkAclId": acl_id} for s in subnets]})
        return acl_id

    def route(self, vpc: str, dest: str, target: str, *, table: str | None = None, state: str = "active",
              origin: str = "CreateRoute", prefix_list: bool = False) -> None:
        t = self.table(table) if table else self.table(f"rtb-main-{vpc}")
        key = {"igw-": "GatewayId", "vpce": "GatewayId", "nat-": "NatGatewayId", "pcx-": "VpcPeeringConnectionId",
               "tgw-": "TransitGatewayId", "eni-": "NetworkInterfaceId", "vgw-": "GatewayId"}[
            next(p for p in ("igw-", "vpce", "nat-", "pcx-", "tgw-", "eni-", "vgw-") if target.startswith(p))]
        r = {key: target, "State": state, "Origin": origin}
        r["DestinationPrefixListId" if prefix_list else "DestinationCidrBlock"] = dest
        t["Routes"].append(r)

    def table(self, rtb: str) -> dict:
        return next(t for t in self.tables if t["RouteTableId"] == rtb)

    def route_table(self, rtb: str, vpc: str, subnets: list[str], routes: list[tuple] = ()) -> str:
        """A custom route table explicitly associated with the subnets (local route included)."""
        local = next(r for r in self.table(f"rtb-main-{vpc}")["Routes"] if r.get("GatewayId") == "local")
        self.tables.append({"RouteTableId": rtb, "VpcId": vpc, "Routes": [dict(local)],
                            "Associations": [{"SubnetId": s, "RouteTableId": rtb, "Main": False} for s in subnets]})
        for dest, target in routes:
            self.route(vpc, dest, target, table=rtb)
        return rtb

    def peer(self, pcx: str, a: tuple, b: tuple, status: str = "active") -> str:
        """a, b: (vpc, cidr)."""
        self.peering.append({"VpcPeeringConnectionId": pcx, "Status": {"Code": status},
                             "RequesterVpcInfo": {"VpcId": a[0], "CidrBlock": a[1], "Region": "us-east-1"},
                             "AccepterVpcInfo": {"VpcId": b[0], "CidrBlock": b[1], "Region": "us-east-1"}})
        return pcx

    def nat(self, nat: str, vpc: str, subnet: str, state: str = "available") -> str:
        self.nats.append({"NatGatewayId": nat, "VpcId": vpc, "SubnetId": subnet, "State": state})
        return nat

    def endpoint(self, vpce: str, vpc: str, service: str, *, kind: str = "Interface", subnets=(), groups=(),
                 policy: Any = None, private_dns: bool = True, route_tables=()) -> str:
        e = {"VpcEndpointId": vpce, "VpcId": vpc, "ServiceName": service, "VpcEndpointType": kind,
             "State": "available", "SubnetIds": list(subnets), "Groups": [{"GroupId": g} for g in groups],
             "PrivateDnsEnabled": private_dns, "RouteTableIds": list(route_tables)}
        if policy is not None:
            e["PolicyDocument"] = json.dumps(policy) if isinstance(policy, dict) else policy
        self.endpoints.append(e)
        return vpce

    # --- the answers of the source/destination calls ---------------------------------
    @staticmethod
    def function(name: str, subnets: list[str], groups: list[str], role: str | None = None) -> dict:
        return {"FunctionName": name, "Role": role or f"arn:aws:iam::123456789012:role/{name}-role",
                "VpcConfig": {"SubnetIds": subnets, "SecurityGroupIds": groups, "VpcId": "vpc-123abc"}}

    @staticmethod
    def db(name: str, subnets: list[tuple], az: str, groups: list[str], *, port: int = 5432, vpc: str | None = None,
           secondary: str | None = None, public: bool = False) -> dict:
        """subnets: [(subnet id, az)]."""
        inst = {"DBInstanceIdentifier": name, "Engine": "postgres", "AvailabilityZone": az,
                "Endpoint": {"Address": f"{name}.abc123.us-east-1.rds.amazonaws.com", "Port": port},
                "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"} for g in groups],
                "PubliclyAccessible": public,
                "DBSubnetGroup": {"VpcId": vpc, "Subnets": [{"SubnetIdentifier": s, "SubnetAvailabilityZone": {"Name": z}}
                                                            for s, z in subnets]}}
        if secondary:
            inst["SecondaryAvailabilityZone"] = secondary
        return {"DBInstances": [inst]}

    @staticmethod
    def instance(iid: str, subnet: str, ip: str, groups: list[str], *, public_ip: str | None = None,
                 platform: str | None = None, vpc: str | None = None) -> dict:
        eni = {"NetworkInterfaceId": f"eni-{iid[2:]}", "SubnetId": subnet, "PrivateIpAddress": ip,
               "Groups": [{"GroupId": g} for g in groups], "Attachment": {"DeviceIndex": 0}}
        if public_ip:
            eni["Association"] = {"PublicIp": public_ip}
        i = {"InstanceId": iid, "SubnetId": subnet, "VpcId": vpc, "PrivateIpAddress": ip, "PublicIpAddress": public_ip,
             "SecurityGroups": [{"GroupId": g} for g in groups], "NetworkInterfaces": [eni]}
        if platform:
            i["Platform"] = platform
        return {"Reservations": [{"Instances": [i]}]}

    # --- running the evaluator ---------------------------------------------------------
    def facts(self, **raw) -> dict:
        raw.setdefault("region", "us-east-1")
        raw.setdefault("subnets", {"Subnets": self.subnets})
        if "vpc_endpoints" not in raw:
            raw["vpc_endpoints"] = {"VpcEndpoints": self.endpoints}
        raw.setdefault("prefix_lists", {"PrefixLists": self.prefix_lists})
        return net_facts(raw)

    def evaluate(self, net: dict) -> dict:
        peering = {"VpcPeeringConnections": self.peering}
        sg = net_eval("security-groups", net, {"security_groups": {"SecurityGroups": self.groups}, "peering": peering})
        nacl = net_eval("network-acls", net, {"network_acls": {"NetworkAcls": self.acls},
                                              "route_tables": {"RouteTables": self.tables},
                                              "nat_gateways": {"NatGateways": self.nats}})
        routes = net_eval("routes", net, {"route_tables": {"RouteTables": self.tables}, "peering": peering,
                                          "nat_gateways": {"NatGateways": self.nats}})
        endpoint = net_eval("endpoint-policy", net, {})
        path = net_eval("path", net, {"sg": sg, "nacl": nacl, "routes": routes, "endpoint": endpoint})
        return {"sg": sg, "nacl": nacl, "routes": routes, "endpoint": endpoint, "path": path, "net": net,
                "blocks": blocking(sg, nacl, routes, endpoint)}


def blocking(sg: dict, nacl: dict, routes: dict, endpoint: dict) -> list[str]:
    """The finding ids the playbook would report, in a stable order."""
    out = []
    for check, value in (("sg-egress-blocks", sg.get("egress")), ("sg-ingress-blocks", sg.get("ingress")),
                         ("nacl-outbound-blocks", nacl.get("outbound")), ("nacl-inbound-blocks", nacl.get("inbound")),
                         ("no-route", routes.get("block")), ("endpoint-policy-denies", endpoint.get("block"))):
        if value:
            out.append(check)
    return out


def hop(result: dict, name: str) -> list[dict]:
    """The path's hops called `name` (e.g. 'network ACL outbound'), over every path."""
    return [h for p in result["path"]["paths"] for h in p["hops"] if h["hop"] == name]


def two_tier(*, db_groups_admit: bool = True, fn_egress: list | None = None) -> tuple[World, dict]:
    """The usual shape: a function in 10.0.1.0/24 and a DB in 10.0.2.0/24 of vpc-a, with
    the DB's security group admitting the function's (or not). Returns (world, raw)."""
    w = World()
    w.vpc("vpc-a", "10.0.0.0/16")
    w.subnet("subnet-app", "vpc-a", "10.0.1.0/24", "us-east-1a")
    w.subnet("subnet-db", "vpc-a", "10.0.2.0/24", "us-east-1b")
    w.group("sg-fn", "vpc-a", egress=fn_egress)
    w.group("sg-db", "vpc-a", ingress=[perm(5432, group="sg-fn")] if db_groups_admit else [])
    raw = {"from": "orders-api", "to": "orders-db",
           "function": World.function("orders-api", ["subnet-app"], ["sg-fn"]),
           "db_instance": World.db("orders-db", [("subnet-db", "us-east-1b"), ("subnet-app", "us-east-1a")],
                                   "us-east-1b", ["sg-db"], vpc="vpc-a")}
    return w, raw
