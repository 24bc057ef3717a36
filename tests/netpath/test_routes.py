"""Routes: the subnet's explicitly associated table else the main one;
longest prefix wins, static before propagated, prefix-list routes for
gateway endpoints; peering (active, not transitive, both directions), NAT
and internet gateways (public addresses), transit gateways. Each test cites
the documented rule it checks (docs.py)."""
from __future__ import annotations

from triage.netpath import addr
from triage.netpath.routes import lookup, table_for, target_of

from triage.engine import _shell_word

from .docs import cites
from .world import World, hop, perm, two_tier


def peered(*, fn_route: bool = True, back_route: bool = True, status: str = "active", peer_b: str = "vpc-b") -> tuple:
    """A function in vpc-a (10.0.0.0/16), a DB in vpc-b (10.9.0.0/16)."""
    w = World()
    w.vpc("vpc-a", "10.0.0.0/16"), w.vpc("vpc-b", "10.9.0.0/16"), w.vpc("vpc-c", "10.7.0.0/16")
    w.subnet("subnet-app", "vpc-a", "10.0.1.0/24"), w.subnet("subnet-db", "vpc-b", "10.9.2.0/24")
    w.group("sg-fn", "vpc-a"), w.group("sg-db", "vpc-b", ingress=[perm(5432, cidr="10.0.0.0/16")])
    w.peer("pcx-ab", ("vpc-a", "10.0.0.0/16"), (peer_b, "10.9.0.0/16" if peer_b == "vpc-b" else "10.7.0.0/16"), status)
    if fn_route:
        w.route("vpc-a", "10.9.0.0/16", "pcx-ab")
    if back_route:
        w.route("vpc-b", "10.0.0.0/16", "pcx-ab")
    raw = {"from": "f", "to": "db", "function": World.function("f", ["subnet-app"], ["sg-fn"]),
           "db_instance": World.db("db", [("subnet-db", "us-east-1a")], "us-east-1a", ["sg-db"], vpc="vpc-b")}
    return w, raw


def internet(*, nat: str | None = "available", public_subnet_igw: bool = True, src_route: str | None = "nat-1") -> tuple:
    w, raw = two_tier()
    w.subnet("subnet-pub", "vpc-a", "10.0.9.0/24")
    if nat:
        w.nat("nat-1", "vpc-a", "subnet-pub", state=nat)
    if src_route:
        w.route("vpc-a", "0.0.0.0/0", src_route)
    w.route_table("rtb-pub", "vpc-a", ["subnet-pub"], [("0.0.0.0/0", "igw-1")] if public_subnet_igw else [])
    raw.update({"to": "203.0.113.10:443", "db_instance": None})
    return w, raw


def shell(argv: list) -> str:
    """A fix command as the engine prints it."""
    return " ".join(_shell_word(w) for w in argv)


