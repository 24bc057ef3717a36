"""Fixtures for the change timeline's tests: the seeded world's trail
records, and a fault proxy in front of it that can answer LookupEvents
(moto has none) with them."""
from __future__ import annotations

import json

import pytest

from triage.testing.proxy import FaultProxy, garbage


@pytest.fixture
def proxy(world):
    with FaultProxy(world.url) as p:
        yield p


@pytest.fixture(scope="session")
def trail_records(world) -> list[dict]:
    """Every record the changes scenario delivered to its trail's bucket."""
    import boto3

    from triage.changes.trailfiles import records
    from triage.demo.scenarios.changes import TRAIL_BUCKET

    s3 = boto3.client("s3", endpoint_url=world.url, region_name="us-east-1")
    out = []
    for obj in s3.list_objects_v2(Bucket=TRAIL_BUCKET).get("Contents", []):
        out += list(records(s3.get_object(Bucket=TRAIL_BUCKET, Key=obj["Key"])["Body"]))
    return out


def lookup_answer(records: list[dict]) -> bytes:
    """A LookupEvents response body holding `records` (AWS sends them newest first)."""
    events = [{"EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": str(r.get("readOnly")).lower(),
               "EventTime": r["eventTime"], "EventSource": r["eventSource"], "CloudTrailEvent": json.dumps(r)}
              for r in sorted(records, key=lambda r: r["eventTime"], reverse=True)]
    return json.dumps({"Events": events}).encode()


def answer_lookups(proxy, records: list[dict], **kw):
    """Make the proxy answer every LookupEvents request with `records`."""
    return proxy.add_fault("LookupEvents", garbage(200, lookup_answer(records), "application/x-amz-json-1.1"), **kw)
