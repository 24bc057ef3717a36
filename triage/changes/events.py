"""CloudTrail records -> changes to the resources of interest. One matching
function serves every source: LookupEvents hands back each event's record as
the `CloudTrailEvent` JSON string, a trail's log files hold the same records
under "Records", so both go through `Index.match` and `change_of`.

A record touches a resource when the resource's ARN appears in its
`resources` or anywhere in its `requestParameters`, when a self-describing
id (sg-..., subnet-..., i-...) does, or when the kind's own request
parameter names it (`functionName` for Lambda, with ARNs, partial ARNs and
qualifiers; `roleName`; `bucketName`; `queueUrl`...), in an event of that
kind's service. Reads (readOnly, Get/List/Describe...) and calls that failed
(errorCode) are not changes."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import unquote

from ..expr import epoch_s as epoch, iso  # noqa: F401  (this package's names for them)
from .kinds import KINDS, Resource, event_source, id_kind, name_in, parse_arn

_VERSION_SUFFIX = re.compile(r"20\d{6}(?:v\d+)?$")      # UpdateFunctionConfiguration20150331v2
_READ_NAMES = ("Get", "List", "Describe", "Head", "Lookup", "BatchGet", "Search", "Filter", "Simulate")
# request parameter key (lower case) -> the kinds it names
_KEY_KINDS: dict[str, tuple[str, ...]] = {}
for _kind in KINDS.values():
    for _key in _kind.keys:
        _KEY_KINDS[_key] = _KEY_KINDS.get(_key, ()) + (_kind.name,)
# Parameters that say which resource a call is about, or how it was sent: not "what changed".
_NOT_FIELDS = frozenset(_KEY_KINDS) | frozenset({
    "qualifier", "revisionid", "clienttoken", "dryrun", "applyimmediately", "publish", "versionid", "policyname",
    "statementid", "expectedbucketowner", "host", "queueowneraccountid", "setasdefault"})
# Parameters that name a rule's peers, not the resource changed: a rule of
# sg-db admitting sg-fn (ipPermissions.groups) is a change to sg-db only.
_PEER_KEYS = frozenset({"ippermissions", "securitygrouprules"})
_MAX_STRINGS = 400    # strings looked at per record (a record is a few KB; this bounds a hostile one)


def event_name(record: dict) -> str:
    """The API call, without Lambda's API-version suffix."""
    return _VERSION_SUFFIX.sub("", str(record.get("eventName") or "")) or "?"


def is_change(record: dict) -> bool:
    """A call that succeeded and is not a read."""
    if record.get("errorCode") or record.get("readOnly") is True or record.get("readOnly") == "true":
        return False
    name = event_name(record)
    return not name.startswith(_READ_NAMES)


class Index:
    """The resources of interest, indexed for matching records quickly."""

    def __init__(self, resources: Iterable[Resource]):
        self.resources = list(dict.fromkeys(resources))
        self._typed: dict[tuple, list[Resource]] = {}
        self._untyped: dict[str, list[Resource]] = {}
        for r in self.resources:
            if r.kind is None:
                self._untyped.setdefault(r.name, []).append(r)
            else:
                self._typed.setdefault((r.kind, r.name), []).append(r)

    def __bool__(self) -> bool:
        return bool(self.resources)

    def match(self, record: dict) -> list[Resource]:
        """The resources of interest a change record touches ([] for reads and failed calls)."""
        if not self.resources or not is_change(record):
            return []
        hits: dict[tuple, Resource] = {}
        source = event_source(record)
        region = record.get("awsRegion")
        account = record.get("recipientAccountId")
        for res in record.get("resources") or ():
            if isinstance(res, dict):
                arn = res.get("ARN") or res.get("arn")
                if isinstance(arn, str):
                    self._arn(arn, region, account, hits)
        budget = [_MAX_STRINGS]
        self._walk(record.get("requestParameters"), None, source, region, account, hits, budget, 0)
        return list(hits.values())

    def _walk(self, value: Any, key: str | None, source: str, region, account, hits: dict, budget: list, depth: int):
        if depth > 8 or budget[0] <= 0:
            return
        if isinstance(value, str):
            budget[0] -= 1
            self._value(key, value, source, region, account, hits)
        elif isinstance(value, dict):
            for k, v in value.items():
                if str(k).lower() in _PEER_KEYS:
                    continue
                self._walk(v, str(k).lower(), source, region, account, hits, budget, depth + 1)
        elif isinstance(value, list):
            for v in value:
                self._walk(v, key, source, region, account, hits, budget, depth + 1)

    def _value(self, key: str | None, value: str, source: str, region, account, hits: dict) -> None:
        if value.startswith("arn:"):
            self._arn(value, region, account, hits)
            return
        kind = id_kind(value)
        if kind is not None:
            self._add(tuple(self._typed.get((kind, value), ())) + tuple(self._untyped.get(value, ())), region, account,
                      hits)
            return
        for kind in _KEY_KINDS.get(key or "", ()):
            if KINDS[kind].source != source:
                continue    # `name` in a CloudTrail call names a trail; in another service, something else
            name = name_in(kind, value)
            if name:
                self._add(tuple(self._typed.get((kind, name), ())) + tuple(self._untyped.get(name, ())),
                          region, account, hits)

    def _arn(self, arn: str, region, account, hits: dict) -> None:
        kind, name, arn_account, arn_region = parse_arn(arn)
        if name is None:
            return
        found = tuple(self._typed.get((kind, name), ())) + tuple(self._untyped.get(name, ()))
        if found:
            self._add(found, arn_region or region, arn_account or account, hits, account)

    @staticmethod
    def _add(found: Iterable[Resource], region, account, hits: dict, home: str | None = None) -> None:
        """`account`: whose resource the record names; `home`: the account whose
        trail logged it, the account of a resource known by name only."""
        for r in found:
            ours = r.account or home
            if ours and account and ours != account:
                continue
            if r.region and region and not r.is_global and r.region != region:
                continue
            hits[r.key] = r


