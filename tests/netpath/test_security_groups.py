"""Security groups: allow-only, aggregated over every group of the interface,
stateful (replies need no rule), rules naming CIDRs, security groups or
prefix lists. Each test cites the documented rule it checks (docs.py)."""
from __future__ import annotations

import json

import pytest

from triage.netpath import addr
from triage.netpath.security_groups import covered

from .docs import cites
from .world import World, hop, perm, two_tier

REQ_DB = (addr.cidr("10.0.2.0/24"), (5432, 5432))


def egress(rules):
    return [{"GroupId": "sg-x", "IpPermissionsEgress": rules}]


@cites("sg-default-outbound")
def test_the_default_outbound_rule_allows_the_connection():
    w, raw = two_tier()
    assert "sg-egress-blocks" not in w.evaluate(w.facts(**raw))["blocks"]


@cites("sg-default-outbound")
def test_a_group_without_outbound_rules_lets_nothing_out():
    w, raw = two_tier(fn_egress=[])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["sg-egress-blocks"]
    assert r["sg"]["egress"]["evidence"]["outbound_rules"] == ["(no outbound rules)"]


@cites("sg-rule-parts")
def test_an_outbound_rule_for_another_port_does_not_allow_5432():
    w, raw = two_tier(fn_egress=[perm(443, cidr="0.0.0.0/0")])
    assert w.evaluate(w.facts(**raw))["blocks"] == ["sg-egress-blocks"]


@cites("sg-rule-parts")
@pytest.mark.parametrize("ports,allowed", [((5000, 6000), True), ((5432, 5432), True), ((5433, 6000), False),
                                           ((1, 5431), False)])
def test_a_port_range_allows_exactly_the_ports_inside_it(ports, allowed):
    _, left = covered(egress([perm(ports, cidr="10.0.0.0/16")]), "egress", REQ_DB, peer_groups=[], reference_ok=False)
    assert (left == []) is allowed


@cites("sg-rule-parts")
def test_a_udp_rule_does_not_allow_tcp():
    _, left = covered(egress([perm(5432, cidr="0.0.0.0/0", proto="udp")]), "egress", REQ_DB, peer_groups=[],
                      reference_ok=False)
    assert left == [REQ_DB]


@cites("sg-rule-parts")
@pytest.mark.parametrize("proto", ["-1", "6", "tcp"])
def test_all_traffic_and_tcp_by_name_or_number_allow_tcp(proto):
    rule = perm(5432, cidr="0.0.0.0/0", proto=proto)
    _, left = covered(egress([rule]), "egress", REQ_DB, peer_groups=[], reference_ok=False)
    assert left == []


@cites("sg-ipv4-ipv6")
def test_an_ipv6_rule_does_not_allow_ipv4_traffic():
    rule = perm(5432, ipv6="::/0")
    _, left = covered(egress([rule]), "egress", REQ_DB, peer_groups=[], reference_ok=False)
    assert left == [REQ_DB]


@cites("sg-ipv4-ipv6")
def test_a_single_address_rule_is_a_slash_32():
    req = (addr.cidr("10.0.2.7/32"), (5432, 5432))
    _, left = covered(egress([perm(5432, cidr="10.0.2.7/32")]), "egress", req, peer_groups=[], reference_ok=False)
    assert left == []
    _, left = covered(egress([perm(5432, cidr="10.0.2.8/32")]), "egress", req, peer_groups=[], reference_ok=False)
    assert left == [req]


@cites("sg-aggregate")
def test_rules_of_all_groups_of_the_interface_count_together():
    groups = [{"GroupId": "sg-a", "IpPermissionsEgress": [perm(443, cidr="0.0.0.0/0")]},
              {"GroupId": "sg-b", "IpPermissionsEgress": [perm(5432, cidr="10.0.0.0/8")]}]
    allowed, left = covered(groups, "egress", REQ_DB, peer_groups=[], reference_ok=False)
    assert left == [] and allowed == ["sg-b egress tcp 5432 to 10.0.0.0/8"]


@cites("sg-aggregate")
def test_two_narrower_rules_together_cover_a_subnet():
    rules = [perm(5432, cidr="10.0.2.0/25"), perm(5432, cidr="10.0.2.128/25")]
    _, left = covered(egress(rules), "egress", REQ_DB, peer_groups=[], reference_ok=False)
    assert left == []


@cites("sg-allow-only")
def test_rule_order_does_not_matter_in_a_security_group():
    a, b = perm(5432, cidr="10.0.2.0/25"), perm(5432, cidr="10.0.2.128/25")
    assert covered(egress([a, b]), "egress", REQ_DB, peer_groups=[], reference_ok=False)[1] == \
        covered(egress([b, a]), "egress", REQ_DB, peer_groups=[], reference_ok=False)[1] == []


