"""Can it reach? Functions in VPCs that cannot connect to their database or
to an AWS service, one blocking hop each, and a healthy twin beside each:

- reports: the DB's security group does not admit reports-api's group
  (sg-ingress-blocks); reports-export's own group allows no outbound 5432
  (sg-egress-blocks); reports-worker gets through; reports-archive reaches
  the first database its environment names but not the second;
  reports-legacy's environment names a database deleted since (db-not-found).
- ledger, the seed's network ACL warning ("if you allow inbound HTTP but
  forget outbound return traffic, the connection fails silently"): the DB
  subnet's ACL allows inbound 5432 but not the outbound return traffic
  (nacl-outbound-blocks); ledger-audit's own subnet does not let the
  replies back in (nacl-inbound-blocks); ledger-sync reaches audit-db.
- billing: the warehouse DB sits in a peered VPC; billing-etl's subnet has
  no route to it (no-route), billing-report's has one (and the way back).
- events: an SQS interface endpoint whose policy admits only the consumer's
  role (endpoint-policy-denies for events-publisher).

Every VPC has a NAT route, so lambda-timeout's vpc-without-nat stays quiet;
the databases are private and encrypted, so account-posture is unchanged.
The functions' database URLs carry a password: it must never be printed."""
from __future__ import annotations

import json
import uuid

from . import Case, Seeder, scenario

# In the environment of the ledger functions (a URL with credentials).
LEDGER_DB_PASSWORD = "Ledger-5ecret-pw-0042"


def _subnet(s: Seeder, vpc: str, cidr: str, zone: str, route_table: str) -> str:
    ec2 = s.client("ec2")
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
    ec2.associate_route_table(RouteTableId=route_table, SubnetId=subnet)
    return subnet


def _group(s: Seeder, vpc: str, name: str, *, egress: list | None = None) -> str:
    """A security group; egress=None keeps AWS's default allow-all outbound rule."""
    ec2 = s.client("ec2")
    group = ec2.create_security_group(GroupName=f"{name}-{uuid.uuid4().hex[:6]}", Description=name, VpcId=vpc)["GroupId"]
    if egress is not None:
        ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        if egress:
            ec2.authorize_security_group_egress(GroupId=group, IpPermissions=egress)
    return group


def _admit(s: Seeder, group: str, port: int, *, groups: list[str] = (), cidrs: list[str] = ()) -> None:
    perm = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if groups:
        perm["UserIdGroupPairs"] = [{"GroupId": g} for g in groups]
    if cidrs:
        perm["IpRanges"] = [{"CidrIp": c} for c in cidrs]
    s.client("ec2").authorize_security_group_ingress(GroupId=group, IpPermissions=[perm])


def _db(s: Seeder, name: str, subnets: list[str], zone: str, group: str) -> str:
    rds = s.client("rds")
    rds.create_db_subnet_group(DBSubnetGroupName=f"{name}-subnets", DBSubnetGroupDescription=name, SubnetIds=subnets)
    rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres",
                           EngineVersion="16.3", MasterUsername="app", MasterUserPassword="not-a-real-password-2",
                           AllocatedStorage=20, StorageEncrypted=True, PubliclyAccessible=False,
                           DBSubnetGroupName=f"{name}-subnets", VpcSecurityGroupIds=[group], AvailabilityZone=zone)
    return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["Endpoint"]["Address"]


def _acl(s: Seeder, vpc: str, subnet: str, entries: list[tuple]) -> str:
    """A custom network ACL for `subnet`: (rule, egress, protocol, ports, cidr, action) entries."""
    ec2 = s.client("ec2")
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for rule, egress, proto, ports, cidr, action in entries:
        kwargs = dict(NetworkAclId=acl, RuleNumber=rule, Protocol=proto, RuleAction=action, Egress=egress,
                      CidrBlock=cidr)
        if ports:
            kwargs["PortRange"] = {"From": ports[0], "To": ports[1]}
        ec2.create_network_acl_entry(**kwargs)
    current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"][0]
    assoc = next(a["NetworkAclAssociationId"] for a in current["Associations"] if a["SubnetId"] == subnet)
    ec2.replace_network_acl_association(AssociationId=assoc, NetworkAclId=acl)
    return acl


