"""Loopback HTTP proxy that adds latency and injects faults in front of a
moto server (or any HTTP endpoint), so tests and benchmarks go through
botocore's real HTTP stack: signing, connection pooling, keep-alive, timeouts,
response parsing and retries.

Stdlib only. Typical use::

    from moto.server import ThreadedMotoServer
    from triage.testing.proxy import FaultProxy, throttle

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    with FaultProxy((host, port), delay_s=0.02) as proxy:
        proxy.add_fault("FilterLogEvents", throttle(), times=1)
        logs = boto3.client("logs", endpoint_url=proxy.url, ...)
        ...
        assert proxy.count("FilterLogEvents") == 2

How it works: a ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive, TCP_NODELAY)
accepts the client's connections; each request is read completely, recorded,
delayed, matched against the fault rules in order and then either answered by
the fault or forwarded with ``http.client`` to the upstream.  Method, request
target (path + query), headers (including ``Host``, which botocore signed) and
body are forwarded unchanged; only hop-by-hop headers (``Connection``,
``Transfer-Encoding``, ``Expect``, ...) are dropped.  A chunked request body is
de-chunked and sent with a ``Content-Length``.  The upstream response's status,
reason, headers and body go back unchanged except that it is re-framed with a
``Content-Length`` (werkzeug closes every connection, the proxy keeps the
client's connection alive regardless).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import struct
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Callable, Iterable, Union
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape as _xml_escape

__all__ = [
    "FaultProxy",
    "ProxyRequest",
    "Fault",
    "FaultRule",
    "throttle",
    "access_denied",
    "aws_error",
    "server_error",
    "garbage",
    "reset",
    "blackhole",
    "latency",
    "operation_of",
    "protocol_of",
    "service_of",
    "register_rest_routes",
]

log = logging.getLogger(__name__)

# Headers that describe one hop, never forwarded (RFC 9110 7.6.1). "Expect"
# is answered by the proxy itself (100 Continue) before reading the body.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)

_CREDENTIAL_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
_CBOR_PATH_RE = re.compile(r"^/service/([^/]+)/operation/([^/?]+)$")
_REST_XML_SERVICES = frozenset({"s3", "s3control", "route53", "cloudfront"})


# --------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------


@dataclass
class ProxyRequest:
    """One request as seen by the proxy (recorded in ``FaultProxy.requests``
    and passed to callable matchers)."""

    method: str
    path: str  # URL path without the query string, still percent-encoded
    query: str  # raw query string ("" if none)
    headers: dict[str, str]  # lower-cased names
    body: bytes
    time: float  # time.time() at arrival
    monotonic: float  # time.monotonic() at arrival
    client: tuple = ()  # (host, port) of the client's connection
    service: str | None = None  # SigV4 credential scope, e.g. "lambda"
    protocol: str = "rest-json"  # see protocol_of()
    operation: str | None = None  # see operation_of()
    fault: str | None = None  # kind of fault applied, None if forwarded
    status: int | None = None  # status sent to the client (None: no response)
    _params: dict | None = field(default=None, repr=False, compare=False)

    @property
    def target(self) -> str:
        """Request target as sent on the wire: path plus ``?query``."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def params(self) -> dict[str, str]:
        """Query-string parameters merged with form-encoded body parameters
        (first value of each)."""
        if self._params is None:
            params: dict[str, str] = {}
            for k, v in parse_qs(self.query, keep_blank_values=True).items():
                params[k] = v[0]
            ctype = self.headers.get("content-type", "")
            if self.body and "x-www-form-urlencoded" in ctype:
                try:
                    text = self.body.decode("utf-8")
                except UnicodeDecodeError:
                    text = ""
                for k, v in parse_qs(text, keep_blank_values=True).items():
                    params.setdefault(k, v[0])
            self._params = params
        return self._params


def service_of(req: ProxyRequest) -> str | None:
    """Signing name from the SigV4 credential scope (Authorization header or
    presigned ``X-Amz-Credential``), e.g. ``"lambda"``, ``"monitoring"``."""
    auth = req.headers.get("authorization", "")
    m = _CREDENTIAL_RE.search(auth)
    if m:
        return m.group(1)
    if "X-Amz-Credential" in req.query:
        cred = parse_qs(req.query).get("X-Amz-Credential", [""])[0]
        parts = cred.split("/")
        if len(parts) >= 5:
            return parts[3]
    return None


def protocol_of(req: ProxyRequest) -> str:
    """Best-effort botocore protocol of the request: ``"json"``,
    ``"smithy-rpc-v2-cbor"``, ``"query"``, ``"ec2"``, ``"rest-xml"`` or
    ``"rest-json"`` (the fallback)."""
    h = req.headers
    if h.get("smithy-protocol", "").lower() == "rpc-v2-cbor" or (
        h.get("content-type", "").startswith("application/cbor") and _CBOR_PATH_RE.match(req.path)
    ):
        return "smithy-rpc-v2-cbor"
    if "x-amz-target" in h:
        return "json"
    service = req.service if req.service is not None else service_of(req)
    if "Action" in req.params:
        if service == "ec2" or (service is None and req.params.get("Version") == "2016-11-15"):
            return "ec2"
        return "query"
    if service in _REST_XML_SERVICES:
        return "rest-xml"
    return "rest-json"


