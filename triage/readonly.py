"""The read-only guard: which AWS calls triage may make. One rule, one
function (`refusal`), used when a playbook is validated (botomodel, params
still templates) and again on every call (Aws.call, ReplayAws.call and a
botocore `before-parameter-build` hook on every client), so a playbook that
slips past validation still cannot change, or read secrets from, anything.

A call runs only if all of these hold:

(a) its name is a read verb (Get/List/Describe/...);
(b) it is not a data-plane read: it does not return the application's own
    data (items, objects, records, messages, files, console output...).
    Derived: an operation whose output is a stream. Reviewed: DATA_PLANE;
(c) no member of its output carries botocore's `sensitive` trait (walked
    recursively through the output shape), unless it is one of the
    reviewed metadata reads in MASKED_METADATA, whose sensitive members are
    masked at the output edge. Reviewed additions: UNMARKED_SECRETS;
(d) no parameter that unlocks secret values is set. Derived: boolean input
    members named for a secret (WithDecryption, includeValue, unmask,
    withSecret: refused unless false; HidePassword: refused unless true).
    Reviewed additions: UNLOCKING_VALUES;
(e) it has no side effect (it mints no credential, creates nothing):
    SIDE_EFFECTS.

Nothing here imports botocore: models come from the caller (the hook's
`model`, a client's service model) or, when none is given, from
botomodel's loader. What a model says is computed once per operation."""
from __future__ import annotations

import re
import sys
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from .errors import ReadOnlyViolation

READ_PREFIXES = ("Get", "List", "Describe", "Lookup", "Filter", "Search", "Simulate", "Head", "BatchGet")

# Reads that are safe and useful although their names do not say so.
# GenerateCredentialReport starts building the account's credential report:
# a side effect with nothing to undo, and the only way to read that report.
EXTRA_READS = frozenset({"DecodeAuthorizationMessage", "GenerateCredentialReport"})

# Names that start with a read prefix but change state.
_PREFIX_LIES = re.compile(r"^(GetAndUpdate|ListenerCreate)")

RULES = {
    "a": "not a read",
    "b": "data-plane read",
    "c": "sensitive output",
    "d": "secret-unlocking parameter",
    "e": "side effect",
}

# --- the reviewed lists ------------------------------------------------------------
# Keep them short: everything a model can tell is derived from the model.

# (b) reads of the application's own data the models cannot tell apart from
# metadata (streamed outputs are refused without being listed). Query, Scan
# and ReceiveMessage are not read verbs anyway; listed for the clearer reason.
DATA_PLANE: dict[tuple[str, str], str] = {
    ("dynamodb", "GetItem"): "table items",
    ("dynamodb", "BatchGetItem"): "table items",
    ("dynamodb", "Query"): "table items",
    ("dynamodb", "Scan"): "table items",
    ("dynamodb", "ExecuteStatement"): "table items",
    ("dynamodb", "BatchExecuteStatement"): "table items",
    ("dynamodb", "TransactGetItems"): "table items",
    ("dynamodbstreams", "GetRecords"): "stream records (item images)",
    ("kinesis", "GetRecords"): "stream records",
    ("keyspacesstreams", "GetRecords"): "stream records (row images)",
    ("sqs", "ReceiveMessage"): "queue messages (and hides them from the real consumers)",
    ("codecommit", "GetFile"): "repository file contents",
    ("codecommit", "GetBlob"): "repository file contents",
    ("ec2", "GetConsoleOutput"): "the instance's console output (boot scripts print secrets there)",
    ("ec2", "GetConsoleScreenshot"): "a screenshot of the instance's console",
    ("ec2", "GetPasswordData"): "the instance's encrypted administrator password",
    ("ecr", "GetDownloadUrlForLayer"): "a download URL for an image layer's contents",
    ("athena", "GetQueryResults"): "query result rows (table data)",
    ("redshift-data", "GetStatementResult"): "query result rows (table data)",
    ("redshift-data", "GetStatementResultV2"): "query result rows (table data)",
    ("iot-data", "GetRetainedMessage"): "device message payloads",
    ("support", "DescribeAttachment"): "the contents of a support case attachment",
}
# Not listed on purpose: logs.FilterLogEvents, GetLogEvents and GetQueryResults.
# Logs are the diagnostic signal itself (the shipped playbooks read them); free
# text is scrubbed for credentials at the output edge, and `unmask` is rule (d).