TABLE = {"Routes": [
    {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
    {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"},
    {"DestinationCidrBlock": "10.9.0.0/16", "VpcPeeringConnectionId": "pcx-1", "State": "active"},
    {"DestinationCidrBlock": "10.9.2.0/24", "TransitGatewayId": "tgw-1", "State": "active"},
]}


@cites("rt-association")
def test_a_subnet_uses_its_explicitly_associated_table():
    w, _ = two_tier()
    w.route_table("rtb-app", "vpc-a", ["subnet-app"])
    assert table_for("subnet-app", "vpc-a", w.tables)[0]["RouteTableId"] == "rtb-app"
    assert table_for("subnet-app", "vpc-a", w.tables)[1] == "explicit"


@cites("rt-association")
def test_a_subnet_without_an_association_uses_the_main_table():
    w, _ = two_tier()
    w.route_table("rtb-app", "vpc-a", ["subnet-app"])
    assert table_for("subnet-db", "vpc-a", w.tables) == (w.table("rtb-main-vpc-a"), "main")


@cites("rt-local")
def test_inside_the_vpc_the_local_route_carries_the_traffic():
    w, raw = two_tier()
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == []
    assert "10.0.0.0/16 -> local" in hop(r, "route")[0]["text"]


@cites("rt-longest-prefix")
def test_the_most_specific_route_wins():
    assert target_of(lookup(TABLE, addr.cidr("10.9.2.0/24"))) == "tgw-1"
    assert target_of(lookup(TABLE, addr.cidr("10.9.3.0/24"))) == "pcx-1"
    assert target_of(lookup(TABLE, addr.cidr("198.51.100.1/32"))) == "nat-1"
    assert target_of(lookup(TABLE, addr.cidr("10.0.5.0/24"))) == "local"


@cites("rt-longest-prefix")
def test_a_route_that_covers_only_part_of_the_destination_does_not_match_it():
    assert target_of(lookup(TABLE, addr.cidr("10.9.0.0/16"))) == "pcx-1"      # the /24 inside it is not the whole


@cites("rt-static")
def test_a_static_route_wins_over_a_propagated_one_for_the_same_destination():
    table = {"Routes": [
        {"DestinationCidrBlock": "172.31.0.0/24", "GatewayId": "vgw-1", "State": "active", "Origin": "EnableVgwRoutePropagation"},
        {"DestinationCidrBlock": "172.31.0.0/24", "GatewayId": "igw-1", "State": "active", "Origin": "CreateRoute"}]}
    assert target_of(lookup(table, addr.cidr("172.31.0.9/32"))) == "igw-1"


@cites("rt-prefix-list")
def test_a_prefix_list_route_matches_the_services_addresses():
    table = {"Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"},
                        {"DestinationPrefixListId": "pl-s3", "GatewayId": "vpce-s3", "State": "active"}]}
    assert target_of(lookup(table, addr.cidr("52.216.8.1/32"), prefix_lists={"pl-s3": ["52.216.0.0/15"]})) == "vpce-s3"
    assert target_of(lookup(table, addr.cidr("8.8.8.8/32"), prefix_lists={"pl-s3": ["52.216.0.0/15"]})) == "nat-1"
    assert target_of(lookup(table, addr.ALL_V4, service_prefix_list="pl-s3")) == "vpce-s3"


@cites("rt-prefix-list")
def test_a_static_cidr_route_wins_over_a_prefix_list_route_of_equal_length():
    table = {"Routes": [{"DestinationPrefixListId": "pl-corp", "TransitGatewayId": "tgw-1", "State": "active"},
                        {"DestinationCidrBlock": "192.168.0.0/16", "VpcPeeringConnectionId": "pcx-1", "State": "active"}]}
    assert target_of(lookup(table, addr.cidr("192.168.4.0/24"), prefix_lists={"pl-corp": ["192.168.0.0/16"]})) == "pcx-1"


@cites("rt-blackhole")
def test_a_blackhole_route_drops_the_traffic():
    w, raw = peered()
    w.table("rtb-main-vpc-a")["Routes"][-1]["State"] = "blackhole"
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    assert "blackhole" in r["routes"]["block"]["explanation"]


@cites("peering-routes")
def test_a_route_through_an_active_peering_connection_and_back_reaches_the_peer():
    w, raw = peered()
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == [] and r["path"]["reachable"]
    assert [h["status"] for h in hop(r, "return route")] == ["ok"]


@cites("peering-routes")
def test_no_route_to_the_peer_vpc_is_a_blocking_hop_with_the_peering_fix():
    w, raw = peered(fn_route=False)
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    b = r["routes"]["block"]
    assert b["evidence"]["route_table"] == "rtb-main-vpc-a" and b["evidence"]["matched_route"] == "none"
    assert b["commands"] == [["aws", "ec2", "create-route", "--route-table-id", "rtb-main-vpc-a",
                              "--destination-cidr-block", "10.9.0.0/16", "--vpc-peering-connection-id", "pcx-ab"]]


@cites("peering-routes")
def test_the_peer_needs_a_route_back():
    w, raw = peered(back_route=False)
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    b = r["routes"]["block"]
    assert b["title"].startswith("No route back from db to f")
    assert b["commands"][0][:5] == ["aws", "ec2", "create-route", "--route-table-id", "rtb-main-vpc-b"]
    assert b["commands"][0][5:] == ["--destination-cidr-block", "10.0.0.0/16", "--vpc-peering-connection-id", "pcx-ab"]