# --- REST route tables ---------------------------------------------------
#
# One route per line: METHOD /uri-template[?required&query=value] Operation
# [header:name]   ({Name} matches one path segment, {Name+} the rest).
# Lambda: all operations, generated from botocore 1.43's service model.
# S3: the common operations, path-style addressing (what botocore uses for an
# IP-address endpoint_url such as proxy.url).

_LAMBDA_ROUTES = """
POST /2014-11-13/functions/{FunctionName}/invoke-async InvokeAsync
GET /2015-03-31/event-source-mappings ListEventSourceMappings
POST /2015-03-31/event-source-mappings CreateEventSourceMapping
DELETE /2015-03-31/event-source-mappings/{UUID} DeleteEventSourceMapping
GET /2015-03-31/event-source-mappings/{UUID} GetEventSourceMapping
PUT /2015-03-31/event-source-mappings/{UUID} UpdateEventSourceMapping
GET /2015-03-31/functions ListFunctions
POST /2015-03-31/functions CreateFunction
DELETE /2015-03-31/functions/{FunctionName} DeleteFunction
GET /2015-03-31/functions/{FunctionName} GetFunction
GET /2015-03-31/functions/{FunctionName}/aliases ListAliases
POST /2015-03-31/functions/{FunctionName}/aliases CreateAlias
DELETE /2015-03-31/functions/{FunctionName}/aliases/{Name} DeleteAlias
GET /2015-03-31/functions/{FunctionName}/aliases/{Name} GetAlias
PUT /2015-03-31/functions/{FunctionName}/aliases/{Name} UpdateAlias
PUT /2015-03-31/functions/{FunctionName}/code UpdateFunctionCode
GET /2015-03-31/functions/{FunctionName}/configuration GetFunctionConfiguration
PUT /2015-03-31/functions/{FunctionName}/configuration UpdateFunctionConfiguration
POST /2015-03-31/functions/{FunctionName}/invocations Invoke
GET /2015-03-31/functions/{FunctionName}/policy GetPolicy
POST /2015-03-31/functions/{FunctionName}/policy AddPermission
DELETE /2015-03-31/functions/{FunctionName}/policy/{StatementId} RemovePermission
GET /2015-03-31/functions/{FunctionName}/versions ListVersionsByFunction
POST /2015-03-31/functions/{FunctionName}/versions PublishVersion
GET /2016-08-19/account-settings GetAccountSettings
DELETE /2017-03-31/tags/{Resource} UntagResource
GET /2017-03-31/tags/{Resource} ListTags
POST /2017-03-31/tags/{Resource} TagResource
DELETE /2017-10-31/functions/{FunctionName}/concurrency DeleteFunctionConcurrency
PUT /2017-10-31/functions/{FunctionName}/concurrency PutFunctionConcurrency
GET /2018-10-31/layers ListLayers
GET /2018-10-31/layers/{LayerName}/versions ListLayerVersions
POST /2018-10-31/layers/{LayerName}/versions PublishLayerVersion
DELETE /2018-10-31/layers/{LayerName}/versions/{VersionNumber} DeleteLayerVersion
GET /2018-10-31/layers/{LayerName}/versions/{VersionNumber} GetLayerVersion
GET /2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy GetLayerVersionPolicy
POST /2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy AddLayerVersionPermission
DELETE /2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId} RemoveLayerVersionPermission
GET /2018-10-31/layers?find=LayerVersion GetLayerVersionByArn
DELETE /2019-09-25/functions/{FunctionName}/event-invoke-config DeleteFunctionEventInvokeConfig
GET /2019-09-25/functions/{FunctionName}/event-invoke-config GetFunctionEventInvokeConfig
POST /2019-09-25/functions/{FunctionName}/event-invoke-config UpdateFunctionEventInvokeConfig
PUT /2019-09-25/functions/{FunctionName}/event-invoke-config PutFunctionEventInvokeConfig
GET /2019-09-25/functions/{FunctionName}/event-invoke-config/list ListFunctionEventInvokeConfigs
GET /2019-09-30/functions/{FunctionName}/concurrency GetFunctionConcurrency
DELETE /2019-09-30/functions/{FunctionName}/provisioned-concurrency DeleteProvisionedConcurrencyConfig
GET /2019-09-30/functions/{FunctionName}/provisioned-concurrency GetProvisionedConcurrencyConfig
PUT /2019-09-30/functions/{FunctionName}/provisioned-concurrency PutProvisionedConcurrencyConfig
GET /2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL ListProvisionedConcurrencyConfigs
GET /2020-04-22/code-signing-configs ListCodeSigningConfigs
POST /2020-04-22/code-signing-configs CreateCodeSigningConfig
DELETE /2020-04-22/code-signing-configs/{CodeSigningConfigArn} DeleteCodeSigningConfig
GET /2020-04-22/code-signing-configs/{CodeSigningConfigArn} GetCodeSigningConfig
PUT /2020-04-22/code-signing-configs/{CodeSigningConfigArn} UpdateCodeSigningConfig
GET /2020-04-22/code-signing-configs/{CodeSigningConfigArn}/functions ListFunctionsByCodeSigningConfig
DELETE /2020-06-30/functions/{FunctionName}/code-signing-config DeleteFunctionCodeSigningConfig
GET /2020-06-30/functions/{FunctionName}/code-signing-config GetFunctionCodeSigningConfig
PUT /2020-06-30/functions/{FunctionName}/code-signing-config PutFunctionCodeSigningConfig
GET /2021-07-20/functions/{FunctionName}/runtime-management-config GetRuntimeManagementConfig
PUT /2021-07-20/functions/{FunctionName}/runtime-management-config PutRuntimeManagementConfig
DELETE /2021-10-31/functions/{FunctionName}/url DeleteFunctionUrlConfig
GET /2021-10-31/functions/{FunctionName}/url GetFunctionUrlConfig
POST /2021-10-31/functions/{FunctionName}/url CreateFunctionUrlConfig
PUT /2021-10-31/functions/{FunctionName}/url UpdateFunctionUrlConfig
GET /2021-10-31/functions/{FunctionName}/urls ListFunctionUrlConfigs
POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations InvokeWithResponseStream
GET /2024-08-31/functions/{FunctionName}/recursion-config GetFunctionRecursionConfig
PUT /2024-08-31/functions/{FunctionName}/recursion-config PutFunctionRecursionConfig
GET /2025-11-30/capacity-providers ListCapacityProviders
POST /2025-11-30/capacity-providers CreateCapacityProvider
DELETE /2025-11-30/capacity-providers/{CapacityProviderName} DeleteCapacityProvider
GET /2025-11-30/capacity-providers/{CapacityProviderName} GetCapacityProvider
PUT /2025-11-30/capacity-providers/{CapacityProviderName} UpdateCapacityProvider
GET /2025-11-30/capacity-providers/{CapacityProviderName}/function-versions ListFunctionVersionsByCapacityProvider
GET /2025-11-30/functions/{FunctionName}/function-scaling-config GetFunctionScalingConfig
PUT /2025-11-30/functions/{FunctionName}/function-scaling-config PutFunctionScalingConfig
POST /2025-12-01/durable-execution-callbacks/{CallbackId}/fail SendDurableExecutionCallbackFailure
POST /2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat SendDurableExecutionCallbackHeartbeat
POST /2025-12-01/durable-execution-callbacks/{CallbackId}/succeed SendDurableExecutionCallbackSuccess
GET /2025-12-01/durable-executions/{DurableExecutionArn} GetDurableExecution
POST /2025-12-01/durable-executions/{DurableExecutionArn}/checkpoint CheckpointDurableExecution
GET /2025-12-01/durable-executions/{DurableExecutionArn}/history GetDurableExecutionHistory
GET /2025-12-01/durable-executions/{DurableExecutionArn}/state GetDurableExecutionState
POST /2025-12-01/durable-executions/{DurableExecutionArn}/stop StopDurableExecution
GET /2025-12-01/functions/{FunctionName}/durable-executions ListDurableExecutionsByFunction
"""

