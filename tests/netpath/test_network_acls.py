"""Network ACLs: rules in ascending number, first match wins, the `*` rule
denies; stateless, so the reply to the client's ephemeral ports needs its
own rules in both subnets; evaluated only where traffic crosses a subnet
boundary. Each test cites the documented rule it checks (docs.py)."""
from __future__ import annotations

import pytest

from triage.netpath import addr
from triage.netpath.acls import decide, free_rule_number

from .docs import cites
from .world import World, entry, hop, two_tier

REQ = (addr.cidr("10.0.1.0/24"), (5432, 5432))
VPC_CIDR = "10.0.0.0/16"


def db_acl(w: World, entries: list) -> None:
    w.acl("acl-db", "vpc-a", ["subnet-db"], entries)


def fn_acl(w: World, entries: list) -> None:
    w.acl("acl-app", "vpc-a", ["subnet-app"], entries)


def allow_all(egress: bool, n: int = 100) -> dict:
    return entry(n, egress, "allow", proto="-1")


@cites("nacl-default")
def test_the_default_acl_allows_everything_both_ways():
    w, raw = two_tier()
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == []
    assert {h["status"] for name in ("network ACL outbound", "network ACL inbound") for h in hop(r, name)} == {"ok"}


@cites("nacl-custom-denies")
def test_a_custom_acl_without_rules_denies_everything():
    w, raw = two_tier()
    db_acl(w, [])
    r = w.evaluate(w.facts(**raw))
    assert set(r["blocks"]) == {"nacl-inbound-blocks", "nacl-outbound-blocks"}
    assert r["nacl"]["inbound"]["evidence"]["decided_by"] == "rule * deny all traffic (the default rule)"


@cites("nacl-star")
def test_traffic_no_numbered_rule_matches_is_denied_by_the_star_rule():
    decisions = decide([entry(100, False, "allow", VPC_CIDR, (443, 443))], False, REQ)
    assert [(e, action) for e, action, _ in decisions] == [(None, "deny")]


@cites("nacl-order")
def test_the_lowest_numbered_matching_rule_wins_deny_first():
    rules = [entry(200, False, "allow", "0.0.0.0/0", proto="-1"), entry(100, False, "deny", VPC_CIDR, (5432, 5432))]
    decisions = decide(rules, False, REQ)
    assert [(e["RuleNumber"], a) for e, a, _ in decisions] == [(100, "deny")]


@cites("nacl-order")
def test_the_lowest_numbered_matching_rule_wins_allow_first():
    rules = [entry(200, False, "deny", VPC_CIDR, (5432, 5432)), entry(100, False, "allow", "0.0.0.0/0", proto="-1")]
    assert [(e["RuleNumber"], a) for e, a, _ in decide(rules, False, REQ)] == [(100, "allow")]


@cites("nacl-order")
def test_rule_numbers_not_list_order_decide():
    rules = [entry(300, False, "allow", VPC_CIDR, (5432, 5432)), entry(50, False, "deny", "10.0.1.0/24", (5000, 6000))]
    assert decide(rules, False, REQ)[0][1] == "deny"
    assert decide(list(reversed(rules)), False, REQ)[0][1] == "deny"


@cites("nacl-order")
def test_a_later_broader_allow_does_not_undo_an_earlier_deny():
    w, raw = two_tier()
    db_acl(w, [entry(90, False, "deny", "10.0.1.0/24", (5432, 5432)), allow_all(False), allow_all(True)])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["nacl-inbound-blocks"]
    assert r["nacl"]["inbound"]["evidence"]["decided_by"] == "rule 90 deny tcp 5432 from 10.0.1.0/24"


@cites("nacl-order")
def test_part_of_a_range_is_decided_by_each_first_matching_rule():
    rules = [entry(100, False, "deny", "10.0.1.0/25", (5432, 5432)), entry(200, False, "allow", VPC_CIDR, (5432, 5432))]
    decisions = decide(rules, False, REQ)
    assert sorted((e["RuleNumber"], a, addr.show(box[0])) for e, a, box in decisions) == [
        (100, "deny", "10.0.1.0/25"), (200, "allow", "10.0.1.128/25")]


@cites("nacl-stateless")
def test_allowing_inbound_5432_without_the_outbound_return_traffic_blocks():
    """The seed's warning: allow inbound, forget the outbound return traffic."""
    w, raw = two_tier()
    db_acl(w, [entry(100, False, "allow", VPC_CIDR, (5432, 5432)), entry(100, True, "allow", VPC_CIDR, (5432, 5432))])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["nacl-outbound-blocks"]
    s = r["nacl"]["outbound"]
    assert s["evidence"]["traffic"] == "return traffic on ephemeral ports"
    assert s["evidence"]["ports"] == "1024-65535" and s["evidence"]["cidr"] == "10.0.1.0/24"
    assert "return traffic" in s["title"] and "ephemeral ports 1024-65535" in s["title"]


