"""`triage network-path`, and the reachability checks of lambda-timeout and
rds-connections, end to end against the seeded moto world (scenario
`network`): every blocking hop has a healthy twin, each finding names the
rule (or the missing one) and prints the one command that opens only what
is needed; a reachable path is healthy and printed hop by hop; a hop that
could not be read is inconclusive, an unreachable endpoint unavailable."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from conftest import run_cli
from triage.demo.scenarios.network import LEDGER_DB_PASSWORD
from triage.testing.proxy import FaultProxy, access_denied


def path_of(cli, *args: str) -> tuple[int, dict]:
    r = cli("network-path", *args, "--output", "json")
    assert "Traceback" not in r.err, r.err
    return r.code, json.loads(r.out)


def checks(data: dict) -> list[str]:
    return sorted(f["check"] for f in data["findings"])


def only(data: dict, check: str) -> dict:
    assert checks(data) == [check], checks(data)
    return data["findings"][0]


def test_every_seeded_path_finds_exactly_its_blocking_hop(cli, world):
    cases = [c for c in world.cases if c.playbook == "network-path"]
    assert {f for c in cases for f in c.expect} == {"sg-egress-blocks", "sg-ingress-blocks", "nacl-outbound-blocks",
                                                    "nacl-inbound-blocks", "no-route", "endpoint-policy-denies"}
    for case in cases:
        code, data = path_of(cli, "--from", case.inputs["from"], "--to", case.inputs["to"])
        assert checks(data) == sorted(case.expect), case.note
        assert data["unchecked"] == [], case.note
        assert (code, data["outcome"]) == ((1, "findings") if case.expect else (0, "healthy")), case.note
        assert data["path"]["reachable"] is (not case.expect), case.note


def test_the_seeds_network_acl_case_names_the_return_traffic_and_opens_only_it(cli):
    _, data = path_of(cli, "--from", "ledger-sync", "--to", "ledger-db")
    f = only(data, "nacl-outbound-blocks")
    assert f["title"].endswith("blocks the outbound return traffic to ledger-sync on ephemeral ports 1024-65535")
    assert "Network ACLs are stateless" in f["explanation"] and "AWS Lambda functions use ports 1024-65535" in f["explanation"]
    r = cli("network-path", "--from", "ledger-sync", "--to", "ledger-db", "--no-color")
    assert r.code == 1
    text = " ".join(r.out.split())
    assert "decided_by rule * deny all traffic (the default rule)" in text
    assert "outbound_rules rule 100 allow tcp 5432 to 10.61.0.0/16" in text
    fix = [ln for ln in r.out.splitlines() if ln.startswith("aws ec2 create-network-acl-entry")]
    assert len(fix) == 1 and re.fullmatch(
        r"aws ec2 create-network-acl-entry --network-acl-id acl-\w+ --egress --rule-number 200 --protocol tcp "
        r"--port-range From=1024,To=65535 --cidr-block 10\.61\.4\.0/24 --rule-action allow", fix[0]), fix
    # the path below the finding shows where it stops
    assert "Path: 1 of 1 path(s) blocked" in text
    assert re.search(r"✗ network ACL outbound +acl-\w+ \(subnet-\w+\) outbound tcp 1024-65535 to 10\.61\.4\.0/24 "
                     r"\(return traffic on ephemeral ports\): denied by rule \*", r.out)


def test_a_reachable_path_is_healthy_and_printed_hop_by_hop(cli):
    r = cli("network-path", "--from", "billing-report", "--to", "warehouse-db", "--no-color")
    assert r.code == 0, r.out
    assert "✓ Healthy: all 7 checks ran and none found a problem." in r.out
    assert "Path: reachable: 1 path(s), every hop allows TCP 5432" in r.out
    hops = [ln.split()[1:4] for ln in r.out.splitlines() if ln.startswith("    ✓")]
    assert [h[0] for h in hops] == ["source", "security", "network", "route", "network", "security", "network",
                                    "return", "network", "replies", "destination"]
    assert re.search(r"10\.63\.0\.0/16 -> pcx-\w+ \(peering vpc-\w+ <-> vpc-\w+, active\)", r.out)
    assert re.search(r"✓ return route +rtb-\w+ \(explicitly associated\) of subnet-\w+: 10\.62\.0\.0/16 -> pcx-", r.out)


def test_json_carries_the_path(cli):
    code, data = path_of(cli, "--from", "reports-worker", "--to", "reports-db")
    assert code == 0 and data["outcome"] == "healthy"
    [p] = data["path"]["paths"]
    assert p["blocked"] is False and p["hops"][0]["hop"] == "source" and p["hops"][-1]["hop"] == "destination"
    assert {h["status"] for h in p["hops"]} == {"ok"}


def test_the_dbs_security_group_not_admitting_the_function(cli):
    code, data = path_of(cli, "--from", "reports-api", "--to", "reports-db")
    f = only(data, "sg-ingress-blocks")
    fn_sg = json.loads(cli("network-path", "--from", "reports-api", "--to", "reports-db", "-o", "json").out)
    db_sg, = f["evidence"]["security_groups"]
    assert f["evidence"]["inbound_rules"] and all("0.0.0.0/0" not in r for r in f["evidence"]["inbound_rules"])
    [cmd] = f["fix"]["commands"]
    m = re.fullmatch(rf"aws ec2 authorize-security-group-ingress --group-id {db_sg} --protocol tcp --port 5432 "
                     r"--source-group (sg-\w+)", cmd)
    assert m, cmd
    assert f["evidence"]["missing_rule"] == f"{db_sg} ingress tcp 5432 from {m.group(1)}"
    assert "Security groups are stateful" in f["explanation"] and fn_sg["outcome"] == "findings"


def test_the_functions_own_group_not_letting_it_out(cli):
    _, data = path_of(cli, "--from", "reports-export", "--to", "reports-db")
    f = only(data, "sg-egress-blocks")
    assert f["evidence"]["outbound_rules"][0].endswith("egress tcp 443 to 0.0.0.0/0")
    [cmd] = f["fix"]["commands"]
    m = re.fullmatch(r"aws ec2 authorize-security-group-egress --group-id (sg-\w+) --ip-permissions (.+)", cmd)
    perms = json.loads(m.group(2).strip("'"))
    assert perms == [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                      "UserIdGroupPairs": [{"GroupId": perms[0]["UserIdGroupPairs"][0]["GroupId"]}]}]


def test_no_route_to_the_peered_vpc(cli):
    _, data = path_of(cli, "--from", "billing-etl", "--to", "warehouse-db")
    f = only(data, "no-route")
    assert f["evidence"]["matched_route"].startswith("0.0.0.0/0 -> nat-")
    assert "cannot be reached through an internet or NAT gateway" in f["explanation"]
    [cmd] = f["fix"]["commands"]
    assert re.fullmatch(r"aws ec2 create-route --route-table-id rtb-\w+ --destination-cidr-block 10\.63\.0\.0/16 "
                        r"--vpc-peering-connection-id pcx-\w+", cmd), cmd


def test_an_interface_endpoint_whose_policy_denies(cli):
    _, data = path_of(cli, "--from", "events-publisher", "--to", "sqs", "--action", "sqs:SendMessage")
    f = only(data, "endpoint-policy-denies")
    assert f["evidence"]["principal"] == "arn:aws:iam::123456789012:role/events-publisher-role"
    [cmd] = f["fix"]["commands"]
    policy = json.loads(cmd.split("--policy-document ", 1)[1].strip("'"))
    assert policy["Statement"][0]["Sid"] == "OnlyTheConsumer"                # kept
    assert policy["Statement"][-1] == {"Sid": "AllowFromTriageFix", "Effect": "Allow",
                                       "Principal": {"AWS": "arn:aws:iam::123456789012:role/events-publisher-role"},
                                       "Action": "sqs:SendMessage", "Resource": "*"}
    _, twin = path_of(cli, "--from", "events-consumer", "--to", "sqs.us-east-1.amazonaws.com", "--action", "sqs:SendMessage")
    assert twin["outcome"] == "healthy"


def test_a_name_that_does_not_exist(cli):
    code, data = path_of(cli, "--from", "reports-api", "--to", "no-such-db")
    f = only(data, "not-found")
    assert code == 1 and f["title"] == "no DB instance, cluster or proxy named no-such-db in us-east-1"


def test_a_hop_that_could_not_be_read_is_inconclusive_never_healthy(world):
    with FaultProxy(world.url) as proxy:
        proxy.add_fault("DescribeNetworkAcls", access_denied())
        r = run_cli("network-path", "--from", "billing-report", "--to", "warehouse-db", "-o", "json", endpoint=proxy.url)
        blocked = run_cli("network-path", "--from", "reports-api", "--to", "reports-db", "-o", "json", endpoint=proxy.url)
    data = json.loads(r.out)
    assert r.code == 4 and data["outcome"] == "inconclusive"
    assert sorted(u["check"] for u in data["unchecked"]) == ["nacl-inbound-blocks", "nacl-outbound-blocks"]
    assert all(u["needs"] == ["ec2:DescribeNetworkAcls"] for u in data["unchecked"])
    other = json.loads(blocked.out)          # what could be read still decides
    assert blocked.code == 1 and checks(other) == ["sg-ingress-blocks"]


def test_an_unreachable_endpoint_is_unavailable():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = run_cli("network-path", "--from", "reports-api", "--to", "reports-db", "-o", "json",
                "--endpoint-url", f"http://127.0.0.1:{port}", "--region", "us-east-1")
    assert r.code == 3 and json.loads(r.out)["outcome"] == "unavailable"


def test_usage_errors_exit_2(cli):
    r = cli("network-path", "--from", "", "--to", "reports-db")
    assert r.code == 2 and "--from ''" in r.err
    r = cli("network-path", "--from", "reports-api", "--to", "reports-db", "--port", "70000")
    assert r.code == 2 and "--port must be 1-65535" in r.err


def test_markdown_has_the_path(cli):
    r = cli("network-path", "--from", "ledger-sync", "--to", "audit-db", "--output", "markdown")
    assert r.code == 0 and "### Path: reachable" in r.out and "| network ACL outbound | ok |" in r.out


def test_lambda_timeout_reports_the_blocking_hop_to_the_database_in_its_environment(cli):
    r = cli("lambda-timeout", "--function", "ledger-sync", "--output", "json")
    data = json.loads(r.out)
    assert checks(data) == ["nacl-outbound-blocks", "timeout-too-low"]
    f = next(f for f in data["findings"] if f["check"] == "nacl-outbound-blocks")
    assert data["findings"][0]["check"] == "nacl-outbound-blocks"                 # critical, first
    assert f["evidence"]["found_in"] == "DATABASE_URL"
    assert f["evidence"]["database"] == "ledger-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com:5432"
    assert f["evidence"]["traffic"] == "return traffic on ephemeral ports"
    for case in ("reports-api", "reports-export", "ledger-audit", "billing-etl"):
        assert len(json.loads(cli("lambda-timeout", "--function", case, "-o", "json").out)["findings"]) == 2, case
    healthy = json.loads(cli("lambda-timeout", "--function", "billing-report", "-o", "json").out)
    assert healthy["outcome"] == "healthy"


def test_lambda_timeout_checks_every_database_in_the_environment_not_only_the_first(cli):
    """reports-archive reaches DB_HOST's reports-db; ARCHIVE_URL's archive-db does not admit it."""
    data = json.loads(cli("lambda-timeout", "--function", "reports-archive", "--output", "json").out)
    assert checks(data) == ["sg-ingress-blocks", "timeout-too-low"]
    f = next(f for f in data["findings"] if f["check"] == "sg-ingress-blocks")
    assert f["evidence"]["found_in"] == "ARCHIVE_URL"
    assert f["evidence"]["database"] == "archive-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com:5432"
    assert "connects to archive-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com:5432 (ARCHIVE_URL)" in f["explanation"]
    assert re.fullmatch(r"aws ec2 authorize-security-group-ingress --group-id sg-\w+ --protocol tcp --port 5432 "
                        r"--source-group sg-\w+", f["fix"]["commands"][0])
    assert f["evidence"]["blocked_paths"] and all("archive-db" in p for p in f["evidence"]["blocked_paths"])


def test_lambda_timeout_db_names_the_database_to_check(cli):
    only_reports = json.loads(cli("lambda-timeout", "--function", "reports-archive", "--db", "reports-db",
                                  "-o", "json").out)
    assert checks(only_reports) == ["timeout-too-low"] and only_reports["unchecked"] == []
    other = json.loads(cli("lambda-timeout", "--function", "reports-api", "--db", "archive-db", "-o", "json").out)
    f = next(f for f in other["findings"] if f["check"] == "sg-ingress-blocks")
    assert f["evidence"]["found_in"] == "--db" and f["evidence"]["database"] == "archive-db"
    assert "archive-db" in f["title"]


def test_the_path_beyond_a_transit_gateway_is_not_evaluated_so_it_is_inconclusive_never_healthy(cli):
    code, data = path_of(cli, "--from", "billing-sync", "--to", "warehouse-db")
    assert (code, data["outcome"], data["findings"]) == (4, "inconclusive", [])
    [u] = data["unchecked"]
    assert u["check"] == "no-route" and u["needs"] == []
    assert re.search(r"could not check: billing-sync in subnet-\w+ \(10\.62\.6\.0/24\) -> warehouse-db in subnet-\w+ "
                     r"\(10\.63\.1\.0/24\): rtb-\w+ \(explicitly associated\): 10\.63\.0\.0/16 -> tgw-\w+: the path "
                     r"beyond transit gateway tgw-\w+ was not evaluated", u["reason"]), u["reason"]
    assert data["path"]["reachable"] is None and data["path"]["summary"].startswith("inconclusive:")
    text = cli("network-path", "--from", "billing-sync", "--to", "warehouse-db", "--no-color").out
    assert "Healthy" not in text and re.search(r"\? route +rtb-\w+ .*was not evaluated", text)
    timeout = json.loads(cli("lambda-timeout", "--function", "billing-sync", "-o", "json").out)
    assert [u["check"] for u in timeout["unchecked"]] == ["no-route"]
    assert "no-route" not in checks(timeout) and timeout["outcome"] != "healthy"


def test_the_database_password_in_the_environment_is_never_printed(cli):
    outputs = []
    for fmt in ("text", "json", "markdown"):
        r = cli("lambda-timeout", "--function", "ledger-sync", "--output", fmt, "--debug")
        outputs += [r.out, r.err]
        r = cli("network-path", "--from", "ledger-sync", "--to", "ledger-db", "--output", fmt, "--debug")
        outputs += [r.out, r.err]
    assert not any(LEDGER_DB_PASSWORD in o for o in outputs)
    assert any("ledger-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com:5432" in o for o in outputs)   # the endpoint is no secret


def test_rds_connections_names_each_function_that_cannot_reach_the_database(cli):
    r = cli("rds-connections", "--db", "reports-db", "--function", "reports-api", "--function", "reports-export",
            "--function", "reports-worker", "--output", "json")
    data = json.loads(r.out)
    assert checks(data) == ["no-rds-proxy", "sg-egress-blocks", "sg-ingress-blocks"]
    by = {f["check"]: f for f in data["findings"]}
    assert [p.split(" ")[0] for p in by["sg-ingress-blocks"]["evidence"]["blocked_paths"]] == ["reports-api"]
    assert [p.split(" ")[0] for p in by["sg-egress-blocks"]["evidence"]["blocked_paths"]] == ["reports-export"]
    assert "reports-worker" not in json.dumps(by["sg-ingress-blocks"]) + json.dumps(by["sg-egress-blocks"])


def test_the_demo_shows_the_seeds_network_acl_case():
    # its own process: moto's backends are global to a process (the shared world lives in this one)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    p = subprocess.run([sys.executable, "-m", "triage", "demo", "--scenario", "network", "--output", "json"],
                       capture_output=True, text=True, env=env, timeout=180)
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["mismatches"] == []
    seed = next(d for d in data["demo"] if d["playbook"] == "network-path" and d["inputs"]["from"] == "ledger-sync"
                and d["inputs"]["to"] == "ledger-db")
    assert [f["check"] for f in seed["findings"]] == ["nacl-outbound-blocks"]
    assert "return traffic" in seed["findings"][0]["title"]


# --- a database that does not exist is never an all-clear -----------------------------

LISTS = ["aws rds describe-db-instances --region us-east-1 --query "
         "'DBInstances[].[DBInstanceIdentifier,Endpoint.Address,Endpoint.Port]' --output text",
         "aws rds describe-db-clusters --region us-east-1 --query 'DBClusters[].[DBClusterIdentifier,Endpoint,Port]' "
         "--output text",
         "aws rds describe-db-proxies --region us-east-1 --query 'DBProxies[].[DBProxyName,Endpoint]' --output text"]


def test_lambda_timeout_db_that_does_not_exist_is_a_finding_not_healthy(cli):
    """billing-report reaches its warehouse: with --db naming nothing, the run used to say healthy (exit 0)."""
    r = cli("lambda-timeout", "--function", "billing-report", "--db", "no-such-db", "-o", "json")
    data = json.loads(r.out)
    assert (r.code, data["outcome"]) == (1, "findings") and data["unchecked"] == []
    f = only(data, "db-not-found")
    assert f["title"] == "no DB instance, cluster or proxy named no-such-db in us-east-1 (--db no-such-db)"
    assert f["evidence"] == {"databases": [{"name": "no-such-db", "endpoint": "no-such-db", "found_in": "--db",
                                            "looked_for": "DB instance, cluster or proxy"}], "region": "us-east-1"}
    assert f["fix"]["commands"] == LISTS + [
        "aws cloudtrail lookup-events --region us-east-1 --lookup-attributes "
        "AttributeKey=ResourceName,AttributeValue=no-such-db --query 'Events[].[EventTime,EventName,Username]' --output text"]
    assert f["fix"]["text"].startswith("Check the name and the region (--region)")
    # a function outside the checks that fire: the same with an identifier and a port
    r = cli("lambda-timeout", "--function", "billing-report", "--db", "no-such-db:5432", "-o", "json")
    assert r.code == 1 and checks(json.loads(r.out)) == ["db-not-found"]
    assert cli("lambda-timeout", "--function", "billing-report", "--db", "warehouse-db:5432").code == 0


def test_lambda_timeout_environment_naming_a_deleted_database_is_a_finding(cli):
    data = json.loads(cli("lambda-timeout", "--function", "reports-legacy", "-o", "json").out)
    assert data["outcome"] == "findings"
    f = only(data, "db-not-found")
    assert f["title"] == "DATABASE_URL names reports-legacy-db, a DB instance that does not exist in us-east-1"
    assert f["evidence"]["databases"] == [{
        "name": "reports-legacy-db", "endpoint": "reports-legacy-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com:5432",
        "found_in": "DATABASE_URL", "looked_for": "DB instance"}]
    assert "it was deleted or renamed, or the variable was never updated" in f["explanation"]
    assert f["fix"]["commands"][:3] == LISTS and "AttributeValue=reports-legacy-db" in f["fix"]["commands"][3]


def test_lambda_timeout_database_in_another_region_is_inconclusive_never_healthy(cli):
    r = cli("lambda-timeout", "--function", "billing-report", "--db",
            "warehouse-db.aaaaaaaaaa.eu-west-1.rds.amazonaws.com", "-o", "json")
    data = json.loads(r.out)
    assert (r.code, data["outcome"], data["findings"]) == (4, "inconclusive", [])
    [u] = data["unchecked"]
    assert u["check"] == "db-not-found" and u["reason"] == (
        "could not check: warehouse-db.aaaaaaaaaa.eu-west-1.rds.amazonaws.com (--db) is in eu-west-1, not in "
        "us-east-1 where triage looked: whether it exists and the path to it across regions are not evaluated")


def test_network_path_to_an_identifier_with_a_port_is_a_database_not_an_internet_host(cli):
    """`--to no-such-db:5432` used to be an internet host, reachable through the NAT: healthy."""
    code, data = path_of(cli, "--from", "billing-report", "--to", "no-such-db:5432")
    assert code == 1 and only(data, "not-found")["title"] == "no DB instance, cluster or proxy named no-such-db in us-east-1"
    code, data = path_of(cli, "--from", "billing-etl", "--to", "warehouse-db:5432")
    assert code == 1 and checks(data) == ["no-route"]       # the warehouse itself, not "the internet"


def test_rds_connections_function_that_does_not_exist_is_never_healthy(cli):
    data = json.loads(cli("rds-connections", "--db", "warehouse-db", "--function", "no-such-fn", "-o", "json").out)
    assert data["outcome"] != "healthy"
    [u] = data["unchecked"]
    assert u["check"] == "unbounded-lambda-concurrency" and "Function not found" in u["reason"]
    code, nodb = path_of(cli, "--from", "billing-report", "--to", "no-such-db")
    assert code == 1 and checks(nodb) == ["not-found"]