_S3_ROUTES = """
GET / ListBuckets
PUT /{Bucket} CreateBucket
DELETE /{Bucket} DeleteBucket
HEAD /{Bucket} HeadBucket
GET /{Bucket} ListObjects
GET /{Bucket}?list-type=2 ListObjectsV2
GET /{Bucket}?versions ListObjectVersions
GET /{Bucket}?uploads ListMultipartUploads
POST /{Bucket}?delete DeleteObjects
GET /{Bucket}?location GetBucketLocation
GET /{Bucket}?policy GetBucketPolicy
PUT /{Bucket}?policy PutBucketPolicy
DELETE /{Bucket}?policy DeleteBucketPolicy
GET /{Bucket}?policyStatus GetBucketPolicyStatus
GET /{Bucket}?acl GetBucketAcl
PUT /{Bucket}?acl PutBucketAcl
GET /{Bucket}?encryption GetBucketEncryption
PUT /{Bucket}?encryption PutBucketEncryption
DELETE /{Bucket}?encryption DeleteBucketEncryption
GET /{Bucket}?publicAccessBlock GetPublicAccessBlock
PUT /{Bucket}?publicAccessBlock PutPublicAccessBlock
DELETE /{Bucket}?publicAccessBlock DeletePublicAccessBlock
GET /{Bucket}?versioning GetBucketVersioning
PUT /{Bucket}?versioning PutBucketVersioning
GET /{Bucket}?tagging GetBucketTagging
PUT /{Bucket}?tagging PutBucketTagging
DELETE /{Bucket}?tagging DeleteBucketTagging
GET /{Bucket}?notification GetBucketNotificationConfiguration
PUT /{Bucket}?notification PutBucketNotificationConfiguration
GET /{Bucket}?lifecycle GetBucketLifecycleConfiguration
PUT /{Bucket}?lifecycle PutBucketLifecycleConfiguration
DELETE /{Bucket}?lifecycle DeleteBucketLifecycle
GET /{Bucket}?cors GetBucketCors
PUT /{Bucket}?cors PutBucketCors
DELETE /{Bucket}?cors DeleteBucketCors
GET /{Bucket}?logging GetBucketLogging
PUT /{Bucket}?logging PutBucketLogging
GET /{Bucket}?ownershipControls GetBucketOwnershipControls
PUT /{Bucket}?ownershipControls PutBucketOwnershipControls
DELETE /{Bucket}?ownershipControls DeleteBucketOwnershipControls
GET /{Bucket}?website GetBucketWebsite
PUT /{Bucket}?website PutBucketWebsite
DELETE /{Bucket}?website DeleteBucketWebsite
GET /{Bucket}?replication GetBucketReplication
PUT /{Bucket}?replication PutBucketReplication
DELETE /{Bucket}?replication DeleteBucketReplication
GET /{Bucket}?object-lock GetObjectLockConfiguration
PUT /{Bucket}?object-lock PutObjectLockConfiguration
GET /{Bucket}/{Key+} GetObject
HEAD /{Bucket}/{Key+} HeadObject
PUT /{Bucket}/{Key+} PutObject
PUT /{Bucket}/{Key+} CopyObject header:x-amz-copy-source
DELETE /{Bucket}/{Key+} DeleteObject
POST /{Bucket}/{Key+}?uploads CreateMultipartUpload
PUT /{Bucket}/{Key+}?partNumber&uploadId UploadPart
PUT /{Bucket}/{Key+}?partNumber&uploadId UploadPartCopy header:x-amz-copy-source
POST /{Bucket}/{Key+}?uploadId CompleteMultipartUpload
DELETE /{Bucket}/{Key+}?uploadId AbortMultipartUpload
GET /{Bucket}/{Key+}?uploadId ListParts
GET /{Bucket}/{Key+}?acl GetObjectAcl
PUT /{Bucket}/{Key+}?acl PutObjectAcl
GET /{Bucket}/{Key+}?tagging GetObjectTagging
PUT /{Bucket}/{Key+}?tagging PutObjectTagging
DELETE /{Bucket}/{Key+}?tagging DeleteObjectTagging
GET /{Bucket}/{Key+}?attributes GetObjectAttributes
POST /{Bucket}/{Key+}?restore RestoreObject
GET /{Bucket}/{Key+}?retention GetObjectRetention
PUT /{Bucket}/{Key+}?retention PutObjectRetention
GET /{Bucket}/{Key+}?legal-hold GetObjectLegalHold
PUT /{Bucket}/{Key+}?legal-hold PutObjectLegalHold
"""