# (c) reviewed metadata reads whose sensitive members are masked at the
# output edge (redact.py): reason each is admitted.
MASKED_METADATA: dict[tuple[str, str], str] = {
    ("lambda", "GetFunctionConfiguration"): "Environment values are masked at the edge; checks read timeouts, roles, VPC",
    ("lambda", "GetFunction"): "as GetFunctionConfiguration; Code.Location is a presigned URL whose signature is masked",
    ("lambda", "ListFunctions"): "as GetFunctionConfiguration, per function (completion and `triage scan`)",
    ("lambda", "ListVersionsByFunction"): "as GetFunctionConfiguration, per version",
    ("rds", "DescribeDBInstances"): "PendingModifiedValues.MasterUserPassword: AWS only ever returns ****",
    ("rds", "DescribeDBClusters"): "PendingModifiedValues.MasterUserPassword: AWS only ever returns ****",
    ("organizations", "DescribeOrganization"): "MasterAccountEmail: an address (masked), no credential",
    ("s3", "GetBucketEncryption"): "KMSMasterKeyID: a key id or ARN, not key material",
    ("s3", "HeadObject"): "SSEKMSKeyId: a key id or ARN; no object data (AccessDenied on objects)",
    ("ecs", "DescribeTaskDefinition"): "container environment, masked at the edge like Lambda's",
}

# (c) outputs that are secrets although the model does not mark them.
UNMARKED_SECRETS: dict[tuple[str, str], str] = {
    ("wafv2", "GetDecryptedAPIKey"): "the decrypted API key",
    ("appsync", "ListApiKeys"): "AppSync API key ids, which are the keys themselves",
}

# (d) parameter values (not booleans) that unlock secrets.
UNLOCKING_VALUES: dict[tuple[str, str], tuple[str, frozenset]] = {
    ("ec2", "DescribeInstanceAttribute"): ("Attribute", frozenset({"userData"})),   # user data holds bootstrap secrets
}

# (e) calls that mint a credential or create something. rds's
# generate_db_auth_token is no API operation (botocore signs it locally): no
# playbook can name it, and triage's code never calls it.
SIDE_EFFECTS: dict[tuple[str, str], str] = {
    ("cognito-identity", "GetId"): "creates an identity in the pool",
    ("cognito-identity", "GetOpenIdTokenForDeveloperIdentity"): "creates or links an identity and issues a token",
    ("cognito-identity", "GetCredentialsForIdentity"): "issues AWS credentials",
    ("cognito-identity", "GetOpenIdToken"): "issues an OpenID token",
    ("sts", "GetSessionToken"): "issues temporary credentials",
    ("sts", "GetFederationToken"): "issues temporary credentials",
    ("sts", "GetDelegatedAccessToken"): "issues temporary credentials",
    ("sts", "GetWebIdentityToken"): "issues a web identity token",
    ("sso", "GetRoleCredentials"): "issues role credentials",
    ("ssm", "GetAccessToken"): "issues node access credentials",
    ("ecr", "GetAuthorizationToken"): "issues a registry password",
    ("ecr-public", "GetAuthorizationToken"): "issues a registry password",
    ("codeartifact", "GetAuthorizationToken"): "issues a repository token",
    ("redshift", "GetClusterCredentials"): "issues a database password (AutoCreate creates the user)",
    ("redshift", "GetClusterCredentialsWithIAM"): "issues a database password",
    ("redshift-serverless", "GetCredentials"): "issues a database password",
    ("lakeformation", "GetTemporaryGlueTableCredentials"): "issues data access credentials",
    ("lakeformation", "GetTemporaryGluePartitionCredentials"): "issues data access credentials",
    ("lightsail", "GetInstanceAccessDetails"): "creates a temporary SSH key pair and returns it",
    ("gamelift", "GetInstanceAccess"): "issues instance credentials",
    ("connect", "GetFederationToken"): "issues federation credentials",
    ("kms", "GetParametersForImport"): "creates an import token",
}