@cites("nacl-stateless")
def test_the_return_traffic_into_the_functions_subnet_needs_its_own_inbound_rule():
    w, raw = two_tier()
    fn_acl(w, [allow_all(True), entry(100, False, "allow", "0.0.0.0/0", (443, 443))])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["nacl-inbound-blocks"]
    assert r["nacl"]["inbound"]["evidence"]["traffic"] == "return traffic on ephemeral ports"
    assert r["nacl"]["inbound"]["evidence"]["subnet"] == "subnet-app"


@cites("nacl-stateless")
def test_the_request_leaving_the_functions_subnet_needs_an_outbound_rule():
    w, raw = two_tier()
    fn_acl(w, [allow_all(False), entry(100, True, "allow", "0.0.0.0/0", (443, 443))])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["nacl-outbound-blocks"]
    assert r["nacl"]["outbound"]["evidence"]["traffic"] == "request"
    assert r["nacl"]["outbound"]["evidence"]["subnet"] == "subnet-app"


@cites("nacl-stateless")
def test_the_request_entering_the_db_subnet_needs_an_inbound_rule():
    w, raw = two_tier()
    db_acl(w, [allow_all(True), entry(100, False, "allow", VPC_CIDR, (3306, 3306))])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["nacl-inbound-blocks"]
    assert r["nacl"]["inbound"]["evidence"]["traffic"] == "request"


@cites("nacl-stateless")
def test_all_four_crossings_allowed_is_reachable():
    w, raw = two_tier()
    db_acl(w, [entry(100, False, "allow", "10.0.1.0/24", (5432, 5432)),
               entry(100, True, "allow", "10.0.1.0/24", (1024, 65535))])
    fn_acl(w, [entry(100, True, "allow", "10.0.2.0/24", (5432, 5432)),
               entry(100, False, "allow", "10.0.2.0/24", (1024, 65535))])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == [] and r["path"]["reachable"]
    assert len(hop(r, "network ACL outbound")) == 2 and len(hop(r, "network ACL inbound")) == 2


@cites("nacl-ephemeral")
def test_a_lambda_function_needs_1024_to_65535_for_replies():
    """AWS Lambda functions use ports 1024-65535: 32768-65535 leaves most of them out."""
    w, raw = two_tier()
    db_acl(w, [allow_all(False), entry(100, True, "allow", VPC_CIDR, (32768, 65535))])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["nacl-outbound-blocks"]
    assert "AWS Lambda functions use ports 1024-65535" in r["nacl"]["outbound"]["explanation"]


@cites("nacl-ephemeral")
@pytest.mark.parametrize("platform,rule,blocked", [
    (None, (32768, 65535), False),            # Linux: 32768-60999 (Amazon Linux: 32768-61000)
    (None, (49152, 65535), True),
    ("windows", (49152, 65535), False),       # Windows Server 2008 and later: 49152-65535
    ("windows", (50000, 65535), True),
])
def test_an_instances_ephemeral_range_depends_on_its_os(platform, rule, blocked):
    w, raw = two_tier()
    db_acl(w, [allow_all(False), entry(100, True, "allow", VPC_CIDR, rule)])
    raw.update({"from": "i-0123456789abcdef0", "function": None,
                "instance": World.instance("i-0123456789abcdef0", "subnet-app", "10.0.1.17", ["sg-fn"], platform=platform)})
    r = w.evaluate(w.facts(**raw))
    assert (r["blocks"] == ["nacl-outbound-blocks"]) is blocked


@cites("nacl-ephemeral")
def test_a_network_interface_of_unknown_client_needs_the_whole_range():
    w, raw = two_tier()
    db_acl(w, [allow_all(False), entry(100, True, "allow", VPC_CIDR, (32768, 65535))])
    raw.update({"from": "eni-0123456789abcdef0", "function": None,
                "eni": {"NetworkInterfaces": [{"NetworkInterfaceId": "eni-0123456789abcdef0", "SubnetId": "subnet-app",
                                               "PrivateIpAddress": "10.0.1.9", "Groups": [{"GroupId": "sg-fn"}]}]}})
    assert w.evaluate(w.facts(**raw))["blocks"] == ["nacl-outbound-blocks"]


