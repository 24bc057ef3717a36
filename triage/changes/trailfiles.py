"""The log files a CloudTrail trail delivers to S3, read when LookupEvents
cannot be. DescribeTrails names each trail's bucket and key prefix; files
are gzipped JSON ({"Records": [...]}) under

    <prefix>/AWSLogs/[<organization id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/
        <account>_CloudTrail_<region>_YYYYMMDDTHHmmZ_<unique>.json.gz

Only the day folders the window covers are listed, and only files
delivered inside the window (plus CloudTrail's delivery delay) are read.
Each file is decompressed and parsed as a stream, one record at a time, so
memory stays flat however large the files or the window: a record that
touches no resource of interest is dropped as soon as it is parsed.

Reading an object is refused to playbooks by the read-only guard (rule b);
these reads go through its one exception (readonly.trail_reads), which
admits GetObject only here, only for keys of this layout and only in a
bucket DescribeTrails named."""
from __future__ import annotations

import codecs
import gzip
import json
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from .. import readonly
from ..aws import CallError, CallFailed, CallRecord, classify
from ..permissions import iam_action
from .events import is_change

DELIVERY_DELAY = 20 * 60     # s: CloudTrail delivers a file about every 5 min, events within ~15 min
CHUNK = 1 << 18              # decompressed characters read at a time
MAX_RECORD = 8 << 20         # a record larger than this is not CloudTrail's
WORKERS = 6                  # files read at once
_FILE_TIME = re.compile(r"_(\d{8}T\d{4})Z_[^/]*\.json\.gz$")


@dataclass(frozen=True)
class Location:
    trail: str
    bucket: str
    prefix: str          # "" or the trail's S3KeyPrefix, without a trailing /
    account: str
    region: str          # the trail's home region (where its bucket usually is)
    organization: bool = False


@dataclass
class ReadStats:
    files: int = 0
    records: int = 0
    bytes: int = 0
    listed: int = 0
    skipped: int = 0      # files outside the window
    unread: int = 0       # files not read before the deadline
    errors: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)


class TrailFilesFailed(Exception):
    def __init__(self, kind: str, reason: str, needs: str | None = None):
        super().__init__(reason)
        self.kind, self.reason, self.needs = kind, reason, needs


def locations(call: Callable, region: str, covers: str | None = None) -> list[Location]:
    """The distinct (bucket, prefix) of the trails DescribeTrails (asked in
    `region`) lists that log `covers` (default: `region`)."""
    covers = covers or region
    try:
        answer = call("cloudtrail", "DescribeTrails", {"includeShadowTrails": True}, region)
    except CallFailed as exc:
        raise TrailFilesFailed(exc.error.kind, exc.error.reason("cloudtrail.DescribeTrails"), exc.error.needs) from None
    out: dict[tuple, Location] = {}
    for t in (answer or {}).get("trailList") or []:
        bucket = t.get("S3BucketName")
        if not bucket or not (t.get("IsMultiRegionTrail") or t.get("HomeRegion") == covers):
            continue
        arn = str(t.get("TrailARN") or "")
        parts = arn.split(":")
        account = parts[4] if len(parts) > 4 else ""
        if not re.fullmatch(r"\d{12}", account):
            continue
        prefix = str(t.get("S3KeyPrefix") or "").strip("/")
        key = (bucket, prefix, account)
        if key not in out:
            out[key] = Location(str(t.get("Name") or arn), bucket, prefix, account,
                                str(t.get("HomeRegion") or region), bool(t.get("IsOrganizationTrail")))
    return list(out.values())


def day_prefixes(loc: Location, region: str, since: float, until: float, org_id: str | None = None) -> list[str]:
    """The day folders of `region` the window [since, until] touches (UTC),
    plus the next day's while CloudTrail may still be delivering into it."""
    base = (loc.prefix + "/" if loc.prefix else "") + "AWSLogs/" + (org_id + "/" if org_id else "") + \
        f"{loc.account}/CloudTrail/{region}/"
    day = datetime.fromtimestamp(since, tz=timezone.utc).date()
    last = datetime.fromtimestamp(until + DELIVERY_DELAY, tz=timezone.utc).date()
    out = []
    while day <= last:
        out.append(f"{base}{day:%Y/%m/%d}/")
        day += timedelta(days=1)
    return out


