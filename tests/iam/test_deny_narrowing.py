"""An explicit-deny fix narrows the Deny statement by exactly the request, checked by the
evaluator, and is refused (None) whenever that would widen access: a wildcard match, a
resource-policy Deny naming others, or a statement written for exactly this request."""
from __future__ import annotations

import pytest

from triage.iam.bridge import deny_narrowed, verify_narrowing

ROLE = "arn:aws:iam::123456789012:role/fix-denied"
OBJ = "arn:aws:s3:::fix-orders/reports/2026.csv"
OTHER = "arn:aws:s3:::fix-orders/reports/2025.csv"


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def deny(**kw):
    return {"Sid": "D", "Effect": "Deny", **kw}


KEEP = {"Sid": "Keep", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::fix-orders"}


@pytest.mark.parametrize("statement, layer, expected", [
    # another action stays denied on the object
    (deny(Action=["s3:GetObject", "s3:DeleteObject"], Resource=OBJ), "identity",
     [deny(Action="s3:DeleteObject", Resource=OBJ), KEEP]),
    # another resource stays denied for the action
    (deny(Action="s3:GetObject", Resource=[OBJ, OTHER]), "identity", [deny(Action="s3:GetObject", Resource=OTHER), KEEP]),
    # both: the statement is split, nothing but the request leaves it
    (deny(Action=["s3:GetObject", "s3:PutObject"], Resource=[OBJ, OTHER]), "identity",
     [deny(Action="s3:PutObject", Resource=[OBJ, OTHER]),
      {"Sid": "D2", "Effect": "Deny", "Action": "s3:GetObject", "Resource": OTHER}, KEEP]),
    # a resource-policy Deny naming exactly this principal, its Condition kept
    (deny(Principal={"AWS": ROLE}, Action=["s3:GetObject", "s3:PutObject"], Resource=OBJ,
          Condition={"Bool": {"aws:SecureTransport": "false"}}), "resource",
     [deny(Principal={"AWS": ROLE}, Action="s3:PutObject", Resource=OBJ,
           Condition={"Bool": {"aws:SecureTransport": "false"}}), KEEP]),
])
def test_the_deny_loses_exactly_the_request(statement, layer, expected):
    fixed = deny_narrowed(doc(statement, KEEP), "D", ROLE, ["s3:GetObject"], OBJ, layer)
    assert fixed == doc(*expected)


@pytest.mark.parametrize("statement, layer", [
    (deny(Action="s3:*", Resource=OBJ), "identity"),                              # through a wildcard action
    (deny(Action=["s3:GetObject", "s3:PutObject"], Resource="arn:aws:s3:::fix-orders/*"), "identity"),  # wildcard resource
    (deny(Action="s3:GetObject", Resource=OBJ), "identity"),                      # written for exactly this request
    (deny(Principal="*", Action=["s3:GetObject", "s3:PutObject"], Resource=OBJ), "resource"),   # denies everyone
    (deny(Principal={"AWS": [ROLE, "arn:aws:iam::123456789012:role/other"]},
          Action=["s3:GetObject", "s3:PutObject"], Resource=OBJ), "resource"),   # and someone else
    (deny(NotAction="s3:ListBucket", Resource=OBJ), "identity"),
    (deny(Action="s3:GetObject", NotResource=OTHER), "identity"),
    ({"Sid": "D", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": OBJ}, "identity"),
])
def test_no_narrowing_when_it_would_reach_further(statement, layer):
    assert deny_narrowed(doc(statement, KEEP), "D", ROLE, ["s3:GetObject"], OBJ, layer) is None


def test_the_evaluator_refuses_pieces_that_deny_less_than_the_original_elsewhere():
    original = deny(Action=["s3:GetObject", "s3:DeleteObject"], Resource=OBJ)
    assert verify_narrowing(original, [deny(Action="s3:DeleteObject", Resource=OBJ)], ROLE, ["s3:GetObject"], OBJ, "identity")
    assert not verify_narrowing(original, [], ROLE, ["s3:GetObject"], OBJ, "identity")          # DeleteObject let go too
    assert not verify_narrowing(original, [original], ROLE, ["s3:GetObject"], OBJ, "identity")  # still denies the request