@cites("nacl-deny-first")
def test_a_deny_for_some_ephemeral_ports_placed_first_blocks_replies():
    w, raw = two_tier()
    db_acl(w, [allow_all(False), entry(90, True, "deny", "0.0.0.0/0", (1024, 2000)),
               entry(100, True, "allow", VPC_CIDR, (1024, 65535))])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["nacl-outbound-blocks"]
    assert r["nacl"]["outbound"]["evidence"]["decided_by"] == "rule 90 deny tcp 1024-2000 to 0.0.0.0/0"


@cites("nacl-deny-first")
def test_a_deny_for_some_ephemeral_ports_placed_after_the_allow_is_harmless():
    w, raw = two_tier()
    db_acl(w, [allow_all(False), entry(110, True, "deny", "0.0.0.0/0", (1024, 2000)),
               entry(100, True, "allow", VPC_CIDR, (1024, 65535))])
    assert w.evaluate(w.facts(**raw))["blocks"] == []


@cites("nacl-boundary")
def test_within_one_subnet_network_acls_are_not_evaluated():
    w, raw = two_tier()
    w.acl("acl-app", "vpc-a", ["subnet-app", "subnet-db"], [])       # denies everything, but ...
    raw["db_instance"] = World.db("orders-db", [("subnet-app", "us-east-1a")], "us-east-1a", ["sg-db"], vpc="vpc-a")
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == []
    assert "same subnet" in hop(r, "network ACL")[0]["text"]


@cites("nacl-association")
def test_a_subnet_without_an_explicit_association_uses_the_default_acl():
    w, raw = two_tier()
    w.acls[0]["Associations"] = []                                     # no association listed for any subnet
    w.acls[0]["Entries"] = []                                          # the default ACL, made to deny
    r = w.evaluate(w.facts(**raw))
    assert set(r["blocks"]) == {"nacl-inbound-blocks", "nacl-outbound-blocks"}
    assert r["nacl"]["outbound"]["evidence"]["network_acl"] == "acl-default-vpc-a"


@cites("nacl-ipv6")
def test_ipv6_rules_do_not_apply_to_ipv4_traffic():
    assert decide([entry(100, False, "allow", "::/0", proto="-1", ipv6=True)], False, REQ) == [(None, "deny", REQ)]


@cites("nacl-protocol")
def test_a_udp_rule_does_not_match_tcp():
    assert decide([entry(100, False, "allow", VPC_CIDR, (5432, 5432), proto="17")], False, REQ)[0][1] == "deny"


@cites("nacl-protocol")
def test_an_all_traffic_rule_matches_every_port():
    assert decide([entry(100, False, "allow", "0.0.0.0/0", proto="-1")], False, (REQ[0], (1, 65535)))[0][1] == "allow"


@cites("nacl-protocol")
def test_a_rule_for_another_port_does_not_match():
    assert decide([entry(100, False, "allow", VPC_CIDR, (3306, 3306))], False, REQ)[0][0] is None


@cites("nacl-order")
def test_the_fix_rule_is_numbered_before_the_denying_rule():
    entries = [entry(90, True, "deny", "0.0.0.0/0", (1024, 2000)), entry(100, True, "allow", VPC_CIDR, (1024, 65535)),
               entry(80, True, "allow", "192.0.2.0/24", (22, 22))]
    assert free_rule_number(entries, True, 90) == 70
    assert free_rule_number([entry(n, True, "allow") for n in range(1, 11)], True, 11) is None


@cites("nacl-star")
def test_the_fix_rule_for_a_star_decision_goes_after_the_numbered_rules():
    entries = [entry(100, True, "allow", VPC_CIDR, (5432, 5432)), entry(32767, True, "deny", proto="-1")]
    assert free_rule_number(entries, True, 32767) == 200
    assert free_rule_number([], True, 32767) == 100


@cites("nacl-stateless")
def test_the_return_traffic_fix_opens_the_ephemeral_ports_to_the_functions_subnet_only():
    w, raw = two_tier()
    db_acl(w, [entry(100, False, "allow", VPC_CIDR, (5432, 5432)), entry(100, True, "allow", VPC_CIDR, (5432, 5432))])
    fix = w.evaluate(w.facts(**raw))["nacl"]["outbound"]["commands"]
    assert fix == [["aws", "ec2", "create-network-acl-entry", "--network-acl-id", "acl-db", "--egress",
                    "--rule-number", "200", "--protocol", "tcp", "--port-range", "From=1024,To=65535",
                    "--cidr-block", "10.0.1.0/24", "--rule-action", "allow"]]


@cites("nacl-order")
def test_the_request_fix_opens_the_one_port_from_the_functions_subnet_before_the_deny():
    w, raw = two_tier()
    db_acl(w, [entry(90, False, "deny", "10.0.1.0/24", (5432, 5432)), allow_all(False), allow_all(True)])
    fix = w.evaluate(w.facts(**raw))["nacl"]["inbound"]
    assert fix["commands"][0][5:] == ["--ingress", "--rule-number", "80", "--protocol", "tcp", "--port-range",
                                      "From=5432,To=5432", "--cidr-block", "10.0.1.0/24", "--rule-action", "allow"]
    assert "deliberate" in fix["fix_text"]