# --- what the models say -------------------------------------------------------------

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# A boolean parameter with one of these words unlocks a secret.
_UNLOCK_WORDS = frozenset({"decrypt", "decryption", "decrypted", "secret", "secrets", "password", "passwords",
                           "credential", "credentials", "plaintext", "cleartext", "unmask", "reveal"})
# ... and so does a bare `Value(s)`: includeValue, includeValues (not IncludePropertyValues).
_BARE_VALUE = frozenset({"value", "values"})
# A parameter whose first word is one of these hides the secret: unset or false unlocks it.
_HIDE_WORDS = frozenset({"hide", "mask", "redact", "omit", "exclude"})


def unlocking_mode(name: str) -> str | None:
    """'on' when the boolean parameter `name` unlocks secrets when true,
    'off' when it hides them when true (unset unlocks), else None."""
    words = [w.lower() for w in _CAMEL.findall(name)]
    if not words:
        return None
    secret = bool(_UNLOCK_WORDS.intersection(words)) or (len(words) <= 2 and words[-1] in _BARE_VALUE)
    if not secret:
        return None
    return "off" if words[0] in _HIDE_WORDS else "on"


@dataclass(frozen=True)
class _Facts:
    streaming: bool
    sensitive: str | None                 # the first sensitive output path, if any
    unlocking: tuple[tuple[str, str], ...]  # (parameter, mode)


def _sensitive_path(shape) -> str | None:
    seen: set[str] = set()

    def walk(shape, path: str) -> str | None:
        if shape is None:
            return None
        if shape.metadata.get("sensitive"):
            return path or "(the whole output)"
        if shape.name in seen:   # existence is all we need: each shape once
            return None
        seen.add(shape.name)
        kind = shape.type_name
        if kind == "structure":
            for name, member in shape.members.items():
                hit = walk(member, f"{path}.{name}" if path else name)
                if hit:
                    return hit
        elif kind == "list":
            return walk(shape.member, path + "[]")
        elif kind == "map":
            return walk(shape.key, path + "{key}") or walk(shape.value, path + "{}")
        return None
    return walk(shape, "")


def _facts_of(model) -> _Facts:
    inputs = model.input_shape.members if model.input_shape is not None else {}
    unlocking = tuple((name, mode) for name, member in inputs.items()
                      if member.type_name == "boolean" and (mode := unlocking_mode(name)))
    return _Facts(bool(model.has_streaming_output or model.has_event_stream_output),
                  _sensitive_path(model.output_shape), unlocking)


_FACTS: dict[tuple[str, str], _Facts] = {}


def _facts(service: str, operation: str, model) -> _Facts | None:
    key = (service, operation)
    facts = _FACTS.get(key)
    if facts is None:
        if callable(model):          # a provider: only asked when the name rules pass
            try:
                model = model()
            except Exception:
                model = None
        if model is None:
            model = _load(service, operation)
        if model is None:
            # No model: the call cannot be made through botocore either, and
            # the botocore hook checks again with the model before any request.
            return None
        facts = _FACTS[key] = _facts_of(model)
    return facts


def _load(service: str, operation: str):
    from .botomodel import service_model
    try:
        return service_model(service).operation_model(operation)
    except Exception:
        return None