@cites("peering-transitive")
def test_a_peering_connection_that_is_not_yet_accepted_carries_nothing():
    w, raw = peered(status="pending-acceptance")
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    assert r["routes"]["block"]["commands"] == [["aws", "ec2", "accept-vpc-peering-connection",
                                                 "--vpc-peering-connection-id", "pcx-ab"]]


@cites("peering-transitive")
def test_peering_is_not_transitive():
    w, raw = peered(peer_b="vpc-c")              # pcx-ab connects vpc-a and vpc-c, the route sends vpc-b's range there
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    assert "not transitive" in r["routes"]["block"]["explanation"]


@cites("peering-transitive")
def test_overlapping_vpc_ranges_cannot_be_routed_to_each_other():
    w, raw = peered(fn_route=False)
    w.table("rtb-main-vpc-a")["Routes"][0]["DestinationCidrBlock"] = "10.0.0.0/8"   # the local route covers vpc-b
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    assert "overlap" in r["routes"]["block"]["fix_text"]


@cites("nat")
def test_a_private_address_of_another_vpc_is_not_reachable_through_a_nat_gateway():
    w, raw = peered(fn_route=False)
    w.subnet("subnet-pub", "vpc-a", "10.0.9.0/24"), w.nat("nat-1", "vpc-a", "subnet-pub")
    w.route("vpc-a", "0.0.0.0/0", "nat-1")
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    assert r["routes"]["block"]["evidence"]["matched_route"] == "0.0.0.0/0 -> nat-1"


@cites("tgw")
def test_a_transit_gateway_route_is_followed_without_reading_its_tables():
    w, raw = peered(fn_route=False, back_route=False)
    w.route("vpc-a", "10.9.0.0/16", "tgw-1"), w.route("vpc-b", "10.0.0.0/16", "tgw-1")
    r = w.evaluate(w.facts(**raw))
    assert "no-route" not in r["blocks"]
    assert hop(r, "route")[0]["status"] == "ok?" and "not read" in hop(r, "route")[0]["text"]


@cites("tgw")
def test_a_transit_gateway_path_still_needs_the_route_back():
    w, raw = peered(fn_route=False, back_route=False)
    w.route("vpc-a", "10.9.0.0/16", "tgw-1")
    r = w.evaluate(w.facts(**raw))
    assert "no-route" in r["blocks"] and r["routes"]["block"]["title"].startswith("No route back")


@cites("nat")
def test_the_internet_through_a_nat_gateway_in_a_public_subnet():
    w, raw = internet()
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == []
    assert "NAT gateway, then the internet gateway" in hop(r, "route")[0]["text"]


@cites("nat")
def test_a_nat_gateway_in_a_subnet_without_an_internet_gateway_route_goes_nowhere():
    w, raw = internet(public_subnet_igw=False)
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    assert "subnet-pub" in r["routes"]["block"]["fix_text"]


@cites("nat")
def test_a_deleted_nat_gateway_is_a_blocking_hop():
    w, raw = internet(nat="deleted")
    assert w.evaluate(w.facts(**raw))["blocks"] == ["no-route"]


@cites("lambda-vpc")
def test_a_function_in_a_vpc_without_a_default_route_cannot_reach_the_internet():
    w, raw = internet(src_route=None)
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    assert r["routes"]["block"]["commands"] == [["aws", "ec2", "create-route", "--route-table-id", "rtb-main-vpc-a",
                                                 "--destination-cidr-block", "0.0.0.0/0", "--nat-gateway-id", "nat-1"]]


@cites("lambda-vpc")
def test_without_any_nat_gateway_the_fix_creates_one():
    w, raw = internet(src_route=None, nat=None)
    cmds = [shell(c) for c in w.evaluate(w.facts(**raw))["routes"]["block"]["commands"]]
    assert cmds == ['aws ec2 create-nat-gateway --subnet-id "$PUBLIC_SUBNET_ID" --allocation-id "$EIP_ALLOCATION_ID"',
                    'aws ec2 create-route --route-table-id rtb-main-vpc-a --destination-cidr-block 0.0.0.0/0 '
                    '--nat-gateway-id "$NAT_GATEWAY_ID"']