@dataclass(frozen=True)
class _Route:
    method: str
    regex: re.Pattern
    query: tuple  # ((key, value-or-None), ...)
    header: str | None
    operation: str
    specificity: tuple


def _compile_template(template: str) -> re.Pattern:
    out, pos = [], 0
    for m in re.finditer(r"\{([^}]+)\}", template):
        out.append(re.escape(template[pos : m.start()]))
        out.append(".+" if m.group(1).endswith("+") else "[^/]+")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    body = "".join(out)
    if template != "/":
        body += "/?"
    return re.compile(f"^{body}$")


def _parse_routes(text: str | Iterable[str]) -> list[_Route]:
    lines = text.splitlines() if isinstance(text, str) else list(text)
    routes = []
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        method, uri, op = parts[0].upper(), parts[1], parts[2]
        header = None
        for extra in parts[3:]:
            if extra.startswith("header:"):
                header = extra[len("header:") :].lower()
        path, _, qs = uri.partition("?")
        query = []
        for item in filter(None, qs.split("&")):
            k, eq, v = item.partition("=")
            query.append((k, v if eq else None))
        literal = len(re.sub(r"\{[^}]+\}", "", path))
        spec = (len(query) + (header is not None), literal)
        routes.append(_Route(method, _compile_template(path), tuple(query), header, op, spec))
    return routes


_REST_ROUTES: dict[str, list[_Route]] = {
    "lambda": _parse_routes(_LAMBDA_ROUTES),
    "s3": _parse_routes(_S3_ROUTES),
}
_REST_ROUTES_LOCK = threading.Lock()


def register_rest_routes(service: str, routes: str | Iterable[str]) -> None:
    """Teach ``operation_of`` the REST routes of another service (its SigV4
    signing name), in the route-table format above, e.g.
    ``register_rest_routes("apigateway", "GET /restapis GetRestApis")``."""
    parsed = _parse_routes(routes)
    with _REST_ROUTES_LOCK:
        _REST_ROUTES[service] = _REST_ROUTES.get(service, []) + parsed


def _match_rest(routes: list[_Route], req: ProxyRequest) -> str | None:
    query = parse_qs(req.query, keep_blank_values=True)
    best: _Route | None = None
    for r in routes:
        if r.method != req.method or not r.regex.match(req.path):
            continue
        if r.header is not None and r.header not in req.headers:
            continue
        if any(k not in query or (v is not None and v not in query[k]) for k, v in r.query):
            continue
        if best is None or r.specificity > best.specificity:
            best = r
    return best.operation if best else None


