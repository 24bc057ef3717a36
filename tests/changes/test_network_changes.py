"""network-path's recent changes: a security-group rule revoked, a network
ACL entry replaced, a route deleted (the classic causes of "it stopped
connecting") are matched to the resources the path goes through, said
before → after where the events tell it, and linked to the blocking hop
they explain. Delivered as a trail's log files in moto's S3 (moto has no
LookupEvents), in a moto server of its own: the trail records change the
world the other tests read."""
from __future__ import annotations

import json
import time

import pytest

from conftest import run_cli
from triage.demo.scenarios import Seeder, seed_all
from triage.demo.scenarios.changes import (ADMIN, CLI_AGENT, DEPLOYER, TERRAFORM_AGENT, TRAIL_BUCKET,
                                           TRAIL_PREFIX, deliver, ensure_trail, record)

from fixes.harness import ServerProcess


def path(url: str, src: str, dst: str) -> dict:
    r = run_cli("network-path", "--from", src, "--to", dst, "--output", "json", endpoint=url)
    assert "Traceback" not in r.err, r.err
    return json.loads(r.out)


def finding(data: dict, check: str) -> dict:
    return next(f for f in data["findings"] if f["check"] == check)


@pytest.fixture(scope="module")
def world():
    """The network scenario and a trail whose files hold the changes before each incident."""
    with ServerProcess() as server:
        seed_all(server.url, ["network"])
        before = {"reports": path(server.url, "reports-api", "reports-db"),
                  "ledger": path(server.url, "ledger-sync", "ledger-db"),
                  "billing": path(server.url, "billing-etl", "warehouse-db")}
        db_sg = finding(before["reports"], "sg-ingress-blocks")["evidence"]["security_groups"][0]
        api_sg = finding(before["reports"], "sg-ingress-blocks")["evidence"]["missing_rule"].rsplit(" ", 1)[1]
        acl = finding(before["ledger"], "nacl-outbound-blocks")["evidence"]["network_acl"]
        rtb = finding(before["billing"], "no-route")["evidence"]["route_table"]
        now = time.time()
        s = Seeder(server.url)
        ensure_trail(s)
        perm = {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "groups": {"items": [{"groupId": api_sg}]},
                "ipRanges": {}, "ipv6Ranges": {}, "prefixListIds": {}}
        acl_entry = {"networkAclId": acl, "ruleNumber": 100, "egress": True, "ruleAction": "allow", "protocol": "6",
                     "icmpTypeCode": {}, "cidrBlock": "10.61.0.0/16"}
        records = [
            # reports: the rule admitting reports-api revoked 30 minutes ago (a failed try before it is no change)
            record("RevokeSecurityGroupIngress", "ec2", now - 30 * 60 - 60, DEPLOYER, CLI_AGENT,
                   {"groupId": db_sg, "ipPermissions": {"items": [perm]}}, error="Client.UnauthorizedOperation"),
            record("RevokeSecurityGroupIngress", "ec2", now - 30 * 60, ADMIN, CLI_AGENT,
                   {"groupId": db_sg, "ipPermissions": {"items": [perm]}}, response={"_return": True}),
            record("DescribeSecurityGroups", "ec2", now - 25 * 60, ADMIN, CLI_AGENT,
                   {"securityGroupIdSet": {"items": [{"groupId": db_sg}]}}, read_only=True),
            # another group's rule, same minute: not this path's
            record("AuthorizeSecurityGroupIngress", "ec2", now - 29 * 60, ADMIN, CLI_AGENT,
                   {"groupId": "sg-0123456789abcdef0", "ipPermissions": {"items": [perm]}}),
            # ledger: Terraform set the outbound rule to the ephemeral ports, then someone "tightened" it to 5432
            record("CreateNetworkAclEntry", "ec2", now - 6 * 3600, DEPLOYER, TERRAFORM_AGENT,
                   {**acl_entry, "portRange": {"from": 1024, "to": 65535}}),
            record("ReplaceNetworkAclEntry", "ec2", now - 2 * 3600, ADMIN, CLI_AGENT,
                   {**acl_entry, "portRange": {"from": 5432, "to": 5432}}),
            # billing: the route to the peered warehouse VPC deleted
            record("CreateRoute", "ec2", now - 5 * 3600, DEPLOYER, TERRAFORM_AGENT,
                   {"routeTableId": rtb, "destinationCidrBlock": "10.63.0.0/16", "vpcPeeringConnectionId": "pcx-0aa11bb22cc33dd44"}),
            record("DeleteRoute", "ec2", now - 45 * 60, ADMIN, CLI_AGENT,
                   {"routeTableId": rtb, "destinationCidrBlock": "10.63.0.0/16"}),
            # reports-legacy: its database deleted 3 hours ago
            record("DeleteDBInstance", "rds", now - 3 * 3600, ADMIN, CLI_AGENT,
                   {"dBInstanceIdentifier": "reports-legacy-db", "skipFinalSnapshot": True}),
        ]
        deliver(s.client("s3"), TRAIL_BUCKET, TRAIL_PREFIX, records)
        yield {"url": server.url, "db_sg": db_sg, "api_sg": api_sg, "acl": acl, "rtb": rtb}