@scenario("network", "Can it reach? Functions that cannot connect to their database or endpoint, and healthy twins")
def network(s: Seeder) -> list[Case]:
    ec2 = s.client("ec2")

    # --- reports: security groups ------------------------------------------------
    net = s.vpc(nat=True, cidr="10.60.0.0/16")
    db_subnet = _subnet(s, net["vpc"], "10.60.3.0/24", "us-east-1b", net["private_rt"])
    app = _subnet(s, net["vpc"], "10.60.4.0/24", "us-east-1a", net["private_rt"])
    api_sg, worker_sg = _group(s, net["vpc"], "reports-api"), _group(s, net["vpc"], "reports-worker")
    export_sg = _group(s, net["vpc"], "reports-export", egress=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    db_sg = _group(s, net["vpc"], "reports-db")
    _admit(s, db_sg, 5432, groups=[worker_sg, export_sg])
    reports = _db(s, "reports-db", [db_subnet, app], "us-east-1b", db_sg)
    s.function("reports-api", timeout=30, subnets=[app], security_groups=[api_sg], env={"DB_HOST": reports})
    s.function("reports-export", timeout=30, subnets=[app], security_groups=[export_sg],
               env={"DATABASE_URL": f"postgresql://{reports}:5432/reports"})
    s.function("reports-worker", timeout=30, subnets=[app], security_groups=[worker_sg], env={"PGHOST": reports})
    # reports-archive reaches reports-db (its first database) but not its second, archive-db,
    # whose group admits only the archive loader: a check of the first endpoint alone says healthy.
    loader_sg, archive_sg = _group(s, net["vpc"], "archive-loader"), _group(s, net["vpc"], "archive-db")
    _admit(s, archive_sg, 5432, groups=[loader_sg])
    archive = _db(s, "archive-db", [db_subnet, app], "us-east-1b", archive_sg)
    s.function("reports-archive", timeout=30, subnets=[app], security_groups=[worker_sg],
               env={"DB_HOST": reports, "ARCHIVE_URL": f"postgresql://{archive}:5432/archive"})
    s.invocations("reports-archive", [30_000.0, 30_000.0], timeout_s=30)
    # reports-legacy still points at reports-legacy-db, deleted since: no path to
    # evaluate, and never an all-clear (db-not-found).
    legacy = _db(s, "reports-legacy-db", [db_subnet, app], "us-east-1b", db_sg)
    s.client("rds").delete_db_instance(DBInstanceIdentifier="reports-legacy-db", SkipFinalSnapshot=True)
    s.function("reports-legacy", timeout=30, subnets=[app], security_groups=[worker_sg],
               env={"DATABASE_URL": f"postgresql://{legacy}:5432/legacy"})
    for name in ("reports-api", "reports-export"):          # connecting hangs until Lambda kills the invocation
        s.invocations(name, [30_000.0, 30_000.0], timeout_s=30)
    s.invocations("reports-worker", [420.0, 610.0], timeout_s=30)

    # --- ledger: network ACLs (the seed) -------------------------------------------
    net = s.vpc(nat=True, cidr="10.61.0.0/16")
    app = _subnet(s, net["vpc"], "10.61.4.0/24", "us-east-1a", net["private_rt"])
    audit_app = _subnet(s, net["vpc"], "10.61.5.0/24", "us-east-1a", net["private_rt"])
    ledger_subnet = _subnet(s, net["vpc"], "10.61.3.0/24", "us-east-1b", net["private_rt"])
    audit_subnet = _subnet(s, net["vpc"], "10.61.6.0/24", "us-east-1b", net["private_rt"])
    fn_sg = _group(s, net["vpc"], "ledger-fn")
    db_sg = _group(s, net["vpc"], "ledger-db")
    _admit(s, db_sg, 5432, groups=[fn_sg])
    # Inbound 5432 from the app subnets is allowed; the outbound rule mirrors it
    # (5432) instead of the clients' ephemeral ports: the replies are dropped.
    _acl(s, net["vpc"], ledger_subnet, [
        (100, False, "6", (5432, 5432), "10.61.0.0/16", "allow"),
        (100, True, "6", (5432, 5432), "10.61.0.0/16", "allow")])
    _acl(s, net["vpc"], audit_subnet, [
        (100, False, "6", (5432, 5432), "10.61.0.0/16", "allow"),
        (100, True, "6", (1024, 65535), "10.61.0.0/16", "allow")])
    # ledger-audit's own subnet lets out everything but lets in only HTTPS replies.
    _acl(s, net["vpc"], audit_app, [
        (100, False, "6", (443, 443), "0.0.0.0/0", "allow"),
        (200, False, "6", (32768, 65535), "0.0.0.0/0", "deny"),
        (100, True, "-1", None, "0.0.0.0/0", "allow")])
    ledger = _db(s, "ledger-db", [ledger_subnet, app], "us-east-1b", db_sg)
    audit = _db(s, "audit-db", [audit_subnet, audit_app], "us-east-1b", db_sg)
    s.function("ledger-sync", timeout=10, subnets=[app], security_groups=[fn_sg],
               env={"DATABASE_URL": f"postgres://ledger:{LEDGER_DB_PASSWORD}@{ledger}:5432/ledger"})
    s.invocations("ledger-sync", [10_000.0, 10_000.0, 10_000.0], timeout_s=10)
    s.function("ledger-audit", timeout=10, subnets=[audit_app], security_groups=[fn_sg],
               env={"DATABASE_URL": f"postgres://audit:{LEDGER_DB_PASSWORD}@{audit}:5432/audit"})
    s.invocations("ledger-audit", [10_000.0, 10_000.0], timeout_s=10)

    # --- billing: a warehouse in a peered VPC --------------------------------------
    net = s.vpc(nat=True, cidr="10.62.0.0/16")
    peer_vpc = ec2.create_vpc(CidrBlock="10.63.0.0/16")["Vpc"]["VpcId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=net["vpc"], PeerVpcId=peer_vpc)["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    etl_app = _subnet(s, net["vpc"], "10.62.4.0/24", "us-east-1a", net["private_rt"])     # NAT only
    routed_rt = ec2.create_route_table(VpcId=net["vpc"])["RouteTable"]["RouteTableId"]
    nat = next(r["NatGatewayId"] for r in ec2.describe_route_tables(RouteTableIds=[net["private_rt"]])["RouteTables"][0]["Routes"]
               if r.get("NatGatewayId"))
    ec2.create_route(RouteTableId=routed_rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.create_route(RouteTableId=routed_rt, DestinationCidrBlock="10.63.0.0/16", VpcPeeringConnectionId=pcx)
    report_app = _subnet(s, net["vpc"], "10.62.5.0/24", "us-east-1a", routed_rt)
    peer_rt = ec2.create_route_table(VpcId=peer_vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=peer_rt, DestinationCidrBlock="10.62.0.0/16", VpcPeeringConnectionId=pcx)
    wh_a = _subnet(s, peer_vpc, "10.63.1.0/24", "us-east-1a", peer_rt)
    wh_b = _subnet(s, peer_vpc, "10.63.2.0/24", "us-east-1b", peer_rt)
    fn_sg = _group(s, net["vpc"], "billing-fn")
    wh_sg = _group(s, peer_vpc, "warehouse-db")
    _admit(s, wh_sg, 5432, cidrs=["10.62.0.0/16"])
    warehouse = _db(s, "warehouse-db", [wh_a, wh_b], "us-east-1a", wh_sg)
    # billing-sync goes through a transit gateway: triage does not read its route
    # tables, so the path beyond it is unknown (inconclusive, never healthy; no Case:
    # test_network_path asserts it by hand).
    tgw = ec2.create_transit_gateway(Description="billing")["TransitGateway"]["TransitGatewayId"]
    tgw_rt = ec2.create_route_table(VpcId=net["vpc"])["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=tgw_rt, DestinationCidrBlock="10.63.0.0/16", TransitGatewayId=tgw)
    sync_app = _subnet(s, net["vpc"], "10.62.6.0/24", "us-east-1a", tgw_rt)
    for name, subnet in (("billing-etl", etl_app), ("billing-report", report_app), ("billing-sync", sync_app)):
        s.function(name, timeout=30, subnets=[subnet], security_groups=[fn_sg],
                   env={"WAREHOUSE_URL": f"postgresql://{warehouse}:5432/warehouse"})
    s.invocations("billing-etl", [30_000.0, 30_000.0], timeout_s=30)
    s.invocations("billing-report", [1_800.0, 2_300.0], timeout_s=30)

    # --- events: an interface endpoint whose policy admits one role -----------------
    net = s.vpc(nat=True, cidr="10.64.0.0/16")
    fn_sg = _group(s, net["vpc"], "events-fn")
    vpce_sg = _group(s, net["vpc"], "sqs-endpoint")
    _admit(s, vpce_sg, 443, groups=[fn_sg])
    consumer_role = s.role("events-consumer-role")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "OnlyTheConsumer", "Effect": "Allow", "Principal": {"AWS": consumer_role}, "Action": "sqs:*",
         "Resource": "*"}]}
    ec2.create_vpc_endpoint(VpcId=net["vpc"], ServiceName="com.amazonaws.us-east-1.sqs", VpcEndpointType="Interface",
                            SubnetIds=[net["private"]], SecurityGroupIds=[vpce_sg], PrivateDnsEnabled=True,
                            PolicyDocument=json.dumps(policy))
    for name in ("events-publisher", "events-consumer"):
        s.function(name, timeout=30, subnets=[net["private"]], security_groups=[fn_sg])

    path = "network-path"
    return [
        Case(path, {"from": "ledger-sync", "to": "ledger-db"}, ["nacl-outbound-blocks"],
             "the seed: a network ACL allows inbound 5432 but forgets the outbound return traffic"),
        Case(path, {"from": "ledger-sync", "to": "audit-db"}, [], "healthy twin: return traffic on ephemeral ports allowed"),
        Case(path, {"from": "ledger-audit", "to": "audit-db"}, ["nacl-inbound-blocks"],
             "the function's own subnet does not let the replies back in"),
        Case(path, {"from": "reports-api", "to": "reports-db"}, ["sg-ingress-blocks"],
             "the DB's security group does not admit the function's"),
        Case(path, {"from": "reports-export", "to": "reports-db"}, ["sg-egress-blocks"],
             "the function's security group allows no outbound 5432"),
        Case(path, {"from": "reports-worker", "to": reports}, [], "healthy twin: admitted by group, by endpoint name"),
        Case(path, {"from": "billing-etl", "to": "warehouse-db"}, ["no-route"], "no route to the peered VPC"),
        Case(path, {"from": "billing-report", "to": "warehouse-db"}, [], "healthy twin: routed through the peering"),
        Case(path, {"from": "events-publisher", "to": "sqs"}, ["endpoint-policy-denies"],
             "the SQS interface endpoint's policy admits only the consumer",
             fix_vars={"ACTION": "sqs:SendMessage"}),    # the call it makes: the fix allows that one only
        Case(path, {"from": "events-consumer", "to": "sqs"}, [], "healthy twin: the role the endpoint policy names"),
        Case("lambda-timeout", {"function": "ledger-sync"}, ["nacl-outbound-blocks", "timeout-too-low"],
             "times out because its database's replies never come back"),
        Case("lambda-timeout", {"function": "ledger-audit"}, ["nacl-inbound-blocks", "timeout-too-low"],
             "its subnet does not let its database's replies in"),
        Case("lambda-timeout", {"function": "reports-api"}, ["sg-ingress-blocks", "timeout-too-low"],
             "in a VPC whose database does not admit it"),
        Case("lambda-timeout", {"function": "reports-export"}, ["sg-egress-blocks", "timeout-too-low"],
             "its own security group does not let it out to its database"),
        Case("lambda-timeout", {"function": "billing-etl"}, ["no-route", "timeout-too-low"],
             "no route to its database's VPC"),
        Case("lambda-timeout", {"function": "billing-report"}, [], "healthy twin: reaches its database"),
        Case("lambda-timeout", {"function": "reports-archive"}, ["sg-ingress-blocks", "timeout-too-low"],
             "reaches the first database in its environment, not the second"),
        Case("lambda-timeout", {"function": "reports-legacy"}, ["db-not-found"],
             "its environment names a database that was deleted"),
        Case("rds-connections", {"db": "reports-db", "function": ["reports-api", "reports-export", "reports-worker"]},
             ["no-rds-proxy", "sg-egress-blocks", "sg-ingress-blocks"], "two of three functions cannot connect"),
        Case("rds-connections", {"db": "ledger-db", "function": ["ledger-sync"]}, ["nacl-outbound-blocks", "no-rds-proxy"],
             "replies dropped by the DB subnet's network ACL"),
        Case("rds-connections", {"db": "audit-db", "function": ["ledger-audit"]}, ["nacl-inbound-blocks", "no-rds-proxy"],
             "replies dropped by the function subnet's network ACL"),
        Case("rds-connections", {"db": "warehouse-db", "function": ["billing-etl", "billing-report"]},
             ["no-rds-proxy", "no-route"], "one function has no route to the peered VPC"),
    ]