@cites("sg-reference")
def test_an_outbound_rule_naming_the_destinations_group_allows_it():
    w, raw = two_tier(fn_egress=[perm(5432, group="sg-db")])
    assert w.evaluate(w.facts(**raw))["blocks"] == []


@cites("sg-reference")
def test_an_outbound_rule_naming_another_group_does_not():
    w, raw = two_tier(fn_egress=[perm(5432, group="sg-cache")])
    assert w.evaluate(w.facts(**raw))["blocks"] == ["sg-egress-blocks"]


@cites("sg-no-inbound")
def test_a_destination_group_without_inbound_rules_admits_nothing():
    w, raw = two_tier(db_groups_admit=False)
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["sg-ingress-blocks"]
    assert r["sg"]["ingress"]["evidence"]["inbound_rules"] == ["(no inbound rules)"]


@cites("sg-reference")
def test_an_inbound_rule_naming_the_sources_group_admits_it():
    w, raw = two_tier()
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == []
    assert "sg-db ingress tcp 5432 from sg-fn" in hop(r, "security group ingress")[0]["text"]


@cites("sg-rule-parts")
def test_an_inbound_cidr_rule_covering_the_functions_subnet_admits_it():
    w, raw = two_tier(db_groups_admit=False)
    w.groups[-1]["IpPermissions"] = [perm(5432, cidr="10.0.0.0/16")]
    assert w.evaluate(w.facts(**raw))["blocks"] == []


@cites("sg-rule-parts")
def test_an_inbound_rule_covering_half_the_functions_subnet_blocks():
    """A Lambda function may use any address of its subnets: half is not enough."""
    w, raw = two_tier(db_groups_admit=False)
    w.groups[-1]["IpPermissions"] = [perm(5432, cidr="10.0.1.0/25")]
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["sg-ingress-blocks"]
    assert "10.0.1.128/25" in r["sg"]["ingress"]["explanation"]


@cites("sg-ipv4-ipv6")
def test_an_instance_is_one_address_so_a_rule_for_it_is_enough():
    w, raw = two_tier(db_groups_admit=False)
    w.groups[-1]["IpPermissions"] = [perm(5432, cidr="10.0.1.17/32")]
    raw.update({"from": "i-0123456789abcdef0", "function": None,
                "instance": World.instance("i-0123456789abcdef0", "subnet-app", "10.0.1.17", ["sg-fn"])})
    assert w.evaluate(w.facts(**raw))["blocks"] == []


@cites("sg-rule-parts")
def test_an_outbound_rule_covering_part_of_the_db_subnet_is_not_a_certain_block():
    """The DB's interface is one unknown address in its subnet: part of it may be the one."""
    w, raw = two_tier(fn_egress=[perm(5432, cidr="10.0.2.0/25")])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == []
    assert hop(r, "security group egress")[0]["status"] == "ok?"


@cites("sg-stateful")
def test_replies_need_no_inbound_rule_on_the_source():
    w, raw = two_tier()                            # sg-fn has no inbound rules at all
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == [] and r["path"]["reachable"]
    assert hop(r, "replies")[0]["text"].startswith("security groups are stateful")


@cites("sg-stateful")
def test_replies_need_no_outbound_rule_on_the_destination():
    w, raw = two_tier()
    w.groups[-1]["IpPermissionsEgress"] = []       # the DB's group lets nothing out on its own
    assert w.evaluate(w.facts(**raw))["blocks"] == []


@cites("peering-sg")
def test_a_group_reference_works_across_an_active_peering_connection():
    w = World()
    w.vpc("vpc-a", "10.0.0.0/16"), w.vpc("vpc-b", "10.9.0.0/16")
    w.subnet("subnet-app", "vpc-a", "10.0.1.0/24"), w.subnet("subnet-db", "vpc-b", "10.9.2.0/24")
    w.group("sg-fn", "vpc-a"), w.group("sg-db", "vpc-b", ingress=[perm(5432, group="sg-fn")])
    w.peer("pcx-1", ("vpc-a", "10.0.0.0/16"), ("vpc-b", "10.9.0.0/16"))
    w.route("vpc-a", "10.9.0.0/16", "pcx-1"), w.route("vpc-b", "10.0.0.0/16", "pcx-1")
    raw = {"from": "f", "to": "db", "function": World.function("f", ["subnet-app"], ["sg-fn"]),
           "db_instance": World.db("db", [("subnet-db", "us-east-1a")], "us-east-1a", ["sg-db"], vpc="vpc-b")}
    assert w.evaluate(w.facts(**raw))["blocks"] == []