# --- who, with what -----------------------------------------------------------------

_TOOLS = (
    (re.compile(r"terraform", re.I), "Terraform"),
    (re.compile(r"pulumi", re.I), "Pulumi"),
    (re.compile(r"aws-cdk|cdk/", re.I), "AWS CDK"),
    (re.compile(r"cloudformation", re.I), "CloudFormation"),
    (re.compile(r"serverless", re.I), "Serverless Framework"),
    (re.compile(r"^aws-cli/|aws-cli/", re.I), "AWS CLI"),
    (re.compile(r"console\.(?:aws\.)?amazonaws\.com|AWS Internal", re.I), "console"),
    (re.compile(r"Boto3/|botocore/", re.I), "boto3"),
    (re.compile(r"aws-sdk-js|aws-sdk-nodejs", re.I), "AWS SDK for JavaScript"),
    (re.compile(r"aws-sdk-go", re.I), "AWS SDK for Go"),
    (re.compile(r"aws-sdk-java", re.I), "AWS SDK for Java"),
)


def tool(user_agent: str | None) -> str | None:
    if not user_agent:
        return None
    for pattern, name in _TOOLS:
        if pattern.search(user_agent):
            return name
    return None


def principal(record: dict) -> str | None:
    who = record.get("userIdentity") or {}
    if not isinstance(who, dict):
        return None
    if who.get("arn"):
        return str(who["arn"])
    if who.get("invokedBy"):
        return str(who["invokedBy"])
    if who.get("type") == "Root":
        return f"root ({who.get('accountId', '?')})"
    return str(who.get("principalId") or who.get("type") or "") or None


# --- what changed ---------------------------------------------------------------------

@dataclass
class FieldChange:
    field: str
    after: Any
    before: Any = None
    before_known: bool = False


@dataclass
class Change:
    time: float
    event: str
    resource: Resource
    source: str                       # lookup-events | trail-files | metadata
    principal: str | None = None
    tool: str | None = None
    event_id: str | None = None
    region: str | None = None
    request: dict = field(default_factory=dict)     # exact requestParameters; masked at the output edge
    response: dict = field(default_factory=dict)    # responseElements (a new policy version's id...)
    fields: list[FieldChange] = field(default_factory=list)
    summary: str | None = None        # the change in words, when the fields do not say it
    explains: list[str] = field(default_factory=list)
    also: list[Resource] = field(default_factory=list)   # other resources of interest the same event touched

    @property
    def touches(self) -> set[str]:
        """Names a playbook's `explains.fields` may give: the event and the fields it set (lower case)."""
        names = {self.event.lower()}
        for f in self.fields:
            parts = f.field.lower().split(".")
            names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        return names