def linked(data: dict, check: str) -> list[dict]:
    return [c for c in data["changes"] or [] if check in c["explains"]]


def test_a_revoked_ingress_rule_on_the_databases_group_explains_sg_ingress_blocks(world):
    data = path(world["url"], "reports-api", "reports-db")
    assert data["outcome"] == "findings" and [f["check"] for f in data["findings"]] == ["sg-ingress-blocks"]
    assert data["change_search"]["answered_by"] == "trail-files", data["change_search"]
    [change] = linked(data, "sg-ingress-blocks")
    assert change["event"] == "RevokeSecurityGroupIngress" and change["principal"] == ADMIN
    assert change["resource"] == world["db_sg"] and change["source"] == "trail-files"
    assert change["detail"] == f"inbound rule removed: tcp 5432 from {world['api_sg']}"
    assert change["explanation"].startswith("sg-ingress-blocks may be explained by RevokeSecurityGroupIngress")
    # the failed call, the read and the other group's rule are not changes to this path
    assert [c["event"] for c in data["changes"]] == ["RevokeSecurityGroupIngress"]


def test_a_replaced_network_acl_entry_is_said_before_and_after_and_explains_the_blocked_return_traffic(world):
    data = path(world["url"], "ledger-sync", "ledger-db")
    assert [f["check"] for f in data["findings"]] == ["nacl-outbound-blocks"]
    [change] = linked(data, "nacl-outbound-blocks")
    assert change["event"] == "ReplaceNetworkAclEntry" and change["resource"] == world["acl"]
    assert change["detail"] == ("outbound rule 100 replaced: allow tcp 1024-65535 to 10.61.0.0/16 → "
                                "allow tcp 5432 to 10.61.0.0/16")
    created = next(c for c in data["changes"] if c["event"] == "CreateNetworkAclEntry")
    assert created["detail"] == "outbound rule 100 added: allow tcp 1024-65535 to 10.61.0.0/16"
    assert created["explains"] == []          # the latest change before the finding is the one linked


def test_a_deleted_route_to_the_peered_vpc_explains_no_route(world):
    data = path(world["url"], "billing-etl", "warehouse-db")
    assert [f["check"] for f in data["findings"]] == ["no-route"]
    [change] = linked(data, "no-route")
    assert change["event"] == "DeleteRoute" and change["resource"] == world["rtb"]
    assert change["detail"] == "route 10.63.0.0/16 deleted (was via pcx-0aa11bb22cc33dd44)"


def test_a_healthy_twin_lists_what_changed_on_its_path_and_links_nothing(world):
    data = path(world["url"], "reports-worker", "reports-db")
    assert data["outcome"] == "healthy" and data["findings"] == []
    # reports-worker's path ends at the same database group: the revoke is listed, linked to nothing
    assert [(c["event"], c["explains"]) for c in data["changes"]] == [("RevokeSecurityGroupIngress", [])]
    assert world["db_sg"] in data["change_search"]["resources"]


def test_a_deleted_database_explains_db_not_found_in_lambda_timeout(world):
    r = run_cli("lambda-timeout", "--function", "reports-legacy", "--output", "json", endpoint=world["url"])
    data = json.loads(r.out)
    assert r.code == 1 and [f["check"] for f in data["findings"]] == ["db-not-found"]
    assert "reports-legacy-db" in data["change_search"]["resources"]
    [change] = linked(data, "db-not-found")
    assert change["event"] == "DeleteDBInstance" and change["resource"] == "reports-legacy-db"
    assert change["principal"] == ADMIN and change["source"] == "trail-files"