@cites("nacl-stateless")
def test_internet_bound_traffic_needs_inbound_replies_in_the_functions_subnet():
    w, raw = two_tier()
    w.subnet("subnet-pub", "vpc-a", "10.0.9.0/24")
    w.route("vpc-a", "0.0.0.0/0", "nat-1"), w.nat("nat-1", "vpc-a", "subnet-pub")
    w.route_table("rtb-pub", "vpc-a", ["subnet-pub"], [("0.0.0.0/0", "igw-1")])
    fn_acl(w, [allow_all(True), entry(100, False, "allow", VPC_CIDR, proto="-1")])
    raw.update({"to": "203.0.113.10:443", "db_instance": None})
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["nacl-inbound-blocks"]
    assert r["nacl"]["inbound"]["commands"][0][-3:] == ["203.0.113.10/32", "--rule-action", "allow"]


@cites("nacl-order")
def test_an_unknown_internet_address_is_blocked_only_when_every_address_is_denied():
    w, raw = two_tier()
    fn_acl(w, [allow_all(False), entry(100, True, "deny", "198.51.100.0/24", (443, 443)),
               entry(200, True, "allow", "0.0.0.0/0", proto="-1")])
    w.subnet("subnet-pub", "vpc-a", "10.0.9.0/24")
    w.route("vpc-a", "0.0.0.0/0", "nat-1"), w.nat("nat-1", "vpc-a", "subnet-pub")
    w.route_table("rtb-pub", "vpc-a", ["subnet-pub"], [("0.0.0.0/0", "igw-1")])
    raw.update({"to": "api.example.com:443", "db_instance": None})
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == []
    assert hop(r, "network ACL outbound")[0]["status"] == "ok?"


# --- the NAT gateway's own subnet on the way to the internet ------------------------
def via_nat(nat_entries: list | None) -> tuple:
    """f in subnet-app (10.0.1.0/24) -> 203.0.113.10:443 through nat-1 in subnet-pub (10.0.9.0/24)."""
    from .test_routes import internet
    w, raw = internet()
    if nat_entries is not None:
        w.acl("acl-pub", "vpc-a", ["subnet-pub"], nat_entries)
    return w, raw


@cites("nacl-ephemeral")
def test_the_nat_gateways_subnet_acl_is_evaluated_on_the_way_to_the_internet():
    w, raw = via_nat(None)
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == [] and r["path"]["reachable"]
    assert [h["hop"] for h in r["path"]["paths"][0]["hops"] if "(NAT)" in h["hop"]] == [
        "network ACL inbound (NAT)", "network ACL outbound (NAT)", "network ACL inbound (NAT)",
        "network ACL outbound (NAT)"]


@cites("nacl-ephemeral")
def test_a_nat_subnet_acl_without_the_replies_from_the_internet_blocks_them():
    # in from the VPC and out to 443 allowed; the replies to the NAT gateway's ports 1024-65535 are not
    w, raw = via_nat([entry(100, False, "allow", "10.0.0.0/16", proto="-1"), entry(100, True, "allow", proto="-1")])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["nacl-inbound-blocks"]
    b = r["nacl"]["inbound"]
    assert b["title"].startswith("Network ACL acl-pub (subnet-pub, NAT gateway nat-1) blocks the inbound return traffic")
    assert "A NAT gateway uses ports 1024-65535" in b["explanation"]
    assert b["commands"] == [["aws", "ec2", "create-network-acl-entry", "--network-acl-id", "acl-pub", "--ingress",
                              "--rule-number", "200", "--protocol", "tcp", "--port-range", "From=1024,To=65535",
                              "--cidr-block", "203.0.113.10/32", "--rule-action", "allow"]]


@cites("nacl-order")
def test_a_nat_subnet_acl_that_denies_the_request_from_the_private_subnet_blocks_it():
    w, raw = via_nat([entry(90, False, "deny", "10.0.1.0/24", (443, 443)), entry(100, False, "allow", proto="-1"),
                      entry(100, True, "allow", proto="-1")])
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["nacl-inbound-blocks"]
    cmd = r["nacl"]["inbound"]["commands"][0]
    assert cmd[cmd.index("--rule-number") + 1] == "80" and cmd[cmd.index("--cidr-block") + 1] == "10.0.1.0/24"
    assert "check why it is there first" in r["nacl"]["inbound"]["fix_text"]
