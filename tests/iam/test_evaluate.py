"""Tests for triage.iam.evaluate.

Every case names the documented rule it checks, as ``<IAM User Guide page>: <rule>``
in the test id or a comment.  Pages are under
https://docs.aws.amazon.com/IAM/latest/UserGuide/<page>.html
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from triage.iam.evaluate import (
    Decision,
    Policy,
    PolicyError,
    Request,
    evaluate,
    evaluate_trust,
    request_context,
)
from triage.iam.match import match_action, match_arn, match_resource

ACCT = "111122223333"
OTHER = "444455556666"
USER = f"arn:aws:iam::{ACCT}:user/alice"
ROLE = f"arn:aws:iam::{ACCT}:role/app"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/app/i-0abc"
ROOT = f"arn:aws:iam::{ACCT}:root"
BUCKET = "arn:aws:s3:::data"
OBJECT = "arn:aws:s3:::data/reports/q1.csv"


def doc(*statements, version="2012-10-17"):
    return {"Version": version, "Statement": list(statements)}


def stmt(effect, action, resource="*", sid=None, **extra):
    s = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    if sid:
        s["Sid"] = sid
    return s


def allow(action, resource="*", sid=None, **extra):
    return stmt("Allow", action, resource, sid, **extra)


def deny(action, resource="*", sid=None, **extra):
    return stmt("Deny", action, resource, sid, **extra)


def ident(*statements, name="app-policy", version="2012-10-17"):
    return Policy(doc(*statements, version=version), "identity", name, "inline on user/alice")


def resource_pol(*statements, name="bucket-policy"):
    return Policy(doc(*statements), "resource", name)


def scp(*statements, name):
    return Policy(doc(*statements), "scp", name)


FULL_ACCESS_SCP = scp(allow("*", sid="FullAWSAccess"), name="FullAWSAccess")


def reason(d: Decision, code: str):
    hits = [r for r in d.reasons if r.code == code]
    assert hits, f"expected reason {code}, got {d.codes}"
    return hits[0]


# ----------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    "pattern,action,expected",
    [
        pytest.param("s3:getobject", "s3:GetObject", True,
                     id="reference_policies_elements_action: action names are case-insensitive"),
        pytest.param("s3:Get*", "s3:GetObjectAcl", True, id="reference_policies_elements_action: * wildcard"),
        pytest.param("s3:?etObject", "s3:GetObject", True, id="reference_policies_elements_action: ? is one char"),
        pytest.param("s3:G?tObject", "s3:GeetObject", False,
                     id="reference_policies_elements_action: ? matches exactly one char"),
        pytest.param("ec2:*", "s3:GetObject", False,
                     id="reference_policies_elements_action: service prefix is part of the name"),
        pytest.param("*", "kms:Decrypt", True, id="reference_policies_elements_action: * matches all actions"),
        pytest.param("iam:*Report", "iam:GenerateCredentialReport", True,
                     id="reference_policies_evaluation-logic: iam:*Report example"),
    ],
)
def test_action_matching(pattern, action, expected):
    assert match_action(pattern, action) is expected


@pytest.mark.parametrize(
    "pattern,resource,expected",
    [
        pytest.param("arn:aws:s3:::data/*", OBJECT, True,
                     id="reference_policies_elements_resource: * spans / in the resource part"),
        pytest.param("arn:aws:s3:::Data/*", OBJECT, False,
                     id="reference_policies_elements_resource: ARNs are case-sensitive"),
        pytest.param("arn:aws:s3:::da*", OBJECT, True,
                     id="reference_policies_elements_resource: wildcard in bucket name also covers objects"),
        pytest.param("arn:aws:ec2:*:111122223333:instance/*", "arn:aws:ec2:eu-west-1:111122223333:instance/i-1",
                     True, id="reference_policies_elements_resource: wildcard in region segment"),
        pytest.param("arn:aws:sqs:us-east-1:*:q?", "arn:aws:sqs:us-east-1:111122223333:q10", False,
                     id="reference_policies_elements_resource: ? matches exactly one char"),
        pytest.param("arn:aws:sqs:us-east-1:*", "arn:aws:sqs:us-east-1:111122223333:q1", True,
                     id="reference_policies_elements_resource: * spans ':' in Resource"),
    ],
)
def test_resource_matching(pattern, resource, expected):
    assert match_resource(pattern, resource, None, variables=True) is expected


def test_arn_like_matches_component_by_component_unlike_string_like():
    # reference_policies_elements_condition_operators (ARN): the doc's own example --
    # StringLike matches, ArnLike does not, because * does not cross ':' in ArnLike.
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert match_resource(pattern, value, None, variables=False)
    assert not match_arn(pattern, value, None, variables=False)
    assert match_arn(pattern, "arn:aws:someservice:us-east-2:111122223333:finance/x.txt", None, variables=False)


# ------------------------------------------------------------- evaluation layers


def test_explicit_deny_overrides_allow_and_is_named():
    # reference_policies_evaluation-logic_policy-eval-denyallow: an explicit deny overrides any allow
    d = evaluate(Request(USER, "s3:PutObject", "arn:aws:s3:::app-logs/x"),
                 [ident(allow("s3:*", "*", sid="AllowS3"), deny("s3:*", "arn:aws:s3:::*log*", sid="DenyS3Logs"))])
    assert not d.allowed
    r = reason(d, "explicit-deny")
    assert (r.layer, r.policy, r.statement) == ("identity", "app-policy", "DenyS3Logs")
    assert [m.statement for m in d.allowed_by] == ["AllowS3"]


def test_explicit_deny_in_resource_policy_beats_identity_allow():
    # reference_policies_evaluation-logic: explicit deny in any policy type (here the bucket policy) wins
    rp = resource_pol({"Sid": "NoDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                       "Resource": f"{BUCKET}/*"})
    d = evaluate(Request(USER, "s3:DeleteObject", OBJECT), [ident(allow("s3:*"))], resource_policy=rp)
    assert d.codes == ["explicit-deny"]
    assert (d.reasons[0].layer, d.reasons[0].statement) == ("resource", "NoDeletes")


def test_implicit_deny_when_nothing_allows():
    # reference_policies_evaluation-logic: by default all requests are implicitly denied
    d = evaluate(Request(USER, "s3:GetObject", OBJECT), [ident(allow("ec2:Describe*", sid="Ec2Read"))])
    assert d.codes == ["no-identity-allow"]
    assert d.reasons[0].policy == "app-policy"
    assert d.near_misses == []  # the action never matched, so nothing "nearly" allowed


def test_s3_bucket_arn_for_object_action_is_a_resource_near_miss():
    # reference_policies_elements_resource: the object ARN is bucket/key, so "arn:aws:s3:::data" misses it
    d = evaluate(Request(USER, "s3:GetObject", OBJECT), [ident(allow("s3:GetObject", BUCKET, sid="ReadData"))])
    assert d.codes == ["no-identity-allow"]
    (nm,) = d.near_misses
    assert (nm.policy, nm.statement, nm.failed) == ("app-policy", "ReadData", ("resource",))
    assert nm.patterns == (BUCKET,)
    assert "arn:aws:s3:::data/*" in nm.hint


def test_s3_object_arn_for_bucket_action_is_a_resource_near_miss():
    # reference_policies_elements_resource: s3:ListBucket acts on the bucket ARN, not bucket/*
    d = evaluate(Request(USER, "s3:ListBucket", BUCKET), [ident(allow("s3:ListBucket", f"{BUCKET}/*", sid="List"))])
    (nm,) = d.near_misses
    assert nm.failed == ("resource",)
    assert f"add {BUCKET}" in nm.hint


@pytest.mark.parametrize(
    "action,expected",
    [
        pytest.param("s3:GetObject", True, id="reference_policies_elements_notaction: Allow+NotAction allows others"),
        pytest.param("IAM:CreateUser", False,
                     id="reference_policies_elements_notaction: listed action (any case) is not allowed"),
    ],
)
def test_not_action(action, expected):
    d = evaluate(Request(USER, action, "*"), [ident({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})])
    assert d.allowed is expected
    if not expected:
        assert d.codes == ["no-identity-allow"]


def test_not_resource_deny_applies_to_everything_else():
    # reference_policies_elements_notresource: Deny + NotResource denies all resources except the listed ones
    pol = ident(allow("s3:*"), {"Sid": "OnlyData", "Effect": "Deny", "Action": "s3:*",
                                "NotResource": [BUCKET, f"{BUCKET}/*"]})
    assert evaluate(Request(USER, "s3:GetObject", OBJECT), [pol]).allowed
    d = evaluate(Request(USER, "s3:GetObject", "arn:aws:s3:::other/k"), [pol])
    assert d.codes == ["explicit-deny"] and d.reasons[0].statement == "OnlyData"


def test_scp_missing_allow_at_ou_level_denies_even_if_root_allows():
    # reference_policies_evaluation-logic_policy-eval-denyallow: no applicable Allow in the SCPs -> Deny;
    # SCPs at every level (root, OU, account) must allow.
    ou = scp(allow("ec2:*", sid="Ec2Only"), name="ou-workloads-ec2-only")
    d = evaluate(Request(USER, "s3:GetObject", OBJECT), [ident(allow("s3:*"))],
                 scps=[[FULL_ACCESS_SCP], [ou], [FULL_ACCESS_SCP]])
    assert d.codes == ["scp-no-allow"]
    assert d.reasons[0].policy == "ou-workloads-ec2-only"
    assert "level 1" in d.reasons[0].message


def test_scp_region_deny_with_not_action():
    # reference_policies_elements_notaction + SCP: Deny NotAction with StringNotEquals aws:RequestedRegion
    region_lock = scp(allow("*"), {"Sid": "DenyOutsideEU", "Effect": "Deny", "NotAction": ["iam:*", "sts:*"],
                                   "Resource": "*", "Condition": {"StringNotEquals": {
                                       "aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}}},
                      name="region-lock")
    scps = [[region_lock]]
    d = evaluate(Request(USER, "ec2:RunInstances", "*", {"aws:RequestedRegion": "us-east-1"}),
                 [ident(allow("*"))], scps=scps)
    assert d.codes == ["scp-explicit-deny"]
    assert (d.reasons[0].layer, d.reasons[0].policy, d.reasons[0].statement) == ("scp", "region-lock", "DenyOutsideEU")
    assert evaluate(Request(USER, "ec2:RunInstances", "*", {"aws:RequestedRegion": "eu-west-1"}),
                    [ident(allow("*"))], scps=scps).allowed
    assert evaluate(Request(USER, "iam:ListRoles", "*", {"aws:RequestedRegion": "us-east-1"}),
                    [ident(allow("*"))], scps=scps).allowed


@pytest.mark.parametrize(
    "scps,scp_applies",
    [
        pytest.param(None, True, id="reference_policies_evaluation-logic: no SCP (not in an organization) -> continue"),
        pytest.param([[scp(deny("*"), name="deny-all")]], False,
                     id="orgs_manage_policies_scps: SCPs do not affect service-linked roles / management account"),
    ],
)
def test_scp_layer_skipped(scps, scp_applies):
    d = evaluate(Request(USER, "s3:GetObject", OBJECT), [ident(allow("s3:*"))], scps=scps, scp_applies=scp_applies)
    assert d.allowed and d.reasons == []


def test_rcp_missing_allow_and_rcp_deny():
    # reference_policies_evaluation-logic_policy-eval-denyallow: no applicable Allow in the RCPs -> Deny;
    # an explicit Deny in an RCP is an explicit deny.
    rcp_deny = Policy(doc({"Sid": "EnforceTLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                           "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
                      "rcp", "rcp-tls")
    rcp_full = Policy(doc(allow("*", Principal="*")), "rcp", "RCPFullAWSAccess")
    rcp_none = Policy(doc(allow("sqs:*")), "rcp", "rcp-sqs-only")
    d = evaluate(Request(USER, "s3:GetObject", OBJECT, {"aws:SecureTransport": False}), [ident(allow("s3:*"))],
                 rcps=[[rcp_full, rcp_deny], [rcp_none]])
    assert d.codes == ["rcp-explicit-deny", "rcp-no-allow"]
    assert d.reasons[0].statement == "EnforceTLS"
    assert d.reasons[1].policy == "rcp-sqs-only"


def test_permissions_boundary_must_allow():
    # access_policies_boundaries: effective permissions = identity policy AND boundary
    b = Policy(doc(allow(["s3:*", "cloudwatch:*", "ec2:*"])), "permissions-boundary", "ShirleyBoundary")
    d = evaluate(Request(USER, "iam:CreateUser", "*"), [ident(allow("iam:CreateUser"))], boundary=b)
    assert d.codes == ["boundary-no-allow"]
    assert d.reasons[0].policy == "ShirleyBoundary"
    assert evaluate(Request(USER, "s3:ListBucket", BUCKET), [ident(allow("s3:*"))], boundary=b).allowed


def test_session_policy_must_allow():
    # access_policies (session policies): session permissions = identity policy AND session policy
    sess = Policy(doc(allow("s3:GetObject")), "session", "assume-role-session-policy")
    d = evaluate(Request(SESSION, "s3:PutObject", OBJECT), [ident(allow("s3:*"))], session=sess)
    assert d.codes == ["session-no-allow"]
    assert d.reasons[0].policy == "assume-role-session-policy"
    assert evaluate(Request(SESSION, "s3:GetObject", OBJECT), [ident(allow("s3:*"))], session=sess).allowed


def test_federated_user_without_session_policy_is_denied():
    # reference_policies_evaluation-logic_policy-eval-denyallow: no session policy and not a role session -> Deny
    fed = f"arn:aws:sts::{ACCT}:federated-user/bob"
    d = evaluate(Request(fed, "s3:GetObject", OBJECT), [ident(allow("s3:*"))])
    assert d.codes == ["session-no-allow"]


def test_same_account_resource_policy_alone_allows_iam_user():
    # reference_policies_evaluation-logic: within one account an Allow in either the identity-based
    # or the resource-based policy is enough
    rp = resource_pol({"Sid": "AliceRead", "Effect": "Allow", "Principal": {"AWS": USER}, "Action": "s3:GetObject",
                       "Resource": f"{BUCKET}/*"})
    d = evaluate(Request(USER, "s3:GetObject", OBJECT), [], resource_policy=rp)
    assert d.allowed
    assert [(m.layer, m.statement, m.via) for m in d.allowed_by] == [("resource", "AliceRead", "principal-arn")]


def test_resource_policy_naming_user_is_not_limited_by_boundary():
    # reference_policies_evaluation-logic (same-account table): grants to an IAM user ARN are not limited
    # by an implicit deny in an identity-based policy or permissions boundary
    rp = resource_pol({"Effect": "Allow", "Principal": {"AWS": [USER]}, "Action": "s3:GetObject", "Resource": "*"})
    b = Policy(doc(allow("ec2:*")), "permissions-boundary", "ec2-only")
    assert evaluate(Request(USER, "s3:GetObject", OBJECT), [], resource_policy=rp, boundary=b).allowed


def test_resource_policy_naming_role_arn_is_limited_by_boundary_not_identity():
    # reference_policies_evaluation-logic (same-account table): grants to an IAM role ARN are limited by an
    # implicit deny in a permissions boundary or session policy (but not by the identity-based policy)
    rp = resource_pol({"Sid": "AppRole", "Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject",
                       "Resource": f"{BUCKET}/*"})
    b_no = Policy(doc(allow("ec2:*")), "permissions-boundary", "ec2-only")
    d = evaluate(Request(SESSION, "s3:GetObject", OBJECT), [], resource_policy=rp, boundary=b_no)
    assert d.codes == ["boundary-no-allow"]
    assert d.reasons[0].policy == "ec2-only"
    b_yes = Policy(doc(allow("s3:*")), "permissions-boundary", "s3-ok")
    d = evaluate(Request(SESSION, "s3:GetObject", OBJECT), [], resource_policy=rp, boundary=b_yes)
    assert d.allowed and ("resource", "AppRole", "role-arn") in [(m.layer, m.statement, m.via) for m in d.allowed_by]


def test_resource_policy_naming_role_session_ignores_boundary_and_session_policy():
    # reference_policies_evaluation-logic (same-account table): grants to a role session ARN are not limited
    # by an implicit deny in an identity-based policy, a permissions boundary or a session policy
    rp = resource_pol({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "s3:GetObject", "Resource": "*"})
    d = evaluate(Request(SESSION, "s3:GetObject", OBJECT), [], resource_policy=rp,
                 boundary=Policy(doc(allow("ec2:*")), "permissions-boundary", "b"),
                 session=Policy(doc(allow("ec2:*")), "session", "s"))
    assert d.allowed


def test_resource_policy_naming_account_delegates_to_identity_policy():
    # reference_policies_elements_principal: an account principal delegates to the account's IAM policies
    rp = resource_pol({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "s3:*", "Resource": "*"})
    d = evaluate(Request(USER, "s3:GetObject", OBJECT), [ident(allow("ec2:*"))], resource_policy=rp)
    assert d.codes == ["no-identity-allow"]
    assert "names the account" in d.reasons[0].message
    assert evaluate(Request(USER, "s3:GetObject", OBJECT), [ident(allow("s3:*"))], resource_policy=rp).allowed


def test_cross_account_needs_both_identity_and_resource_allow():
    # reference_policies_evaluation-logic-cross-account: both the identity policy in the trusted account and
    # the resource policy in the trusting account must allow
    other_user = f"arn:aws:iam::{OTHER}:user/carol"
    req = Request(other_user, "s3:GetObject", OBJECT)
    rp = resource_pol({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                       "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"})
    only_id = evaluate(req, [ident(allow("s3:GetObject"))], resource_account=ACCT)
    assert only_id.cross_account and only_id.codes == ["resource-no-allow-cross-account"]
    only_rp = evaluate(req, [], resource_policy=rp, resource_account=ACCT)
    assert only_rp.codes == ["no-identity-allow"]
    neither = evaluate(req, [], resource_policy=resource_pol(allow("s3:GetObject", "*", Principal={"AWS": USER})),
                       resource_account=ACCT)
    assert neither.codes == ["no-identity-allow", "resource-no-allow-cross-account"]
    both = evaluate(req, [ident(allow("s3:GetObject"))], resource_policy=rp, resource_account=ACCT)
    assert both.allowed and {m.layer for m in both.allowed_by} == {"identity", "resource"}


def test_every_failing_layer_is_reported():
    # reference_policies_evaluation-logic_policy-eval-denyallow lists the layers in order; unlike AWS we keep
    # going and report each one (explicit deny, SCP, identity, boundary, session)
    d = evaluate(
        Request(SESSION, "s3:PutObject", OBJECT),
        [ident(deny("s3:PutObject", sid="NoWrites"), name="guardrail")],
        boundary=Policy(doc(allow("ec2:*")), "permissions-boundary", "ec2-boundary"),
        session=Policy(doc(allow("s3:GetObject")), "session", "read-only-session"),
        scps=[[FULL_ACCESS_SCP], [scp(allow("ec2:*"), name="ou-ec2")]],
    )
    assert d.codes == ["explicit-deny", "scp-no-allow", "no-identity-allow", "boundary-no-allow", "session-no-allow"]
    assert [r.policy for r in d.reasons] == ["guardrail", "ou-ec2", "guardrail", "ec2-boundary", "read-only-session"]


def test_root_user_needs_no_identity_policy_but_scp_still_applies():
    # reference_policies_evaluation-logic_policy-eval-denyallow: all requests are implicitly denied except for
    # the account root user; reference_policies_evaluation-logic: SCPs apply to member-account root users
    assert evaluate(Request(ROOT, "s3:GetObject", OBJECT), []).allowed
    d = evaluate(Request(ROOT, "s3:GetObject", OBJECT), [], scps=[[scp(deny("s3:*", sid="NoS3"), allow("*"),
                                                                     name="no-s3")]])
    assert d.codes == ["scp-explicit-deny"] and d.reasons[0].statement == "NoS3"


def test_service_principal_allowed_only_by_resource_policy():
    # reference_policies_elements_principal (AWS service principals): the resource policy must name the service
    rp = resource_pol({"Sid": "CloudTrail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                       "Action": "s3:PutObject", "Resource": f"{BUCKET}/AWSLogs/*"})
    ok = evaluate(Request("cloudtrail.amazonaws.com", "s3:PutObject", f"{BUCKET}/AWSLogs/x"), [], resource_policy=rp)
    assert ok.allowed and ok.allowed_by[0].via == "service"
    d = evaluate(Request("config.amazonaws.com", "s3:PutObject", f"{BUCKET}/AWSLogs/x"), [], resource_policy=rp)
    assert d.codes == ["resource-no-allow"]
    assert d.near_misses[0].failed == ("principal",)


@pytest.mark.parametrize(
    "listed,denied",
    [
        pytest.param([USER], True,
                     id="reference_policies_elements_notprincipal: Deny+NotPrincipal must also list the account"),
        pytest.param([USER, ROOT], False,
                     id="reference_policies_elements_notprincipal: user and account listed -> excluded"),
    ],
)
def test_not_principal_with_deny(listed, denied):
    rp = resource_pol({"Sid": "OnlyAlice", "Effect": "Deny", "NotPrincipal": {"AWS": listed}, "Action": "s3:*",
                       "Resource": [BUCKET, f"{BUCKET}/*"]})
    d = evaluate(Request(USER, "s3:GetObject", OBJECT), [ident(allow("s3:*"))], resource_policy=rp)
    assert (not d.allowed) is denied
    if denied:
        r = reason(d, "explicit-deny")
        assert r.statement == "OnlyAlice" and ROOT in r.message


# ------------------------------------------------------------------- policy variables


def test_policy_variable_username_derived_from_user_arn():
    # reference_policies_variables: ${aws:username} is the friendly name of the IAM user
    pol = ident(allow("s3:*", f"{BUCKET}/home/${{aws:username}}/*", sid="Home"))
    assert evaluate(Request(USER, "s3:GetObject", f"{BUCKET}/home/alice/a.txt"), [pol]).allowed
    d = evaluate(Request(USER, "s3:GetObject", f"{BUCKET}/home/bob/a.txt"), [pol])
    assert d.codes == ["no-identity-allow"] and d.near_misses[0].statement == "Home"


def test_policy_variable_unresolvable_makes_value_not_match():
    # reference_policies_variables: if AWS cannot resolve a variable the statement does not apply
    # (aws:username is not present for role sessions)
    pol = ident(allow("s3:*", f"{BUCKET}/home/${{aws:username}}/*", sid="Home"))
    d = evaluate(Request(SESSION, "s3:GetObject", f"{BUCKET}/home/app/x"), [pol])
    assert d.codes == ["no-identity-allow"]
    assert d.near_misses[0].failed == ("resource",)


def test_policy_variable_principal_tag_and_default_value():
    # reference_policies_variables (tags as policy variables; specifying default values)
    pol = ident(allow("s3:GetObject", f"{BUCKET}/${{aws:PrincipalTag/team, 'shared'}}/*"))
    assert evaluate(Request(USER, "s3:GetObject", f"{BUCKET}/ops/x", {"aws:PrincipalTag/team": "ops"}), [pol]).allowed
    assert evaluate(Request(USER, "s3:GetObject", f"{BUCKET}/shared/x"), [pol]).allowed
    assert not evaluate(Request(USER, "s3:GetObject", f"{BUCKET}/ops/x"), [pol]).allowed


def test_policy_variables_are_literal_before_version_2012_10_17():
    # reference_policies_variables: without Version 2012-10-17, ${aws:username} is a literal string
    pol = ident(allow("s3:*", f"{BUCKET}/${{aws:username}}/*"), version="2008-10-17")
    assert not evaluate(Request(USER, "s3:GetObject", f"{BUCKET}/alice/x"), [pol]).allowed
    assert evaluate(Request(USER, "s3:GetObject", f"{BUCKET}/${{aws:username}}/x"), [pol]).allowed


@pytest.mark.parametrize(
    "pattern,resource,expected",
    [
        pytest.param(f"{BUCKET}/${{*}}", f"{BUCKET}/*", True, id="reference_policies_variables: ${*} is a literal *"),
        pytest.param(f"{BUCKET}/${{*}}", f"{BUCKET}/x", False, id="reference_policies_variables: ${*} is no wildcard"),
        pytest.param(f"{BUCKET}/a${{?}}", f"{BUCKET}/a?", True, id="reference_policies_variables: ${?} literal ?"),
        pytest.param(f"{BUCKET}/${{$}}x", f"{BUCKET}/$x", True, id="reference_policies_variables: ${$} literal $"),
    ],
)
def test_policy_variable_special_characters(pattern, resource, expected):
    assert evaluate(Request(USER, "s3:GetObject", resource), [ident(allow("s3:GetObject", pattern))]).allowed is expected


def test_principal_arn_of_role_session_is_the_role_arn():
    # reference_policies_condition-keys (aws:PrincipalArn): for a role session it is the role ARN
    pol = ident(allow("s3:*", "*", Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/app"}}))
    assert evaluate(Request(SESSION, "s3:GetObject", OBJECT), [pol]).allowed
    ctx = request_context(Request(SESSION, "s3:GetObject", OBJECT))
    assert ctx["aws:PrincipalArn"] == ROLE and ctx["aws:PrincipalType"] == "AssumedRole"
    assert "aws:username" not in ctx
    user_ctx = request_context(Request(USER, "s3:GetObject", OBJECT))
    assert user_ctx["aws:username"] == "alice" and user_ctx["aws:PrincipalAccount"] == ACCT


# ------------------------------------------------------------------------ conditions


def cond(condition, context=None, action="s3:GetObject"):
    pol = ident(allow(action, "*", sid="Cond", Condition=condition), name="cond-policy")
    return evaluate(Request(USER, action, OBJECT, context or {}), [pol])


NOW = "2024-06-01T12:00:00Z"


@pytest.mark.parametrize(
    "condition,context,expected",
    [
        # String operators (reference_policies_elements_condition_operators#Conditions_String)
        pytest.param({"StringEquals": {"aws:PrincipalTag/team": "ops"}}, {"aws:PrincipalTag/team": "ops"}, True,
                     id="condition_operators: StringEquals exact"),
        pytest.param({"StringEquals": {"aws:PrincipalTag/team": "ops"}}, {"aws:PrincipalTag/team": "OPS"}, False,
                     id="condition_operators: StringEquals is case-sensitive"),
        pytest.param({"StringNotEquals": {"aws:PrincipalTag/team": "ops"}}, {"aws:PrincipalTag/team": "dev"}, True,
                     id="condition_operators: StringNotEquals"),
        pytest.param({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "ops"}}, {"aws:PrincipalTag/team": "OPS"},
                     True, id="condition_operators: StringEqualsIgnoreCase"),
        pytest.param({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "ops"}},
                     {"aws:PrincipalTag/team": "Ops"}, False, id="condition_operators: StringNotEqualsIgnoreCase"),
        pytest.param({"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}},
                     {"s3:prefix": "home/alice/docs"}, True,
                     id="condition_operators: StringLike with policy variable, OR across values"),
        pytest.param({"StringLike": {"s3:prefix": "home/?"}}, {"s3:prefix": "home/ab"}, False,
                     id="condition_operators: StringLike ? is a single char"),
        pytest.param({"StringNotLike": {"s3:prefix": "private/*"}}, {"s3:prefix": "public/x"}, True,
                     id="condition_operators: StringNotLike"),
        # Numeric
        pytest.param({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, True,
                     id="condition_operators: NumericLessThanEquals equal"),
        pytest.param({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, False,
                     id="condition_operators: NumericLessThanEquals greater"),
        pytest.param({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False,
                     id="condition_operators: NumericLessThan strict"),
        pytest.param({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.0"}, True,
                     id="condition_operators: NumericEquals compares numbers not strings"),
        pytest.param({"NumericNotEquals": {"s3:max-keys": ["1", "2"]}}, {"s3:max-keys": "2"}, False,
                     id="condition_operators: NumericNotEquals"),
        pytest.param({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.5"}, True,
                     id="condition_operators: NumericGreaterThan decimal"),
        pytest.param({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, False,
                     id="condition_operators: NumericGreaterThanEquals"),
        # Date
        pytest.param({"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}}, {"aws:CurrentTime": NOW},
                     True, id="condition_operators: DateGreaterThan ISO 8601"),
        pytest.param({"DateLessThan": {"aws:CurrentTime": "1704067200"}}, {"aws:CurrentTime": NOW}, False,
                     id="condition_operators: DateLessThan epoch policy value"),
        pytest.param({"DateLessThanEquals": {"aws:EpochTime": "2024-06-01T12:00:00Z"}},
                     {"aws:EpochTime": 1717243200}, True, id="condition_operators: DateLessThanEquals epoch context"),
        pytest.param({"DateGreaterThanEquals": {"aws:TokenIssueTime": "2024-06-01T12:00:01Z"}},
                     {"aws:TokenIssueTime": datetime(2024, 6, 1, 12, tzinfo=timezone.utc)}, False,
                     id="condition_operators: DateGreaterThanEquals"),
        pytest.param({"DateEquals": {"aws:CurrentTime": "2024-06-01T14:00:00+02:00"}}, {"aws:CurrentTime": NOW},
                     True, id="condition_operators: DateEquals compares instants across offsets"),
        pytest.param({"DateNotEquals": {"aws:CurrentTime": NOW}}, {"aws:CurrentTime": NOW}, False,
                     id="condition_operators: DateNotEquals"),
        # Bool / Binary
        pytest.param({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, True,
                     id="condition_operators: Bool with a Python bool"),
        pytest.param({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, {"aws:MultiFactorAuthPresent": "false"},
                     False, id="condition_operators: Bool false"),
        pytest.param({"BinaryEquals": {"custom:blob": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
                     {"custom:blob": b"BinaryValueInBase64"}, True,
                     id="condition_operators: BinaryEquals compares base64"),
        # IP address
        pytest.param({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"}, True,
                     id="condition_operators: IpAddress CIDR"),
        pytest.param({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, False,
                     id="condition_operators: IpAddress outside range"),
        pytest.param({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
                     {"aws:SourceIp": "2001:db8:1234:5678::1"}, True, id="condition_operators: IpAddress IPv6"),
        pytest.param({"IpAddress": {"aws:SourceIp": "203.0.113.9"}}, {"aws:SourceIp": "203.0.113.10"}, False,
                     id="condition_operators: IP without prefix means /32"),
        pytest.param({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, False,
                     id="condition_operators: NotIpAddress"),
        # ARN
        pytest.param({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:111122223333:topic"}},
                     {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:topic"}, True,
                     id="condition_operators: ArnEquals allows wildcards per component"),
        pytest.param({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::data*"}}, {"aws:SourceArn": "arn:aws:S3:::data"},
                     False, id="condition_operators: ArnLike is case-sensitive"),
        pytest.param({"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:*:*:topic"}},
                     {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:other"}, True,
                     id="condition_operators: ArnNotEquals"),
        pytest.param({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}}, {}, False,
                     id="condition_operators: ArnNotLike on derived aws:PrincipalArn"),
        # Null
        pytest.param({"Null": {"aws:TokenIssueTime": "true"}}, {}, True,
                     id="condition_operators: Null true = key absent"),
        pytest.param({"Null": {"aws:TokenIssueTime": "false"}}, {}, False,
                     id="condition_operators: Null false = key present"),
        pytest.param({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": NOW}, True,
                     id="condition_operators: Null false with key present"),
        # Missing keys and IfExists
        pytest.param({"StringEquals": {"aws:PrincipalTag/team": "ops"}}, {}, False,
                     id="condition_operators: missing key makes a positive operator false"),
        pytest.param({"StringNotEquals": {"aws:PrincipalTag/team": "ops"}}, {}, True,
                     id="condition_operators: missing key makes a negated operator true"),
        pytest.param({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {}, True,
                     id="condition_operators: missing key makes NotIpAddress true"),
        pytest.param({"StringLikeIfExists": {"ec2:InstanceType": ["t2.*", "m3.*"]}}, {}, True,
                     id="condition_operators: ...IfExists with missing key is true"),
        pytest.param({"StringLikeIfExists": {"ec2:InstanceType": ["t2.*", "m3.*"]}},
                     {"ec2:InstanceType": "p4d.24xlarge"}, False,
                     id="condition_operators: ...IfExists with present key is evaluated"),
        pytest.param({"NumericLessThanIfExists": {"s3:max-keys": "5"}}, {"s3:max-keys": "3"}, True,
                     id="condition_operators: NumericLessThanIfExists present"),
        pytest.param({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {}, True,
                     id="condition_operators: BoolIfExists missing"),
        # Case-insensitive keys
        pytest.param({"IpAddress": {"AWS:SOURCEIP": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"}, True,
                     id="reference_policies_variables: condition key names are case-insensitive"),
        # Set qualifiers (reference_policies_multi-value-conditions)
        pytest.param({"ForAllValues:StringLike": {"dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]}},
                     {"dynamodb:requestedAttributes": ["PostDateTime", "Message"]}, True,
                     id="multi-value-conditions: ForAllValues every request value listed"),
        pytest.param({"ForAllValues:StringLike": {"dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]}},
                     {"dynamodb:requestedAttributes": ["PostDateTime", "UserName"]}, False,
                     id="multi-value-conditions: ForAllValues one request value unlisted"),
        pytest.param({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, {}, True,
                     id="multi-value-conditions: ForAllValues on a missing key is true (empty-set gotcha)"),
        pytest.param({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, {"aws:TagKeys": []}, True,
                     id="multi-value-conditions: ForAllValues on an empty set is true"),
        pytest.param({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, {"aws:TagKeys": ""}, True,
                     id="multi-value-conditions: ForAllValues on an empty string is true"),
        pytest.param({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "owner"]}},
                     {"aws:TagKeys": ["owner", "cost"]}, True, id="multi-value-conditions: ForAnyValue one match"),
        pytest.param({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, {}, False,
                     id="multi-value-conditions: ForAnyValue on a missing key is false"),
        pytest.param({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env"]}}, {"aws:TagKeys": ["env", "x"]}, True,
                     id="multi-value-conditions: ForAnyValue negated = some value matches none"),
        pytest.param({"ForAllValues:StringNotLike": {"aws:TagKeys": ["aws:*"]}}, {"aws:TagKeys": ["env", "aws:x"]},
                     False, id="multi-value-conditions: ForAllValues negated = no value matches"),
        # AND across operators and keys, OR across values
        pytest.param({"StringEquals": {"aws:PrincipalTag/team": ["dev", "ops"]},
                      "Bool": {"aws:SecureTransport": "true"}},
                     {"aws:PrincipalTag/team": "ops", "aws:SecureTransport": True}, True,
                     id="reference_policies_elements_condition: AND across operators, OR across values"),
        pytest.param({"StringEquals": {"aws:PrincipalTag/team": "ops", "aws:RequestedRegion": "eu-west-1"}},
                     {"aws:PrincipalTag/team": "ops", "aws:RequestedRegion": "us-east-1"}, False,
                     id="reference_policies_elements_condition: AND across keys of one operator"),
        pytest.param({"StringEqualsTypo": {"aws:PrincipalTag/team": "ops"}}, {"aws:PrincipalTag/team": "ops"}, False,
                     id="condition_operators: unknown operator never holds"),
    ],
)
def test_condition_operators(condition, context, expected):
    d = cond(condition, context)
    assert d.allowed is expected
    if not expected:
        r = reason(d, "condition-failed")
        assert (r.layer, r.policy, r.statement) == ("identity", "cond-policy", "Cond")
        (nm,) = d.near_misses
        assert nm.failed == ("condition",) and nm.conditions


def test_every_failing_condition_key_is_reported():
    # reference_policies_elements_condition: all keys must hold; we report each one that does not
    d = cond({"StringEquals": {"aws:PrincipalTag/team": "ops"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
             {"aws:SourceIp": "192.0.2.1"})
    (nm,) = d.near_misses
    assert sorted(f.key for f in nm.conditions) == ["aws:PrincipalTag/team", "aws:SourceIp"]
    missing = next(f for f in nm.conditions if f.key == "aws:PrincipalTag/team")
    assert missing.actual is None and "not in the request context" in missing.message


def test_condition_in_deny_with_if_exists_negated_still_denies_on_missing_key():
    # condition_operators (...IfExists): "Deny" with StringNotEqualsIfExists still denies if the key is missing
    pol = ident(allow("ec2:*"), deny("ec2:RunInstances", sid="OnlyT3",
                                     Condition={"StringNotEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}))
    assert evaluate(Request(USER, "ec2:RunInstances", "*", {"ec2:InstanceType": "m5.large"}), [pol]).codes == \
        ["explicit-deny"]
    assert evaluate(Request(USER, "ec2:RunInstances", "*", {"ec2:InstanceType": "t3.micro"}), [pol]).allowed


# ------------------------------------------------------------------------ trust policies


EC2_TRUST = Policy(doc({"Sid": "EC2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole"}), "trust", "app-role-trust")


def test_trust_service_principal_allowed():
    # id_roles_terms-and-concepts (trust policy): the principals it names may assume the role
    d = evaluate_trust(EC2_TRUST, "ec2.amazonaws.com")
    assert d.allowed and d.allowed_by[0].statement == "EC2" and d.allowed_by[0].via == "service"


def test_trust_other_service_principal_denied_with_trusted_list():
    # reference_policies_evaluation-logic_policy-eval-denyallow: role trust policies must explicitly allow the caller
    d = evaluate_trust(EC2_TRUST, "lambda.amazonaws.com")
    assert d.codes == ["trust-no-allow"]
    assert d.reasons[0].policy == "app-role-trust" and "Service:ec2.amazonaws.com" in d.reasons[0].message


def test_trust_action_must_match():
    # reference_policies_elements_action: sts:AssumeRoleWithWebIdentity is a different action from sts:AssumeRole
    d = evaluate_trust(EC2_TRUST, "ec2.amazonaws.com", "sts:AssumeRoleWithWebIdentity")
    assert d.codes == ["trust-no-allow"]


def test_trust_oidc_web_identity_with_subject_condition():
    # id_roles_create_for-idp_oidc: trust the OIDC provider, scope with StringLike on the sub claim
    provider = f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"
    trust = Policy(doc({"Sid": "GitHub", "Effect": "Allow", "Principal": {"Federated": provider},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                                      "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/api:*"}}}),
                   "trust", "gha-trust")
    ok_ctx = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
              "token.actions.githubusercontent.com:sub": "repo:acme/api:ref:refs/heads/main"}
    assert evaluate_trust(trust, provider, "sts:AssumeRoleWithWebIdentity", ok_ctx).allowed
    bad = evaluate_trust(trust, provider, "sts:AssumeRoleWithWebIdentity",
                         {**ok_ctx, "token.actions.githubusercontent.com:sub": "repo:acme/web:ref:refs/heads/main"})
    assert bad.codes == ["trust-no-allow", "condition-failed"]
    assert bad.reasons[1].statement == "GitHub"


def test_trust_cross_account_root_requires_caller_identity_allow():
    # reference_policies_evaluation-logic-cross-account: the trusted account's identity policy must allow too
    trust = Policy(doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                        "Action": "sts:AssumeRole"}), "trust", "partner-trust")
    caller = f"arn:aws:iam::{OTHER}:user/carol"
    role = f"arn:aws:iam::{ACCT}:role/partner-read"
    only_trust = evaluate_trust(trust, caller, role_arn=role)
    assert only_trust.allowed and only_trust.allowed_by[0].via == "account" and only_trust.cross_account
    d = evaluate_trust(trust, caller, role_arn=role, identity=[ident(allow("s3:*"), name="carol-policy")])
    assert d.codes == ["no-identity-allow"] and d.reasons[0].policy == "carol-policy"
    assert evaluate_trust(trust, caller, role_arn=role, identity=[ident(allow("sts:AssumeRole", role))]).allowed


def test_trust_same_account_user_named_directly_needs_no_identity_policy():
    # reference_policies_evaluation-logic (same-account table): a grant naming the IAM user ARN is enough
    trust = Policy(doc({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"}), "trust", "t")
    assert evaluate_trust(trust, USER, role_arn=ROLE, identity=[]).allowed


def test_trust_explicit_deny():
    # reference_policies_evaluation-logic_policy-eval-denyallow: explicit deny overrides allow, trust policies too
    trust = Policy(doc({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"},
                       {"Sid": "NoContractors", "Effect": "Deny", "Principal": {"AWS": USER},
                        "Action": "sts:AssumeRole"}), "trust", "t")
    d = evaluate_trust(trust, USER)
    assert d.codes == ["explicit-deny"] and (d.reasons[0].layer, d.reasons[0].statement) == ("trust", "NoContractors")


# ------------------------------------------------------------------------ policy input


def test_policy_accepts_json_string_and_rejects_bad_effect():
    # reference_policies_grammar: Effect is "Allow" or "Deny"
    p = Policy(json.dumps(doc(allow("s3:GetObject"))), "identity", "from-json")
    assert p.document["Statement"][0]["Action"] == "s3:GetObject"
    with pytest.raises(PolicyError):
        Policy(doc({"Effect": "allow", "Action": "*", "Resource": "*"}), "identity", "bad")
    # reference_policies_grammar: Statement may be a single object; labels fall back to #index
    single = Policy({"Version": "2012-10-17", "Statement": allow("s3:*")}, "identity", "single")
    assert single.statements()[0][0] == "#0"