@cites("igw-public-ip")
def test_an_internet_gateway_route_does_not_help_a_function_without_a_public_address():
    w, raw = internet(src_route="igw-1")
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    assert "no public IP address" in r["routes"]["block"]["explanation"]
    # the public subnet's 0.0.0.0/0 -> igw route serves everything with a public address there: never replaced
    assert [shell(c) for c in r["routes"]["block"]["commands"]] == [
        'aws lambda update-function-configuration --function-name orders-api --vpc-config '
        'SubnetIds="$PRIVATE_SUBNET_IDS",SecurityGroupIds=sg-fn']


@cites("igw-public-ip")
def test_an_instance_without_a_public_address_behind_an_internet_gateway_gets_an_elastic_ip():
    w, raw = internet(src_route="igw-1")
    raw.update({"from": "i-0123456789abcdef0", "function": None,
                "instance": World.instance("i-0123456789abcdef0", "subnet-app", "10.0.1.17", ["sg-fn"])})
    r = w.evaluate(w.facts(**raw))
    assert [shell(c) for c in r["routes"]["block"]["commands"]] == [
        'aws ec2 associate-address --instance-id i-0123456789abcdef0 --allocation-id "$EIP_ALLOCATION_ID"']


@cites("igw-public-ip")
def test_an_instance_with_a_public_address_reaches_the_internet_through_the_internet_gateway():
    w, raw = internet(src_route="igw-1")
    raw.update({"from": "i-0123456789abcdef0", "function": None,
                "instance": World.instance("i-0123456789abcdef0", "subnet-app", "10.0.1.17", ["sg-fn"],
                                           public_ip="198.51.100.7")})
    assert w.evaluate(w.facts(**raw))["blocks"] == []


@cites("lambda-vpc")
def test_a_function_outside_any_vpc_cannot_reach_a_private_database():
    w, raw = two_tier()
    raw["function"] = {"FunctionName": "orders-api", "Role": "arn:aws:iam::123456789012:role/r"}
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    cmd = r["routes"]["block"]["commands"][0]
    assert cmd[:5] == ["aws", "lambda", "update-function-configuration", "--function-name", "orders-api"]
    assert shell(cmd).endswith(' --vpc-config SubnetIds=subnet-db,SecurityGroupIds="$SECURITY_GROUP_ID"')


@cites("lambda-vpc")
def test_a_function_outside_any_vpc_reaches_public_addresses():
    w, raw = two_tier()
    raw.update({"function": {"FunctionName": "orders-api"}, "to": "api.example.com:443", "db_instance": None})
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == [] and "Lambda's own network" in hop(r, "route")[0]["text"]


@cites("gw-endpoint")
def test_a_gateway_endpoint_route_reaches_s3_without_a_nat_gateway():
    w, raw = two_tier()
    w.prefix_lists.append({"PrefixListId": "pl-s3", "PrefixListName": "com.amazonaws.us-east-1.s3"})
    w.endpoint("vpce-s3", "vpc-a", "com.amazonaws.us-east-1.s3", kind="Gateway", route_tables=["rtb-main-vpc-a"])
    w.route("vpc-a", "pl-s3", "vpce-s3", prefix_list=True)
    raw.update({"to": "s3", "db_instance": None})
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == []
    assert "gateway endpoint vpce-s3" in hop(r, "route")[0]["text"]


@cites("gw-endpoint")
def test_a_gateway_endpoint_not_associated_with_the_subnets_table_is_not_used():
    w, raw = two_tier()
    w.prefix_lists.append({"PrefixListId": "pl-s3", "PrefixListName": "com.amazonaws.us-east-1.s3"})
    w.endpoint("vpce-s3", "vpc-a", "com.amazonaws.us-east-1.s3", kind="Gateway")
    raw.update({"to": "bucket.s3.us-east-1.amazonaws.com", "db_instance": None})
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    assert r["routes"]["block"]["commands"][0] == ["aws", "ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", "vpce-s3",
                                                   "--add-route-table-ids", "rtb-main-vpc-a"]


