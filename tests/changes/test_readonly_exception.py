"""The read-only guard's one exception: s3.GetObject of a CloudTrail log
file, by triage/changes' reader only, in a bucket DescribeTrails named, for
keys of the log-file layout. A playbook still cannot call GetObject: not at
validate, not at run time, not even for a log file in an admitted bucket."""
from __future__ import annotations

import threading

import pytest

from conftest import run_cli
from triage import readonly
from triage.errors import ReadOnlyViolation

BUCKET, PREFIX = "changes-trail-logs-demo", "audit"
KEY = f"{PREFIX}/AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/22/123456789012_CloudTrail_us-east-1_20261122T1605Z_abc.json.gz"


def _admit() -> None:
    # only triage.changes may admit a bucket: act as its module does
    exec("from triage import readonly\nreadonly.admit_trail_bucket(bucket, prefix)",
         {"__name__": "triage.changes.collect", "bucket": BUCKET, "prefix": PREFIX})


class _AsChanges:
    """`with readonly.trail_reads():` as triage/changes holds it."""

    def __enter__(self):
        self._ctx = {"__name__": "triage.changes.trailfiles", "readonly": readonly}
        exec("cm = readonly.trail_reads()\ncm.__enter__()", self._ctx)

    def __exit__(self, *exc):
        self._ctx["cm"].__exit__(*exc)


def test_getobject_is_refused_outside_the_reader_even_for_a_log_file():
    _admit()
    refused = readonly.refusal("s3", "GetObject", {"Bucket": BUCKET, "Key": KEY})
    assert refused is not None and refused.rule == "b"


def test_the_reader_may_get_a_log_file_of_an_admitted_bucket_and_nothing_else():
    _admit()
    with _AsChanges():
        assert readonly.refusal("s3", "GetObject", {"Bucket": BUCKET, "Key": KEY}) is None
        assert readonly.refusal("s3", "GetObject", {"Bucket": BUCKET, "Key": KEY, "ChecksumMode": "ENABLED"}) is None
        for bucket, key, params in [
            ("orders-data", KEY, {}),                                           # not a trail's bucket
            (BUCKET, "reports/2026.csv", {}),                                   # not a log file
            (BUCKET, KEY.replace(f"{PREFIX}/", "other/"), {}),                  # another prefix
            (BUCKET, KEY.replace(".json.gz", ".csv"), {}),
            (BUCKET, KEY.replace("/CloudTrail/", "/CloudTrail-Digest/"), {}),
            (BUCKET, KEY + "/../../../../secrets.json.gz", {}),
            (BUCKET, KEY, {"SSECustomerKey": "k"}),                              # any other parameter
            (BUCKET, KEY, {"Range": "bytes=0-10"}),
        ]:
            refused = readonly.refusal("s3", "GetObject", {"Bucket": bucket, "Key": key, **params})
            assert refused is not None and refused.rule == "b", (bucket, key, params)
        # the exception is GetObject's alone
        assert readonly.refusal("s3", "GetObjectTorrent", {"Bucket": BUCKET, "Key": KEY}) is not None
    assert readonly.refusal("s3", "GetObject", {"Bucket": BUCKET, "Key": KEY}).rule == "b"   # closed again


def test_the_reader_is_per_thread():
    _admit()
    seen = []
    with _AsChanges():
        t = threading.Thread(target=lambda: seen.append(readonly.refusal("s3", "GetObject", {"Bucket": BUCKET, "Key": KEY})))
        t.start()
        t.join()
    assert seen[0] is not None and seen[0].rule == "b"


def test_only_triage_changes_may_open_it():
    with pytest.raises(ReadOnlyViolation, match="only triage/changes"):
        with readonly.trail_reads():
            pass
    with pytest.raises(ReadOnlyViolation, match="only triage/changes"):
        readonly.admit_trail_bucket("any-bucket", "")


def _getobject_playbook(tmp_path):
    path = tmp_path / "read-trail.yaml"
    path.write_text(f"""id: read-trail
title: Read a trail log file
summary: A playbook that tries the changes reader's exception.
steps:
  log:
    call: s3.GetObject
    params: {{Bucket: {BUCKET}, Key: "{KEY}"}}
checks:
  - {{id: x, severity: info, when: log, title: x, explanation: x}}
""")
    return path


def test_a_playbook_still_cannot_call_getobject(tmp_path, world):
    path = _getobject_playbook(tmp_path)
    r = run_cli("validate", str(path))
    assert r.code == 2 and f"{path}:6: refused: s3.GetObject: rule (b) data-plane read" in r.out, r.out


def test_a_playbook_cannot_call_getobject_at_run_time_even_while_changes_are_read(tmp_path, world):
    """Validation skipped (a playbook loaded without deep checks), the bucket
    admitted, the changes reader running on its own thread at the same time:
    the step is still refused before any request."""
    from triage import engine, playbook
    from triage.aws import Aws, AwsSettings
    from triage.changes import Request

    _admit()
    pb = playbook.load(_getobject_playbook(tmp_path), deep=False)
    aws = Aws(AwsSettings(region="us-east-1", endpoint_url=world.url))
    d = engine.run(pb, {}, aws, changes=Request())
    assert d.steps["log"].status == "failed"
    assert d.steps["log"].error.code == "ReadOnlyViolation" and "rule (b)" in d.steps["log"].reason
    assert not [c for c in d.calls if c.call == "s3.GetObject"]