def file_time(key: str) -> float | None:
    m = _FILE_TIME.search(key)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M").replace(tzinfo=timezone.utc).timestamp()


def list_files(call: Callable, loc: Location, prefixes: list[str], since: float, until: float,
               stats: ReadStats) -> list[str]:
    """Keys of the log files delivered in the window, oldest first."""
    keys: list[tuple[float, str]] = []
    for prefix in prefixes:
        try:
            answer = call("s3", "ListObjectsV2", {"Bucket": loc.bucket, "Prefix": prefix}, loc.region, paginate=True)
        except CallFailed as exc:
            raise TrailFilesFailed(exc.error.kind, exc.error.reason("s3.ListObjectsV2"), exc.error.needs) from None
        for obj in (answer or {}).get("Contents") or []:
            key = str(obj.get("Key") or "")
            stats.listed += 1
            when = file_time(key)
            if when is None or not key.endswith(".json.gz"):
                stats.skipped += 1
                continue
            # a file holds events from before its delivery time (up to ~15 min)
            if when < since or when > until + DELIVERY_DELAY:
                stats.skipped += 1
                continue
            keys.append((when, key))
    return [k for _, k in sorted(keys)]


def organization_ids(call: Callable, loc: Location) -> list[str | None]:
    """Organization trails nest the account under AWSLogs/<o-id>/: find it."""
    if not loc.organization:
        return [None]
    base = (loc.prefix + "/" if loc.prefix else "") + "AWSLogs/"
    try:
        answer = call("s3", "ListObjectsV2", {"Bucket": loc.bucket, "Prefix": base, "Delimiter": "/"}, loc.region)
    except CallFailed:
        return [None]
    ids = [p["Prefix"][len(base):].strip("/") for p in (answer or {}).get("CommonPrefixes") or []
           if re.fullmatch(r"o-[a-z0-9]{10,32}/", p.get("Prefix", "")[len(base):])]
    return ids + [None]


def read_files(aws: Any, loc: Location, keys: list[str], on_record: Callable[[dict], None], stats: ReadStats, *,
               deadline: float | None, cancel: threading.Event | None = None, step: str = "", run: Any = None,
               workers: int = WORKERS) -> None:
    """GetObject each key and hand every record to `on_record` (from
    several threads: it must be thread-safe), streaming."""
    client = aws.client("s3", loc.region)
    lock = threading.Lock()
    endpoint = getattr(aws, "endpoint_url", None)

    def one(key: str) -> None:
        if (deadline is not None and time.monotonic() > deadline) or (cancel is not None and cancel.is_set()):
            with lock:
                stats.unread += 1
            return
        cached = _cached(endpoint, loc.bucket, key)
        if cached is not None:        # a delivered log file never changes
            n, kept = cached
            for record in kept:
                on_record(record)
            with lock:
                stats.files += 1
                stats.records += n
            return
        started = time.perf_counter()
        error: str | None = None
        try:
            with readonly.trail_reads():
                body = client.get_object(Bucket=loc.bucket, Key=key)["Body"]
            counted = _Counting(body)
            n, kept = 0, []
            for record in records(counted):
                n += 1
                on_record(record)
                if kept is not None and is_change(record):
                    if len(kept) < CACHE_FILE_RECORDS:
                        kept.append(record)
                    else:
                        kept = None       # a large file: not kept
            _remember(endpoint, loc.bucket, key, n, kept)
            with lock:
                stats.files += 1
                stats.records += n
                stats.bytes += counted.count
        except Exception as exc:       # one unreadable file is said, the others are still read
            err = _call_error(exc)
            error = f"{err.code}: {err.message}" if err.code else err.message
            with lock:
                stats.errors.append(f"{key}: {error}")
            if err.kind in ("denied", "credentials", "network"):
                raise CallFailed(err) from None
        finally:
            _log(aws, CallRecord("s3.GetObject", (time.perf_counter() - started) * 1000, False, error, step,
                                 loc.region, run))

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(keys) or 1)),
                            thread_name_prefix="triage-trail") as pool:
        futures = [pool.submit(one, k) for k in keys]
        first_fatal: CallFailed | None = None
        for f in futures:
            try:
                f.result()
            except CallFailed as exc:
                first_fatal = first_fatal or exc
        if first_fatal is not None and stats.files == 0:
            err = first_fatal.error
            raise TrailFilesFailed(err.kind, err.reason("s3.GetObject"), err.needs)