# --- the one exception: CloudTrail's own log files ------------------------------------
# "What changed before it broke" (triage/changes) reads CloudTrail. When
# LookupEvents cannot be used (denied, throttled, not offered by the endpoint)
# the same records are in the log files the account's trail delivers to S3,
# and reading an object is rule (b). s3.GetObject is admitted for exactly that
# and nothing else: only while triage/changes' reader holds `trail_reads()` on
# its own thread (a playbook step, `validate` or any other caller never does),
# only in a bucket and key prefix DescribeTrails named in this process
# (`admit_trail_bucket`), only for keys of CloudTrail's log-file layout
# (TRAIL_LOG_FILE), and with no parameter beyond Bucket and Key. A trail's log
# files are the account's audit record of API calls, not the application's
# data; secrets in their request parameters are masked at the output edge.
TRAIL_LOG_FILE = re.compile(r"AWSLogs/(?:o-[a-z0-9]{10,32}/)?\d{12}/CloudTrail/[a-z]{2}(?:-[a-z]+)+-\d+/"
                            r"\d{4}/\d{2}/\d{2}/[A-Za-z0-9_.-]+\.json\.gz")
_TRAIL_PARAMS = frozenset({"Bucket", "Key", "ChecksumMode", "ExpectedBucketOwner"})  # botocore adds ChecksumMode
_TRAIL_BUCKETS: set[tuple[str, str]] = set()
_TRAIL_LOCK = threading.Lock()
_trail_reader: ContextVar[bool] = ContextVar("triage_trail_reader", default=False)


def _from_changes() -> bool:
    caller = sys._getframe(2).f_globals.get("__name__", "")
    return caller == "triage.changes" or caller.startswith("triage.changes.")


def admit_trail_bucket(bucket: str, prefix: str) -> None:
    """triage/changes only: a bucket and key prefix DescribeTrails named."""
    if not _from_changes():
        raise ReadOnlyViolation("refused: only triage/changes may admit a trail's bucket")
    with _TRAIL_LOCK:
        _TRAIL_BUCKETS.add((bucket, prefix.strip("/")))


class trail_reads:
    """triage/changes only: `with trail_reads():` around the GetObject of a trail's log file."""

    def __enter__(self) -> None:
        if not _from_changes():
            raise ReadOnlyViolation("refused: only triage/changes reads CloudTrail log files")
        self._token = _trail_reader.set(True)

    def __exit__(self, *exc: Any) -> None:
        _trail_reader.reset(self._token)


def _trail_log_file(params: Any) -> bool:
    if not _trail_reader.get() or not isinstance(params, dict) or not set(params) <= _TRAIL_PARAMS:
        return False
    bucket, key = params.get("Bucket"), params.get("Key")
    if not isinstance(bucket, str) or not isinstance(key, str) or params.get("ChecksumMode") not in (None, "ENABLED"):
        return False
    with _TRAIL_LOCK:
        prefixes = [p for b, p in _TRAIL_BUCKETS if b == bucket]
    for prefix in prefixes:
        rest = key if not prefix else (key[len(prefix) + 1:] if key.startswith(prefix + "/") else None)
        if rest is not None and TRAIL_LOG_FILE.fullmatch(rest):
            return True
    return False


# --- the rule ------------------------------------------------------------------------

class Refusal(str):
    """Why a call is refused: 'rule (x) <rule> <detail>: <reason>'; `.rule` is the letter."""

    rule: str
    hint: str

    def __new__(cls, rule: str, reason: str, detail: str = "", hint: str = ""):
        self = super().__new__(cls, f"rule ({rule}) {RULES[rule]}{' ' + detail if detail else ''}: {reason}")
        self.rule = rule
        self.hint = hint or _HINTS[rule]
        return self


_HINTS = {
    "a": "playbooks are read-only; print the change as a fix command instead",
    "b": "playbooks are read-only and read configuration, never the data; read the resource's configuration instead",
    "c": "playbooks are read-only and never read secrets; use a read that returns none",
    "d": "playbooks are read-only and never unlock secrets",
    "e": "playbooks are read-only; this call changes state or mints a credential",
}