def operation_of(req: ProxyRequest) -> str | None:
    """Best-effort AWS operation name of a request.

    * JSON (logs, ecs, dynamodb, ...): last dotted part of ``X-Amz-Target``
      (``Logs_20140328.FilterLogEvents`` -> ``FilterLogEvents``).
    * Smithy RPCv2 CBOR (cloudwatch in botocore >= 1.4x): the path
      ``/service/<Service>/operation/<Operation>``.
    * query / ec2 (iam, sts, ec2, ...): ``Action`` in the query string or the
      form-encoded body.
    * REST (lambda, s3 path-style, anything registered with
      ``register_rest_routes``): method + path template (+ required query
      keys / headers) of the service named in the SigV4 credential scope; an
      unsigned request is tried against the Lambda table only.

    Returns None when nothing matches; match such requests with
    ``add_fault(method=..., path=<regex>)`` instead.
    """
    h = req.headers
    m = _CBOR_PATH_RE.match(req.path)
    if m and (h.get("smithy-protocol") or h.get("content-type", "").startswith("application/cbor")):
        return m.group(2)
    target = h.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1]
    action = req.params.get("Action")
    if action:
        return action
    service = req.service if req.service is not None else service_of(req)
    with _REST_ROUTES_LOCK:
        routes = _REST_ROUTES.get(service or "lambda")
    if routes:
        return _match_rest(routes, req)
    return None


# --------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------

_DEFAULT_THROTTLE = {
    # protocol: (code, status)
    "json": ("ThrottlingException", 400),
    "smithy-rpc-v2-cbor": ("ThrottlingException", 400),
    "query": ("Throttling", 400),
    "ec2": ("RequestLimitExceeded", 503),
    "rest-json": ("TooManyRequestsException", 429),
    "rest-xml": ("SlowDown", 503),
}
_DEFAULT_DENIED = {
    "json": "AccessDeniedException",
    "smithy-rpc-v2-cbor": "AccessDeniedException",
    "query": "AccessDenied",
    "ec2": "UnauthorizedOperation",
    "rest-json": "AccessDeniedException",
    "rest-xml": "AccessDenied",
}
_CODE_STATUS = {"TooManyRequestsException": 429, "SlowDown": 503, "RequestLimitExceeded": 503}


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or before) forwarding. Build with the helper
    functions (``throttle()``, ``reset()``, ...)."""

    kind: str  # throttle | access_denied | error | server_error | garbage | reset | blackhole | latency
    code: str | None = None
    status: int | None = None
    message: str = ""
    body: bytes | None = None
    headers: tuple = ()
    seconds: float | None = None


def throttle(code: str | None = None, status: int | None = None, message: str = "Rate exceeded") -> Fault:
    """Throttling error formatted for the request's protocol.

    Defaults per protocol: json/cbor ``ThrottlingException`` 400, query
    ``Throttling`` 400, ec2 ``RequestLimitExceeded`` 503, rest-json (Lambda)
    ``TooManyRequestsException`` 429, rest-xml (S3) ``SlowDown`` 503.  With an
    explicit ``code`` the status defaults to 429/503 for the codes above and
    400 otherwise.  All of these are throttling codes for botocore's retry
    handlers."""
    return Fault("throttle", code=code, status=status, message=message)


def access_denied(
    code: str | None = None, message: str = "User is not authorized to perform this operation", status: int = 403
) -> Fault:
    """403 error formatted for the protocol; code defaults to
    ``AccessDeniedException`` (json/cbor/rest-json), ``AccessDenied``
    (query, rest-xml) or ``UnauthorizedOperation`` (ec2)."""
    return Fault("access_denied", code=code, status=status, message=message)


def aws_error(code: str, status: int = 400, message: str = "") -> Fault:
    """Any AWS error code, formatted for the request's protocol."""
    return Fault("error", code=code, status=status, message=message)


def server_error(status: int = 500, body: bytes = b"", code: str | None = None, message: str = "") -> Fault:
    """5xx response. By default with an empty body, which botocore reports as
    a generic error whose code is the status (``"500"``); pass ``code`` for a
    protocol-formatted body (e.g. ``code="InternalFailure"``) or ``body`` for
    raw bytes (e.g. an HTML load-balancer page)."""
    return Fault("server_error", code=code, status=status, message=message, body=body)


def garbage(status: int = 200, body: bytes = b"\x00not xml", content_type: str | None = None) -> Fault:
    """A response with an unparseable body. XML protocols (query, ec2,
    rest-xml) raise ``botocore.parsers.ResponseParserError``; botocore's JSON
    parsers tolerate non-JSON bodies (they turn them into a message) and
    return an almost-empty result instead."""
    headers = (("Content-Type", content_type),) if content_type else ()
    return Fault("garbage", status=status, body=body, headers=headers)


def reset() -> Fault:
    """Read the request, then close the connection with a TCP RST (SO_LINGER
    0) without a response -> ``botocore.exceptions.ConnectionClosedError``."""
    return Fault("reset")


