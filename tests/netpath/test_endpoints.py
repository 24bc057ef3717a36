"""VPC endpoints: interface endpoints (private DNS, their security groups)
and gateway endpoints, and endpoint policies (resource-based, default full
access, an explicit Deny wins). Each test cites the documented rule it
checks (docs.py)."""
from __future__ import annotations

import json

from triage.netpath.endpoints import decide

from .docs import cites
from .world import World, hop, perm

SQS = "com.amazonaws.us-east-1.sqs"
ROLE = "arn:aws:iam::123456789012:role/publisher-role"
OTHER = "arn:aws:iam::123456789012:role/consumer-role"


def with_endpoint(policy=None, *, private_dns: bool = True, admit: bool = True, **raw_extra) -> tuple:
    w = World()
    w.vpc("vpc-a", "10.0.0.0/16")
    w.subnet("subnet-app", "vpc-a", "10.0.1.0/24"), w.subnet("subnet-ep", "vpc-a", "10.0.3.0/24")
    w.group("sg-fn", "vpc-a")
    w.group("sg-ep", "vpc-a", ingress=[perm(443, group="sg-fn")] if admit else [])
    w.endpoint("vpce-sqs", "vpc-a", SQS, subnets=["subnet-ep"], groups=["sg-ep"], policy=policy, private_dns=private_dns)
    raw = {"from": "publisher", "to": "sqs", "function": World.function("publisher", ["subnet-app"], ["sg-fn"], ROLE),
           **raw_extra}
    return w, raw


def only(principal: str, action: str = "sqs:*") -> dict:
    return {"Statement": [{"Sid": "Only", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": action,
                           "Resource": "*"}]}


@cites("ep-policy")
def test_an_endpoint_without_a_policy_has_the_default_full_access_one():
    assert decide(None, ROLE, "sqs", None)["allowed"] is True
    w, raw = with_endpoint()
    assert w.evaluate(w.facts(**raw))["blocks"] == []


@cites("ep-policy")
def test_a_policy_that_names_another_principal_denies_this_one():
    w, raw = with_endpoint(only(OTHER))
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["endpoint-policy-denies"]
    e = r["endpoint"]["block"]
    assert e["evidence"]["principal"] == ROLE and e["evidence"]["endpoint"] == "vpce-sqs"


@cites("ep-policy")
def test_a_policy_that_names_this_principal_allows_it():
    w, raw = with_endpoint(only(ROLE))
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == [] and hop(r, "endpoint policy")[0]["status"] == "ok"


@cites("ep-policy")
def test_a_policy_naming_the_account_covers_its_roles():
    assert decide(only("123456789012"), ROLE, "sqs", None)["allowed"] is True
    assert decide(only("arn:aws:iam::123456789012:root"), ROLE, "sqs", None)["allowed"] is True
    assert decide(only("arn:aws:iam::999999999999:root"), ROLE, "sqs", None)["allowed"] is False