# --- fixes never replace a route other traffic uses --------------------------------
@cites("rt-blackhole")
def test_a_blackhole_route_to_the_peer_is_replaced_not_duplicated():
    w, raw = peered(fn_route=False)
    w.route("vpc-a", "10.9.0.0/16", "pcx-gone", state="blackhole")
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["no-route"]
    assert r["routes"]["block"]["commands"] == [["aws", "ec2", "replace-route", "--route-table-id", "rtb-main-vpc-a",
                                                 "--destination-cidr-block", "10.9.0.0/16",
                                                 "--vpc-peering-connection-id", "pcx-ab"]]


@cites("rt-longest-prefix")
def test_an_active_route_for_the_peer_range_elsewhere_is_kept_and_a_more_specific_one_added():
    w, raw = peered(fn_route=False)
    w.subnet("subnet-pub", "vpc-a", "10.0.9.0/24"), w.nat("nat-1", "vpc-a", "subnet-pub")
    w.route("vpc-a", "10.9.0.0/16", "nat-1")          # private-via-internet; the route may serve others
    r = w.evaluate(w.facts(**raw))
    assert r["routes"]["block"]["commands"] == [["aws", "ec2", "create-route", "--route-table-id", "rtb-main-vpc-a",
                                                 "--destination-cidr-block", "10.9.2.0/24",
                                                 "--vpc-peering-connection-id", "pcx-ab"]]


@cites("rt-longest-prefix")
def test_when_every_candidate_route_is_taken_by_an_active_one_no_command_replaces_it():
    w, raw = peered(fn_route=False)
    w.subnet("subnet-pub", "vpc-a", "10.0.9.0/24"), w.nat("nat-1", "vpc-a", "subnet-pub")
    w.route("vpc-a", "10.9.0.0/16", "nat-1"), w.route("vpc-a", "10.9.2.0/24", "nat-1")
    r = w.evaluate(w.facts(**raw))
    assert r["routes"]["block"]["commands"] == []
    assert "triage prints no command that would replace it" in r["routes"]["block"]["fix_text"]


@cites("nat")
def test_a_route_to_a_deleted_nat_gateway_is_replaced_by_one_to_a_working_nat_gateway():
    w, raw = internet(nat="deleted")
    w.nat("nat-2", "vpc-a", "subnet-pub")
    r = w.evaluate(w.facts(**raw))
    assert r["routes"]["block"]["commands"] == [["aws", "ec2", "replace-route", "--route-table-id", "rtb-main-vpc-a",
                                                 "--destination-cidr-block", "0.0.0.0/0", "--nat-gateway-id", "nat-2"]]


@cites("nat")
def test_a_nat_gateway_in_a_private_subnet_gets_a_route_to_the_internet_gateway_in_its_subnets_table():
    w, raw = internet(public_subnet_igw=False)
    r = w.evaluate(w.facts(**raw))
    assert [shell(c) for c in r["routes"]["block"]["commands"]] == [
        'aws ec2 create-route --route-table-id rtb-pub --destination-cidr-block 0.0.0.0/0 '
        '--gateway-id "$INTERNET_GATEWAY_ID"']


@cites("tgw")
def test_the_path_beyond_a_transit_gateway_is_undecided_not_allowed():
    w, raw = peered(fn_route=False, back_route=False)
    w.route("vpc-a", "10.9.0.0/16", "tgw-1"), w.route("vpc-b", "10.0.0.0/16", "tgw-1")
    r = w.evaluate(w.facts(**raw))
    assert r["routes"]["block"] is None
    assert len(r["routes"]["undecided"]) == 2 and "beyond transit gateway tgw-1 was not evaluated" in r["routes"]["undecided"][0]
    assert r["path"]["reachable"] is None and r["path"]["summary"].startswith("inconclusive")