def blackhole(seconds: float | None = None) -> Fault:
    """Read the request and never answer: hold the connection until
    ``stop()`` (or ``seconds``), then close it. Pair with a client
    ``read_timeout`` -> ``botocore.exceptions.ReadTimeoutError``."""
    return Fault("blackhole", seconds=seconds)


def latency(seconds: float) -> Fault:
    """Extra delay for matching requests only, then forward normally."""
    return Fault("latency", seconds=seconds)


Matcher = Union[str, Callable[[ProxyRequest], bool], None]


@dataclass
class FaultRule:
    """A fault rule as returned by ``FaultProxy.add_fault``."""

    match: Matcher
    fault: Fault
    times: int | None
    method: str | None = None
    path: re.Pattern | None = None
    service: str | None = None
    hits: int = 0

    @property
    def remaining(self) -> int | None:
        return None if self.times is None else max(self.times - self.hits, 0)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, req: ProxyRequest) -> bool:
        if self.method is not None and req.method != self.method:
            return False
        if self.service is not None and req.service != self.service:
            return False
        if self.path is not None and not self.path.search(req.path):
            return False
        if self.match is None:
            return True
        if isinstance(self.match, str):
            return req.operation == self.match
        return bool(self.match(req))


def _cbor_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    if n < 0x100:
        return bytes([major << 5 | 24, n])
    if n < 0x10000:
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
    return bytes([major << 5 | 26]) + n.to_bytes(4, "big")


def _cbor_text_map(d: dict[str, str]) -> bytes:
    out = [_cbor_head(5, len(d))]
    for k, v in d.items():
        for s in (k, v):
            b = s.encode("utf-8")
            out.append(_cbor_head(3, len(b)) + b)
    return b"".join(out)