def refusal(service: str, operation: str, params: Any = None, model: Any = None) -> Refusal | None:
    """None when `service.operation` called with `params` is a safe read, else
    the Refusal naming the rule and the reason. `params` may hold templates
    (validation): a template for an unlocking parameter is refused. `model`
    is botocore's OperationModel, a function returning it (asked only when
    the name rules pass), or None to load it from botocore's data."""
    key = (service, operation)
    if key == ("s3", "GetObject") and _trail_log_file(params):
        return None    # the one exception: a CloudTrail log file, read by triage/changes (see TRAIL_LOG_FILE)
    if key in SIDE_EFFECTS:
        return Refusal("e", f"it {SIDE_EFFECTS[key]}")
    if key in DATA_PLANE:
        return Refusal("b", f"it returns {DATA_PLANE[key]}; triage reads configuration and telemetry, never the data")
    if not _read_verb(operation):
        return Refusal("a", f"{operation} is not named like a read; triage only calls "
                            f"{'/'.join(READ_PREFIXES)}* operations")
    facts = _facts(service, operation, model)
    if facts is not None and facts.streaming:
        return Refusal("b", "its output is a stream (object, file or media contents); "
                            "triage reads configuration and telemetry, never the data")
    params = params if isinstance(params, dict) else {}
    bad = _unlocking(key, facts, params)
    if bad:
        return bad
    if key in UNMARKED_SECRETS:
        return Refusal("c", f"it returns {UNMARKED_SECRETS[key]}")
    if facts is not None and facts.sensitive and key not in MASKED_METADATA:
        return Refusal("c", f"botocore's model marks {facts.sensitive} sensitive; only reviewed metadata reads "
                            "may return sensitive fields")
    return None


def _unlocking(key: tuple[str, str], facts: _Facts | None, params: dict) -> Refusal | None:
    for name, mode in facts.unlocking if facts is not None else ():
        value = params.get(name)
        if mode == "on" and value is not None and value is not False:
            return Refusal("d", "it makes the call return secrets in clear (decrypted, unmasked)",
                           detail=f"{name} set to {_show(value)}",
                           hint=f"remove `{name}` (or set it to false): playbooks are read-only and never unlock secrets")
        if mode == "off" and value is not True:
            shown = "not set" if value is None else f"set to {_show(value)}"
            return Refusal("d", f"unless {name} is true the call returns secrets in clear",
                           detail=f"{name} {shown}", hint=f"set `{name}` to true in params")
    if key in UNLOCKING_VALUES:
        name, unlocking = UNLOCKING_VALUES[key]
        value = params.get(name)
        if isinstance(value, str) and (value in unlocking or "${" in value):
            return Refusal("d", "it makes the call return secrets in clear", detail=f"{name} set to {_show(value)}",
                           hint=f"ask for another {name}: playbooks are read-only and never unlock secrets")
    return None


def _show(value: Any) -> str:
    if value is True or value is False:
        return str(value).lower()
    if isinstance(value, str) and "${" in value:
        return f"{value} (a template: its value is only known at run time)"
    return repr(value)


def guard(service: str, operation: str, params: Any = None, model: Any = None) -> None:
    """Raise ReadOnlyViolation when `refusal` refuses the call."""
    reason = refusal(service, operation, params, model)
    if reason is not None:
        raise ReadOnlyViolation(f"refused {service}.{operation}: {reason}", reason.hint)


def _read_verb(operation: str) -> bool:
    if _PREFIX_LIES.match(operation):
        return False
    return operation in EXTRA_READS or operation.startswith(READ_PREFIXES)


# Names that hand out secrets or data in the services that have them.
_LEGACY_SECRET_NAMES = frozenset({
    "GetSecretValue", "BatchGetSecretValue", "GetParameter", "GetParameters", "GetParametersByPath",
    "GetSessionToken", "GetFederationToken", "GetAuthorizationToken", "GetPasswordData",
    "GetObject", "GetObjectTorrent", "GetDataKey", "GetCredentialsForIdentity", "GetOpenIdToken",
    "GetClusterCredentials", "GetClusterCredentialsWithIAM", "GetRoleCredentials", "GetTemporaryGlueTableCredentials",
})


def is_read_operation(operation: str) -> bool:
    """Name-only approximation for callers that know no service: rule (a)
    and a few names that are secret reads wherever they occur. The guard is
    `refusal(service, operation, params)`."""
    return operation not in _LEGACY_SECRET_NAMES and _read_verb(operation)