# The changes (not the reads) of recently read files, for the next run in the
# same process (REPL, demo, tests): small files only, a bounded number of records.
CACHE_FILE_RECORDS = 50
CACHE_RECORDS = 1000
_CACHE: OrderedDict[tuple, tuple[int, list]] = OrderedDict()
_CACHE_SIZE = [0]
_CACHE_LOCK = threading.Lock()


def _cached(endpoint: Any, bucket: str, key: str) -> tuple[int, list] | None:
    with _CACHE_LOCK:
        hit = _CACHE.get((endpoint, bucket, key))
        if hit is not None:
            _CACHE.move_to_end((endpoint, bucket, key))
        return hit


def _remember(endpoint: Any, bucket: str, key: str, n: int, kept: list | None) -> None:
    if kept is None:
        return
    with _CACHE_LOCK:
        _CACHE[(endpoint, bucket, key)] = (n, kept)
        _CACHE_SIZE[0] += len(kept)
        while _CACHE_SIZE[0] > CACHE_RECORDS and _CACHE:
            _, (_, old) = _CACHE.popitem(last=False)
            _CACHE_SIZE[0] -= len(old)


def _log(aws: Any, record: CallRecord) -> None:
    log = getattr(aws, "log", None)
    if isinstance(log, list):
        log.append(record)        # list.append is atomic: the call log of the session (REPL `calls`)


def _call_error(exc: BaseException) -> CallError:
    from botocore import exceptions as bexc

    if isinstance(exc, bexc.ClientError):
        err = exc.response.get("Error", {})
        code, message = str(err.get("Code") or ""), str(err.get("Message") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        kind = classify(code, status)
        return CallError(kind, code or f"HTTP{status}", message or f"HTTP {status}",
                         iam_action("s3", "GetObject") if kind == "denied" else None)
    if isinstance(exc, (bexc.EndpointConnectionError, bexc.ConnectTimeoutError, bexc.ReadTimeoutError,
                        bexc.ConnectionClosedError)):
        return CallError("network", type(exc).__name__, str(exc))
    if isinstance(exc, (bexc.NoCredentialsError, bexc.PartialCredentialsError)):
        return CallError("credentials", type(exc).__name__, str(exc))
    from ..errors import ReadOnlyViolation
    if isinstance(exc, ReadOnlyViolation):
        return CallError("readonly", "ReadOnlyViolation", exc.message)
    return CallError("error", type(exc).__name__, " ".join(str(exc).split())[:200])


class _Counting:
    """A file object that counts the compressed bytes read through it."""

    def __init__(self, raw: Any):
        self.raw, self.count = raw, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        return data


class BadFile(ValueError):
    pass


def records(stream: Any, chunk: int = CHUNK) -> Iterator[dict]:
    """The records of one gzipped CloudTrail log file, parsed one at a time
    from a stream (never the whole file in memory)."""
    gz = gzip.GzipFile(fileobj=stream, mode="rb")
    text = codecs.getincrementaldecoder("utf-8")("replace")
    decoder = json.JSONDecoder()
    buf, pos, eof = "", 0, False

    def fill() -> None:
        nonlocal buf, pos, eof
        data = gz.read(chunk)
        eof = not data
        buf = buf[pos:] + text.decode(data, final=eof)
        pos = 0

    # the opening: {"Records": [
    while True:
        i = buf.find('"Records"', pos)
        j = buf.find("[", i) if i >= 0 else -1
        if j >= 0:
            pos = j + 1
            break
        if eof:
            return
        pos = max(pos, len(buf) - 16) if i < 0 else i
        fill()
    while True:
        while pos < len(buf) and buf[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(buf):
            if eof:
                return
            fill()
            continue
        if buf[pos] == "]":
            return
        try:
            obj, end = decoder.raw_decode(buf, pos)
        except ValueError:
            if eof:
                raise BadFile("not a CloudTrail log file (JSON ends inside a record)") from None
            if len(buf) - pos > MAX_RECORD:
                raise BadFile(f"a record longer than {MAX_RECORD >> 20} MB") from None
            fill()                        # the record continues in the next chunk
            continue
        pos = end
        if isinstance(obj, dict):
            yield obj