def _render_error(req: ProxyRequest, code: str, status: int, message: str) -> tuple[list, bytes]:
    """(headers, body) of an AWS error response in the request's protocol."""
    rid = str(uuid.uuid4())
    proto = req.protocol
    if proto == "json":
        ctype = req.headers.get("content-type", "")
        if not ctype.startswith("application/x-amz-json"):
            ctype = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message}).encode()
        return [("x-amzn-RequestId", rid), ("x-amzn-ErrorType", code), ("Content-Type", ctype)], body
    if proto == "smithy-rpc-v2-cbor":
        body = _cbor_text_map({"__type": code, "message": message})
        return [
            ("x-amzn-RequestId", rid),
            ("Smithy-Protocol", "rpc-v2-cbor"),
            ("Content-Type", "application/cbor"),
        ], body
    if proto == "rest-json":
        body = json.dumps({"Type": "User" if status < 500 else "Service", "message": message}).encode()
        return [("x-amzn-RequestId", rid), ("x-amzn-ErrorType", code), ("Content-Type", "application/json")], body
    c, m = _xml_escape(code), _xml_escape(message)
    if proto == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{c}</Code><Message>{m}</Message></Error></Errors>"
            f"<RequestID>{rid}</RequestID></Response>"
        )
        return [("Content-Type", "text/xml;charset=UTF-8")], body.encode()
    if proto == "rest-xml":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{c}</Code><Message>{m}</Message><RequestId>{rid}</RequestId>"
            "<HostId>triage-proxy</HostId></Error>"
        )
        return [
            ("x-amz-request-id", rid),
            ("x-amz-id-2", "triage-proxy"),
            ("Content-Type", "application/xml"),
        ], body.encode()
    # query
    kind = "Sender" if status < 500 else "Receiver"
    body = (
        f"<ErrorResponse><Error><Type>{kind}</Type><Code>{c}</Code><Message>{m}</Message></Error>"
        f"<RequestId>{rid}</RequestId></ErrorResponse>"
    )
    return [("x-amzn-RequestId", rid), ("Content-Type", "text/xml")], body.encode()


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, addr, handler, proxy: "FaultProxy"):
        self.proxy = proxy
        self._conn_lock = threading.Lock()
        self._conns: dict[threading.Thread, socket.socket] = {}
        self._closing = False
        super().__init__(addr, handler)

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); skip it.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port

    def process_request(self, request, client_address):
        with self._conn_lock:
            if self._closing:
                self.shutdown_request(request)
                return
            t = threading.Thread(
                target=self._run_connection,
                args=(request, client_address),
                name=f"triage-proxy-conn-{client_address[1]}",
                daemon=True,
            )
            self._conns[t] = request
        t.start()

    def _run_connection(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._conn_lock:
                self._conns.pop(threading.current_thread(), None)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, http.client.HTTPException)):
            log.debug("proxy connection %s ended: %r", client_address, exc)
        else:
            log.warning("proxy connection %s failed", client_address, exc_info=True)

    def close_connections(self) -> list[threading.Thread]:
        with self._conn_lock:
            self._closing = True
            conns = dict(self._conns)
        for sock in conns.values():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return list(conns)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "triage-proxy"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self):
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None

    def finish(self):
        try:
            super().finish()
        finally:
            if self._upstream is not None:
                self.server.proxy._forget_upstream(self._upstream)
                self._upstream.close()

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)

    # -- request ---------------------------------------------------------

    def _read_body(self) -> tuple[bytes, bool]:
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("client closed mid-body")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # discard trailers
                    return b"".join(chunks), True
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length:
            n = int(length)
            body = self.rfile.read(n)
            if len(body) != n:
                raise ConnectionError("client closed mid-body")
            return body, False
        return b"", False

    def _serve(self):
        proxy = self.server.proxy
        try:
            body, chunked = self._read_body()
        except ValueError:
            self.send_error(400, "Bad request body")
            self.close_connection = True
            return
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form (used as an HTTP proxy)
            parts = urlsplit(target)
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
        path, _, query = target.partition("?")
        now_wall, now_mono = time.time(), time.monotonic()
        req = ProxyRequest(
            method=self.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            time=now_wall,
            monotonic=now_mono,
            client=tuple(self.client_address[:2]),
        )
        req.service = service_of(req)
        req.protocol = protocol_of(req)
        try:
            req.operation = operation_of(req)
        except Exception:  # best effort, never fail a request over it
            log.debug("operation_of failed", exc_info=True)
        proxy._record(req)

        delay = proxy.delay_s
        if delay and delay > 0 and proxy._stopping.wait(delay):
            self.close_connection = True
            return

        rule = proxy._take_rule(req)
        fault = rule.fault if rule else None
        if fault is not None and fault.kind != "latency":
            req.fault = fault.kind
            self._apply_fault(req, fault)
            return
        if fault is not None:  # latency
            req.fault = fault.kind
            if proxy._stopping.wait(fault.seconds or 0):
                self.close_connection = True
                return
        self._forward(req, chunked)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve

    # -- responses ---------------------------------------------------------

    def _send(self, req: ProxyRequest, status: int, headers: list, body: bytes, reason: str | None = None):
        self.send_response_only(status, reason)
        no_body = status < 200 or status in (204, 304)
        for k, v in headers:
            self.send_header(k, v)
        if not no_body:
            if req.method == "HEAD":
                self.send_header("Content-Length", "0")
            else:
                self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        req.status = status  # before the client can see the response
        self.end_headers()
        if body and not no_body and req.method != "HEAD":
            self.wfile.write(body)

    def _apply_fault(self, req: ProxyRequest, fault: Fault):
        proxy = self.server.proxy
        kind = fault.kind
        if kind in ("throttle", "access_denied", "error"):
            if kind == "throttle":
                code, status = _DEFAULT_THROTTLE.get(req.protocol, _DEFAULT_THROTTLE["json"])
                if fault.code is not None:
                    code, status = fault.code, _CODE_STATUS.get(fault.code, 400)
                if fault.status is not None:
                    status = fault.status
            elif kind == "access_denied":
                code = fault.code or _DEFAULT_DENIED.get(req.protocol, "AccessDenied")
                status = fault.status or 403
            else:
                code, status = fault.code or "InternalFailure", fault.status or 400
            headers, body = _render_error(req, code, status, fault.message)
            self._send(req, status, headers, body)
        elif kind == "server_error":
            status = fault.status or 500
            if fault.code:
                headers, body = _render_error(req, fault.code, status, fault.message)
            else:
                headers, body = [], fault.body or b""
                if body:
                    headers.append(("Content-Type", "text/html"))
            self._send(req, status, headers, body)
        elif kind == "garbage":
            headers = list(fault.headers)
            if not headers:
                xml = req.protocol in ("query", "ec2", "rest-xml")
                headers = [("Content-Type", "text/xml" if xml else "application/octet-stream")]
            self._send(req, fault.status or 200, headers, fault.body if fault.body is not None else b"")
        elif kind == "reset":
            self._abort()
        elif kind == "blackhole":
            proxy._stopping.wait(fault.seconds)
            self.close_connection = True
        else:  # pragma: no cover - Fault built by hand with an unknown kind
            raise ValueError(f"unknown fault kind {kind!r}")

    def _abort(self):
        """Close the client connection with an RST, no response."""
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()  # drop makefile()'s reference so close() is real
        except OSError:
            pass
        sock.close()

    def _upstream_conn(self) -> http.client.HTTPConnection:
        if self._upstream is None:
            proxy = self.server.proxy
            host, port = proxy.upstream
            self._upstream = http.client.HTTPConnection(host, port, timeout=proxy.upstream_timeout)
            proxy._remember_upstream(self._upstream)
        return self._upstream

    def _forward(self, req: ProxyRequest, chunked: bool):
        proxy = self.server.proxy
        drop = set(_HOP_BY_HOP)
        for token in self.headers.get("Connection", "").split(","):
            drop.add(token.strip().lower())
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in drop]
        if chunked:
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(req.body))))
        for attempt in (0, 1):
            conn = self._upstream_conn()
            reused = conn.sock is not None
            try:
                conn.putrequest(req.method, req.target, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders(req.body or None)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if attempt == 0 and reused and not proxy._stopping.is_set():
                    continue  # stale keep-alive connection to the upstream
                return self._upstream_failed(req, exc)
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                return self._upstream_failed(req, exc)
        self.send_response_only(resp.status, resp.reason)
        no_body = resp.status < 200 or resp.status in (204, 304)
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in _HOP_BY_HOP or lk == "content-length":
                continue
            self.send_header(k, v)
        if not no_body:
            if req.method == "HEAD":
                cl = resp.getheader("Content-Length")
                if cl is not None:
                    self.send_header("Content-Length", cl)
            else:
                self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        req.status = resp.status  # before the client can see the response
        self.end_headers()
        if data and not no_body and req.method != "HEAD":
            self.wfile.write(data)

    def _upstream_failed(self, req: ProxyRequest, exc: BaseException):
        if self.server.proxy._stopping.is_set():
            self.close_connection = True
            return
        log.warning("upstream request %s %s failed: %r", req.method, req.target, exc)
        self._send(req, 502, [], b"")


class FaultProxy:
    """Loopback HTTP proxy with per-request delay and fault injection.

    ``upstream``: ``"http://host:port"`` or ``(host, port)`` of the real
    endpoint (e.g. ``ThreadedMotoServer.get_host_and_port()``).
    ``delay_s``: seconds added to every request before it is matched or
    forwarded (may be changed at any time).  ``upstream_timeout``: socket
    timeout of the proxy's own upstream connections.
    """

    def __init__(
        self,
        upstream: str | tuple[str, int],
        *,
        delay_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        upstream_timeout: float = 60.0,
    ):
        if isinstance(upstream, str):
            parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
            if parts.scheme != "http":
                raise ValueError("only http:// upstreams are supported")
            upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.upstream: tuple[str, int] = (upstream[0], int(upstream[1]))
        self.delay_s = float(delay_s)
        self.upstream_timeout = upstream_timeout
        self._bind = (host, port)
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._requests: list[ProxyRequest] = []
        self._upstreams: set[http.client.HTTPConnection] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "FaultProxy":
        if self._server is not None:
            raise RuntimeError("proxy already started")
        self._stopping.clear()
        self._server = _Server(self._bind, _Handler, self)
        self._address = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"triage-proxy-{self._address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, wake blocked handlers (delays, blackholes, idle
        keep-alive connections, upstream calls) and join every thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout)
        conn_threads = server.close_connections()
        with self._lock:
            upstreams = list(self._upstreams)
        for conn in upstreams:
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        deadline = time.monotonic() + timeout
        for t in conn_threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._server = self._thread = None
        leftover = [t.name for t in conn_threads if t.is_alive()]
        if thread is not None and thread.is_alive():
            leftover.append(thread.name)
        if leftover:
            raise RuntimeError(f"proxy threads still running after stop(): {leftover}")

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> tuple[str, int]:
        if self._address is None:
            raise RuntimeError("proxy not started")
        return self._address

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def url(self) -> str:
        """``endpoint_url`` for boto3 clients."""
        host, port = self.address
        return f"http://{host}:{port}"

    # -- faults ------------------------------------------------------------

    def add_fault(
        self,
        match: Matcher = None,
        fault: Fault | None = None,
        *,
        times: int | None = None,
        method: str | None = None,
        path: str | re.Pattern | None = None,
        service: str | None = None,
    ) -> FaultRule:
        """Add a rule; rules are tried in insertion order and the first
        matching, non-exhausted one is applied (one fault per request).

        ``match``: operation name (compared with ``operation_of``), a
        callable ``(ProxyRequest) -> bool``, or None for any request.
        ``method`` / ``path`` (regex searched in the URL path, no query) /
        ``service`` (SigV4 signing name) further restrict it, all ANDed.
        ``times``: apply to the first n matching requests, None = always.
        """
        if fault is None:
            raise TypeError("add_fault() needs a fault, e.g. throttle()")
        if isinstance(path, str):
            path = re.compile(path)
        rule = FaultRule(
            match=match,
            fault=fault,
            times=times,
            method=method.upper() if method else None,
            path=path,
            service=service,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove_fault(self, rule: FaultRule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def faults(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def _take_rule(self, req: ProxyRequest) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.exhausted:
                    continue
                try:
                    hit = rule.matches(req)
                except Exception:
                    log.warning("fault matcher %r raised; treated as no match", rule.match, exc_info=True)
                    hit = False
                if hit:
                    rule.hits += 1
                    return rule
        return None

    # -- request log -----------------------------------------------------

    def _record(self, req: ProxyRequest) -> None:
        with self._lock:
            self._requests.append(req)

    @property
    def requests(self) -> list[ProxyRequest]:
        """Snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def count(self, match: Matcher = None) -> int:
        """Number of requests for an operation name / matching a callable
        (all requests if None)."""
        reqs = self.requests
        if match is None:
            return len(reqs)
        if isinstance(match, str):
            return sum(1 for r in reqs if r.operation == match)
        return sum(1 for r in reqs if match(r))

    def operations(self) -> list[str | None]:
        return [r.operation for r in self.requests]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- upstream bookkeeping (for stop()) ---------------------------------

    def _remember_upstream(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._upstreams.add(conn)

    def _forget_upstream(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._upstreams.discard(conn)