@cites("peering-sg")
def test_a_group_reference_does_not_work_without_a_peering_connection():
    w = World()
    w.vpc("vpc-a", "10.0.0.0/16"), w.vpc("vpc-b", "10.9.0.0/16")
    w.subnet("subnet-app", "vpc-a", "10.0.1.0/24"), w.subnet("subnet-db", "vpc-b", "10.9.2.0/24")
    w.group("sg-fn", "vpc-a"), w.group("sg-db", "vpc-b", ingress=[perm(5432, group="sg-fn")])
    w.route("vpc-a", "10.9.0.0/16", "tgw-1"), w.route("vpc-b", "10.0.0.0/16", "tgw-1")
    raw = {"from": "f", "to": "db", "function": World.function("f", ["subnet-app"], ["sg-fn"]),
           "db_instance": World.db("db", [("subnet-db", "us-east-1a")], "us-east-1a", ["sg-db"], vpc="vpc-b")}
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["sg-ingress-blocks"]
    # the fix names the source subnet's CIDR, not a group the rule could not match
    assert r["sg"]["ingress"]["commands"][0][-2:] == ["--cidr", "10.0.1.0/24"]


@cites("gw-endpoint")
def test_an_outbound_rule_naming_the_services_prefix_list_allows_it():
    req = (addr.ALL_V4, (443, 443))
    groups = [{"GroupId": "sg-x", "IpPermissionsEgress": [perm(443, pl="pl-s3")]}]
    _, left = covered(groups, "egress", req, peer_groups=[], reference_ok=False, via_prefix_list="pl-s3")
    assert left == []
    _, left = covered(groups, "egress", req, peer_groups=[], reference_ok=False, via_prefix_list="pl-ddb")
    assert left == [req]


@cites("sg-rule-parts")
def test_a_prefix_list_rule_covers_the_prefix_lists_cidrs():
    req = (addr.cidr("52.216.0.10/32"), (443, 443))
    groups = [{"GroupId": "sg-x", "IpPermissionsEgress": [perm(443, pl="pl-s3")]}]
    _, left = covered(groups, "egress", req, peer_groups=[], reference_ok=False,
                      prefix_lists={"pl-s3": ["52.216.0.0/15"]})
    assert left == []


@cites("sg-reference")
def test_the_ingress_fix_admits_the_functions_group_on_the_port_only():
    w, raw = two_tier(db_groups_admit=False)
    fix = w.evaluate(w.facts(**raw))["sg"]["ingress"]["commands"]
    assert fix == [["aws", "ec2", "authorize-security-group-ingress", "--group-id", "sg-db", "--protocol", "tcp",
                    "--port", "5432", "--source-group", "sg-fn"]]
    assert "0.0.0.0/0" not in json.dumps(fix)


@cites("sg-reference")
def test_the_egress_fix_opens_the_port_to_the_destinations_group_only():
    w, raw = two_tier(fn_egress=[])
    cmd = w.evaluate(w.facts(**raw))["sg"]["egress"]["commands"][0]
    assert cmd[:5] == ["aws", "ec2", "authorize-security-group-egress", "--group-id", "sg-fn"]
    assert json.loads(cmd[-1]) == [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                                    "UserIdGroupPairs": [{"GroupId": "sg-db"}]}]


@cites("sg-default-outbound")
def test_the_egress_fix_to_the_internet_is_the_only_one_with_0_0_0_0():
    w, raw = two_tier(fn_egress=[])
    w.subnet("subnet-pub", "vpc-a", "10.0.9.0/24")
    w.route("vpc-a", "0.0.0.0/0", "nat-1"), w.nat("nat-1", "vpc-a", "subnet-pub")
    w.route_table("rtb-pub", "vpc-a", ["subnet-pub"], [("0.0.0.0/0", "igw-1")])
    raw.update({"to": "api.stripe.com:443", "db_instance": None})
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["sg-egress-blocks"]
    assert json.loads(r["sg"]["egress"]["commands"][0][-1])[0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]


@cites("sg-rule-parts")
def test_the_egress_fix_to_a_known_address_names_only_that_address():
    w, raw = two_tier(fn_egress=[])
    raw.update({"to": "10.0.2.40:6379", "db_instance": None})
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["sg-egress-blocks"]
    assert json.loads(r["sg"]["egress"]["commands"][0][-1])[0] == {
        "IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "IpRanges": [{"CidrIp": "10.0.2.40/32"}]}