@cites("ep-policy")
def test_an_explicit_deny_for_everyone_wins_and_is_shown_not_removed():
    # it denies every caller every call: removing it for this one request is its owner's decision
    policy = {"Statement": [{"Sid": "Everything", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
                            {"Sid": "Lockdown", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}
    for action in (None, "sqs:SendMessage"):
        w, raw = with_endpoint(policy, action=action)
        e = w.evaluate(w.facts(**raw))["endpoint"]["block"]
        assert "Lockdown" in e["fix_text"] and "does not print a change" in e["fix_text"]
        assert e["commands"][0][:3] == ["aws", "ec2", "describe-vpc-endpoints"]


@cites("ep-policy")
def test_a_deny_of_two_calls_is_not_cut_for_every_queue_when_the_queue_is_unknown():
    # carving SendMessage out of a Deny on "*" would exempt the caller on every queue behind the
    # endpoint, not just the one it called: not exact (iam.bridge.deny_narrowed), so shown, not changed
    policy = {"Statement": [{"Sid": "Everything", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
                            {"Sid": "NoWrites", "Effect": "Deny", "Principal": {"AWS": ROLE},
                             "Action": ["sqs:SendMessage", "sqs:DeleteMessage"], "Resource": "*"}]}
    w, raw = with_endpoint(policy, action="sqs:SendMessage")
    e = w.evaluate(w.facts(**raw))["endpoint"]["block"]
    assert "NoWrites" in e["fix_text"] and "does not print a change" in e["fix_text"]
    assert e["commands"][0][:3] == ["aws", "ec2", "describe-vpc-endpoints"]


@cites("ep-policy")
def test_without_an_action_the_fix_names_it_as_a_shell_variable_never_a_wildcard():
    w, raw = with_endpoint(only(OTHER))
    e = w.evaluate(w.facts(**raw))["endpoint"]["block"]
    word = e["commands"][0][-1]
    assert word["var"] == "ACTION" and "*" not in word["prefix"].rsplit("AllowFromTriageFix", 1)[1]
    policy = json.loads(word["prefix"] + "sqs:SendMessage" + word["suffix"])
    assert policy["Statement"][-1] == {"Sid": "AllowFromTriageFix", "Effect": "Allow", "Principal": {"AWS": ROLE},
                                       "Action": "sqs:SendMessage", "Resource": "*"}
    assert "ACTION" in e["fix_text"]


@cites("ep-policy")
def test_with_an_action_the_iam_evaluator_decides_exactly():
    policy = only(ROLE, "sqs:ReceiveMessage")
    assert decide(policy, ROLE, "sqs", "sqs:ReceiveMessage")["allowed"] is True
    d = decide(policy, ROLE, "sqs", "sqs:SendMessage")
    assert d["allowed"] is False and "vpc endpoint" in d["reason"].lower()


@cites("ep-policy")
def test_the_fix_for_an_action_allows_that_action_for_that_principal_only():
    w, raw = with_endpoint(only(OTHER), action="sqs:SendMessage")
    e = w.evaluate(w.facts(**raw))["endpoint"]["block"]
    grant = json.loads(e["commands"][0][-1])["Statement"][-1]
    assert grant == {"Sid": "AllowFromTriageFix", "Effect": "Allow", "Principal": {"AWS": ROLE},
                     "Action": "sqs:SendMessage", "Resource": "*"}
    assert e["commands"][0][:5] == ["aws", "ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", "vpce-sqs"]


@cites("ep-policy")
def test_without_knowing_the_caller_a_policy_for_named_principals_is_not_judged():
    assert decide(only(OTHER), None, "sqs", None)["allowed"] is None
    assert decide({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"}]},
                  None, "sqs", None)["allowed"] is False


@cites("ep-policy")
def test_an_allow_for_another_service_does_not_allow_this_one():
    assert decide(only(ROLE, "sns:Publish"), ROLE, "sqs", None)["allowed"] is False
    assert decide(only(ROLE, "sqs:Send*"), ROLE, "sqs", None)["allowed"] is True


@cites("if-endpoint")
def test_with_private_dns_the_service_name_reaches_the_endpoints_interfaces():
    w, raw = with_endpoint()
    net = w.facts(**raw)
    assert net["destination"]["via"] == "interface-endpoint"
    assert [s["id"] for s in net["destination"]["subnets"]] == ["subnet-ep"] and net["destination"]["port"] == 443


@cites("if-endpoint")
def test_the_endpoints_security_group_must_admit_the_caller_on_443():
    w, raw = with_endpoint(admit=False)
    r = w.evaluate(w.facts(**raw))
    assert r["blocks"] == ["sg-ingress-blocks"]
    assert r["sg"]["ingress"]["commands"][0][-6:] == ["--protocol", "tcp", "--port", "443", "--source-group", "sg-fn"]


@cites("if-endpoint")
def test_without_private_dns_the_default_name_goes_to_the_public_endpoint():
    w, raw = with_endpoint(private_dns=False)
    net = w.facts(**raw)
    assert net["destination"]["via"] == "internet"
    assert any("private DNS off" in n for n in net["notes"])
    r = w.evaluate(net)
    assert r["blocks"] == ["no-route"]        # no NAT in this VPC: the public endpoint is out of reach


@cites("gw-endpoint")
def test_a_gateway_endpoint_policy_is_checked_too():
    w = World()
    w.vpc("vpc-a", "10.0.0.0/16"), w.subnet("subnet-app", "vpc-a", "10.0.1.0/24"), w.group("sg-fn", "vpc-a")
    w.prefix_lists.append({"PrefixListId": "pl-s3", "PrefixListName": "com.amazonaws.us-east-1.s3"})
    w.endpoint("vpce-s3", "vpc-a", "com.amazonaws.us-east-1.s3", kind="Gateway", policy=only(OTHER, "s3:*"))
    w.route("vpc-a", "pl-s3", "vpce-s3", prefix_list=True)
    raw = {"from": "publisher", "to": "s3", "function": World.function("publisher", ["subnet-app"], ["sg-fn"], ROLE)}
    assert w.evaluate(w.facts(**raw))["blocks"] == ["endpoint-policy-denies"]
