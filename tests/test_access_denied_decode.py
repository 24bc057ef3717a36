"""access-denied --encoded-message (issue 12): triage decodes the message itself with
sts:DecodeAuthorizationMessage and evaluates the request it describes. moto does not
implement the call, so the success path is a recorded AWS answer replayed through the
real engine (playbooks/tests/access-denied.cases.yaml); against moto the call fails and
the run says plainly that the message could not be decoded, and does not use it."""
from __future__ import annotations

import json
from pathlib import Path

from triage import casefile, engine, playbook
from triage.demo.scenarios.access_denied import OBJECT_ARN
from triage.iam.bridge import authorization_message

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "playbooks" / "access-denied.yaml"


def replay(name: str) -> dict:
    case = next(c for c in casefile.load(casefile.cases_path(BOOK, "access-denied")).cases if c.name == name)
    aws = casefile.ReplayAws(case)
    with casefile.frozen_clock(case.recorded_at):
        data = engine.run(playbook.load(BOOK), case.inputs, aws).to_dict()
    assert aws.unrecorded == []
    assert "sts.DecodeAuthorizationMessage" in [c.call for c in aws.log]
    return data


def finding(data: dict, check: str) -> dict:
    assert [f["check"] for f in data["findings"]] == [check], [f["check"] for f in data["findings"]]
    return data["findings"][0]


def test_the_decoded_message_is_evaluated_and_shown():
    """Without the message, vpn-only-reader's allow fails its aws:SourceIp condition
    (condition-not-met, case vpn-only-reader-condition-not-met). The decoded message
    carries aws:SourceIp=10.1.2.3, inside the VPN range: the policies triage reads allow
    the request, and AWS's explicit Deny is named as a layer triage could not see."""
    f = finding(replay("vpn-only-reader-decoded-message-not-explained"), "not-explained")
    auth = f["evidence"]["authorization_message"]
    assert auth["decoded"] is True and auth["explicit_deny"] is True and auth["allowed"] is False
    assert auth["context"]["aws:SourceIp"] == "10.1.2.3"
    assert auth["matched_statements"][0]["statement"] == "DenyReadsOutsideExportWindow"
    assert f["evidence"]["allowed_by"] == [{"action": "s3:GetObject", "resource": OBJECT_ARN,
                                            "statements": ["ReadFromVpn VpnOnly"]}]
    not_evaluated = {x["layer"]: x["why"] for x in f["evidence"]["not_evaluated"]}
    ruled_out = {x["layer"]: x["why"] for x in f["evidence"]["ruled_out"]}
    assert "explicit Deny (per AWS)" in not_evaluated
    assert "calling identity" in ruled_out and "nightly-export" in ruled_out["calling identity"]
    assert "by an explicit Deny" in f["explanation"] and "DENY DenyReadsOutsideExportWindow" in f["explanation"]
    # already decoded: the command to decode it is not printed again
    assert not any("decode-authorization-message" in c for c in f["fix"]["commands"])


def test_a_message_triage_may_not_decode_is_inconclusive_and_said_so():
    f = finding(replay("vpn-only-reader-message-not-decodable"), "condition-not-met")
    assert f["evidence"]["authorization_message"] == {
        "decoded": False,
        "error": "AccessDenied: User: arn:aws:iam::123456789012:user/triage is not authorized to perform: "
                 "sts:DecodeAuthorizationMessage"}
    assert f["evidence"]["context_given"] == {}        # nothing from the message was used
    assert "could not decode the encoded authorization message (AccessDenied" in f["explanation"]


def test_against_moto_the_call_fails_and_the_run_says_it_could_not_decode(cli):
    r = cli("access-denied", "--principal", "reports-ok", "--action", "s3:GetObject", "--resource", OBJECT_ARN,
            "--encoded-message", "AQoDYXdzEPT-not-decodable-here", "--output", "json")
    data = json.loads(r.out)
    assert r.code == 1, (r.code, r.err)
    f = finding(data, "not-explained")
    auth = f["evidence"]["authorization_message"]
    assert auth["decoded"] is False and "no AWS answer" in auth["error"]
    assert "could not decode the encoded authorization message" in f["explanation"]
    assert "inconclusive" in f["explanation"]
    assert any("decode-authorization-message" in c for c in f["fix"]["commands"])
    assert "calling identity" in {x["layer"] for x in f["evidence"]["not_evaluated"]}


def test_decoded_answers_that_are_not_a_message_are_inconclusive():
    assert authorization_message(None) is None
    assert authorization_message({"DecodedMessage": "not json"}) == {"decoded": False, "error": "the decoded message is not JSON"}
    assert authorization_message({"error": {"code": "InvalidAuthorizationMessageException", "message": "expired"}}) == {
        "decoded": False, "error": "InvalidAuthorizationMessageException: expired"}
    long = authorization_message({"error": {"code": "AccessDenied", "message": "x" * 500}})
    assert len(long["error"]) < 200