def change_of(record: dict, resource: Resource, source: str) -> Change | None:
    when = epoch(record.get("eventTime"))
    if when is None:
        return None
    request = record.get("requestParameters")
    request = request if isinstance(request, dict) else {}
    response = record.get("responseElements")
    change = Change(time=when, event=event_name(record), resource=resource, source=source,
                    principal=principal(record), tool=tool(record.get("userAgent")),
                    event_id=record.get("eventID"), region=record.get("awsRegion"), request=request,
                    response=response if isinstance(response, dict) else {})
    change.fields = [FieldChange(name, value) for name, value in fields_of(request)]
    return change


def record_of(lookup_event: dict) -> dict | None:
    """The CloudTrail record inside one LookupEvents event."""
    text = lookup_event.get("CloudTrailEvent")
    if isinstance(text, str):
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if isinstance(record, dict):
            return record
    # no record text: what the event's own fields say
    return {"eventName": lookup_event.get("EventName"), "eventTime": lookup_event.get("EventTime"),
            "eventID": lookup_event.get("EventId"), "eventSource": lookup_event.get("EventSource"),
            "userIdentity": {"arn": lookup_event.get("Username")},
            "readOnly": lookup_event.get("ReadOnly"),
            "resources": [{"ARN": r.get("ResourceName")} for r in lookup_event.get("Resources") or ()
                          if str(r.get("ResourceName", "")).startswith("arn:")]}


def fields_of(request: dict, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """(Field, value) pairs a call set: its request parameters other than the
    ones naming the resource, camelCase as the API's PascalCase, nested
    structures as dotted paths (two levels)."""
    out: list[tuple[str, Any]] = []
    for key, value in request.items():
        if not prefix and str(key).lower() in _NOT_FIELDS:
            continue
        name = prefix + _pascal(str(key))
        if isinstance(value, dict) and value and depth < 2:
            out += fields_of(value, name + ".", depth + 1)
        else:
            out.append((name, value))
    return out


def _pascal(key: str) -> str:
    """CloudTrail's camelCase as the API's PascalCase: timeout -> Timeout, dBInstanceClass -> DBInstanceClass."""
    return key[0].upper() + key[1:] if key[:1].islower() else key


# --- policy documents ---------------------------------------------------------------------

def policy_document(value: Any) -> dict | None:
    """A policy document from a request parameter (JSON text, URL-encoded
    JSON text as IAM's console sends it, or already a mapping)."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return None
    for text in (value, unquote(value)):
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        if isinstance(doc, dict):
            return doc
    return None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _grants(doc: dict) -> dict[tuple, dict[str, str]]:
    """(effect, 'Action'|'NotAction', resources, principal, condition) ->
    {action in lower case (IAM compares them so): as written}."""
    out: dict[tuple, dict[str, str]] = {}
    for st in _as_list(doc.get("Statement")):
        if not isinstance(st, dict):
            continue
        which = "NotAction" if "NotAction" in st else "Action"
        res_key = "NotResource" if "NotResource" in st else "Resource"
        key = (str(st.get("Effect", "Allow")), which,
               res_key + ":" + ",".join(sorted(map(str, _as_list(st.get(res_key))))),
               json.dumps(st.get("Principal") or st.get("NotPrincipal"), sort_keys=True),
               json.dumps(st.get("Condition"), sort_keys=True))
        out.setdefault(key, {}).update((str(a).lower(), str(a)) for a in _as_list(st.get(which)))
    return out


def statement_diff(before: dict | None, after: dict | None) -> tuple[list[str], list[str]]:
    """(removed, added) grants between two policy documents, in words:
    'Allow s3:GetObject on arn:aws:s3:::bucket/*'."""
    old, new = _grants(before or {}), _grants(after or {})
    removed, added = [], []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, {}), new.get(key, {})
        gone = {before[a] for a in before.keys() - after.keys()}
        came = {after[a] for a in after.keys() - before.keys()}
        if gone:
            removed.append(_grant_text(key, gone))
        if came:
            added.append(_grant_text(key, came))
    return removed, added


def _grant_text(key: tuple, actions: set[str]) -> str:
    effect, which, resources, principal_json, condition = key
    res_kind, _, res = resources.partition(":")
    text = f"{effect} {'NOT ' if which == 'NotAction' else ''}{', '.join(sorted(actions))}"
    if res:
        text += f" {'not on' if res_kind == 'NotResource' else 'on'} {res.replace(',', ', ')}"
    if principal_json != "null":
        text += f" for {principal_json}"
    if condition != "null":
        text += " (with conditions)"
    return text
