"""A trail's log files: the day folders a window covers, the files in it,
and a gzipped file parsed as a stream, one record at a time."""
from __future__ import annotations

import gzip
import io
import json
from datetime import datetime, timezone

import pytest

from triage.changes import trailfiles
from triage.demo.scenarios.changes import file_key, record, trail_file

T = datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc).timestamp()


def recs(n: int, size: int = 0) -> list[dict]:
    return [record("UpdateFunctionConfiguration20150331v2", "lambda", T - i, "arn:aws:iam::1:user/a", "x",
                   {"functionName": f"f{i}", "pad": "é" * size}) for i in range(n)]


class Trickle(io.RawIOBase):
    """A stream that hands out a few bytes per read (a slow network)."""

    def __init__(self, data: bytes, step: int):
        self.data, self.step, self.pos = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        chunk = self.data[self.pos:self.pos + min(self.step, len(b))]
        b[:len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)


@pytest.mark.parametrize("chunk", [1, 7, 64, trailfiles.CHUNK])
def test_records_are_parsed_whatever_the_chunking(chunk):
    want = recs(40, size=30)       # multi-byte characters cut across chunks too
    got = list(trailfiles.records(Trickle(trail_file(want), 13), chunk=chunk))
    assert got == want


def test_a_file_with_other_keys_and_whitespace_and_an_empty_one():
    body = json.dumps({"Other": {"Records": 1}, "Records": recs(3)}, indent=2).encode()
    assert len(list(trailfiles.records(io.BytesIO(gzip.compress(body)), chunk=5))) == 3
    assert list(trailfiles.records(io.BytesIO(trail_file([])))) == []
    assert list(trailfiles.records(io.BytesIO(gzip.compress(b'{"Nothing": []}')))) == []


def test_a_truncated_or_corrupt_file_is_an_error_not_a_hang():
    whole = json.dumps({"Records": recs(5)}).encode()
    with pytest.raises(trailfiles.BadFile):
        list(trailfiles.records(io.BytesIO(gzip.compress(whole[:-40]))))
    with pytest.raises((OSError, EOFError)):
        list(trailfiles.records(io.BytesIO(b"not gzip at all")))


def test_a_record_larger_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(trailfiles, "MAX_RECORD", 10_000)
    big = {"Records": [{"eventName": "x", "pad": "a" * 50_000}]}
    with pytest.raises(trailfiles.BadFile, match="longer than"):
        list(trailfiles.records(io.BytesIO(gzip.compress(json.dumps(big).encode())), chunk=1000))


def test_only_the_days_of_the_window_are_listed():
    loc = trailfiles.Location("audit", "logs", "audit", "123456789012", "us-east-1")
    since, until = T - 24 * 3600, T
    assert trailfiles.day_prefixes(loc, "eu-west-1", since, until) == [
        "audit/AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/21/",
        "audit/AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/22/"]
    late = datetime(2026, 11, 22, 23, 50, tzinfo=timezone.utc).timestamp()   # delivery may spill into the next day
    assert trailfiles.day_prefixes(loc, "us-east-1", late - 600, late, "o-abcdefghij")[-1] == \
        "audit/AWSLogs/o-abcdefghij/123456789012/CloudTrail/us-east-1/2026/11/23/"


def test_files_outside_the_window_are_not_read():
    inside, before = file_key("", "123456789012", "us-east-1", T - 3600), file_key("", "123456789012", "us-east-1",
                                                                                   T - 30 * 3600)
    late = file_key("", "123456789012", "us-east-1", T + 600)      # delivered after `until`: events from before it
    listing = {"Contents": [{"Key": k} for k in (before, inside, late, "AWSLogs/123456789012/CloudTrail-Digest/x.json.gz",
                                                 "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/22/README")]}
    stats = trailfiles.ReadStats()
    keys = trailfiles.list_files(lambda *a, **k: listing, trailfiles.Location("t", "b", "", "123456789012", "us-east-1"),
                                 ["p/"], T - 24 * 3600, T, stats)
    assert keys == [inside, late] and stats.listed == 5 and stats.skipped == 3
    assert trailfiles.file_time(inside) == T - 3600 - (T - 3600) % 60


def test_trails_that_log_a_region():
    trails = {"trailList": [
        {"Name": "org", "TrailARN": "arn:aws:cloudtrail:eu-west-1:123456789012:trail/org", "S3BucketName": "org-logs",
         "S3KeyPrefix": "p/", "IsMultiRegionTrail": True, "HomeRegion": "eu-west-1", "IsOrganizationTrail": True},
        {"Name": "local", "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/local", "S3BucketName": "l",
         "IsMultiRegionTrail": False, "HomeRegion": "us-east-1"},
        {"Name": "elsewhere", "TrailARN": "arn:aws:cloudtrail:ap-south-1:123456789012:trail/e", "S3BucketName": "e",
         "IsMultiRegionTrail": False, "HomeRegion": "ap-south-1"},
        {"Name": "copy", "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/copy", "S3BucketName": "l",
         "IsMultiRegionTrail": True, "HomeRegion": "us-east-1"},
    ]}
    locs = trailfiles.locations(lambda *a, **k: trails, "us-east-1")
    assert [(l.trail, l.bucket, l.prefix, l.organization) for l in locs] == [
        ("org", "org-logs", "p", True), ("local", "l", "", False)]          # the same bucket and prefix once
    assert [l.trail for l in trailfiles.locations(lambda *a, **k: trails, "us-east-1", "ap-south-1")] == \
        ["org", "elsewhere", "copy"]
