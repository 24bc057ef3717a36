"""Loopback HTTP proxy that adds latency and injects faults in front of a
moto server (or any HTTP endpoint), so tests and benchmarks go through
botocore's real HTTP stack: signing, connection pooling, keep-alive, timeouts,
response parsing and retries.

Stdlib only, plus botocore's service models (loaded lazily) to name the
operation of a REST request. Typical use::

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

import gzip
import http.client
import json
import logging
import os
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
from typing import Callable, Union
from urllib.parse import parse_qs, unquote, urlsplit
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
    if service is None:
        return "rest-json"
    try:  # from the botocore models of the services signing as ``service``
        protocols = {p for _, p in _rest_services(service)}
        if len(protocols) > 1:  # none today; the operation's own service decides
            route = _match_rest(req)
            protocols = {route.protocol} if route else protocols
    except Exception:
        log.debug("REST protocol lookup failed", exc_info=True)
        return "rest-json"
    return "rest-xml" if protocols == {"rest-xml"} else "rest-json"


# --- REST operations, derived from botocore's service models --------------
#
# A REST request (rest-json: lambda, apigateway, eks, ...; rest-xml: s3,
# s3control, route53, cloudfront) carries no operation name. It is named by
# matching its method, path and query against each operation's
# ``http.method`` / ``http.requestUri`` (``{Label}`` = one path segment,
# ``{Label+}`` = the rest, ``?key`` / ``?key=value`` = required query) in the
# botocore models of the services that sign with the request's SigV4 name.
# Models are loaded on first use and cached per service; nothing is
# hand-maintained, a newer botocore brings its new routes along.

_REST_PROTOCOLS = ("rest-json", "rest-xml")
_METADATA_RE = re.compile(r'"metadata"\s*:\s*')
_MODELS_LOCK = threading.RLock()
_models_session = None  # botocore Session, created on first use
_signing_index: dict[str, tuple[tuple[str, str], ...]] | None = None
_service_routes: dict[str, dict[str, tuple["_Route", ...]]] = {}


@dataclass(frozen=True)
class _Route:
    service: str  # botocore service name, e.g. "s3control"
    protocol: str  # "rest-json" or "rest-xml"
    operation: str
    method: str
    regex: re.Pattern  # matched against the path as returned by _plain_path()
    query: tuple  # literal query of the requestUri: ((key, value-or-None), ...)
    required_query: tuple  # names of the required querystring members
    required_headers: tuple  # lower-cased names of the required header members
    known_query: frozenset  # every query key the operation may send
    literal: int  # literal path segments + literal query keys
    trailing_slash: bool  # the requestUri path ends with "/"
    greedy: int
    literal_chars: int
    deprecated: bool


def _botocore_session():
    # A session of our own, never used for clients: a client rewrites its
    # session's cached S3 model in place (remove_bucket_from_url_paths_from_model
    # drops the leading "/{Bucket}" of every requestUri).
    global _models_session
    if _models_session is None:
        import botocore.session

        _models_session = botocore.session.get_session()
    return _models_session


def _service_metadata(loader, name: str) -> dict:
    """A service-2 model's ``metadata``, parsed from the first 16 KiB of the
    file the loader would read (models put it right after ``"version"``):
    indexing the signing names of 400+ services this way takes ~0.1 s where
    loading every whole model takes seconds. Falls back to the whole model."""
    version = loader.determine_latest_version(name, "service-2")
    for root in loader.search_paths:
        base = os.path.join(root, name, version, "service-2")
        for ext, opener in ((".json", open), (".json.gz", gzip.open)):
            if not os.path.isfile(base + ext):
                continue
            with opener(base + ext, "rb") as fp:
                head = fp.read(16384).decode("utf-8", "replace")
            m = _METADATA_RE.search(head)
            if m:
                try:
                    meta = json.JSONDecoder().raw_decode(head, m.end())[0]
                except ValueError:
                    meta = None
                if isinstance(meta, dict) and ("protocol" in meta or "protocols" in meta):
                    return meta
            return loader.load_service_model(name, "service-2").get("metadata", {})
    return loader.load_service_model(name, "service-2").get("metadata", {})


def _rest_services(signing_name: str) -> tuple[tuple[str, str], ...]:
    """``((botocore service name, protocol), ...)`` of the REST services whose
    SigV4 signing name (``signingName``, else ``endpointPrefix``) is
    ``signing_name``, e.g. ``"s3"`` -> s3 and s3control, ``"apigateway"`` ->
    apigateway and apigatewayv2, ``"es"`` -> es and opensearch,
    ``"execute-api"`` -> apigatewaymanagementapi and connectparticipant."""
    global _signing_index
    with _MODELS_LOCK:
        if _signing_index is None:
            index: dict[str, list[tuple[str, str]]] = {}
            loader = _botocore_session().get_component("data_loader")
            for name in sorted(loader.list_available_services("service-2")):
                try:
                    meta = _service_metadata(loader, name)
                except Exception:
                    log.debug("no metadata for botocore service %s", name, exc_info=True)
                    continue
                protocols = [meta.get("protocol"), *(meta.get("protocols") or ())]
                rest = [p for p in protocols if p in _REST_PROTOCOLS]
                if rest:
                    signing = meta.get("signingName") or meta.get("endpointPrefix") or name
                    index.setdefault(signing, []).append((name, rest[0]))
            _signing_index = {k: tuple(v) for k, v in index.items()}
        return _signing_index.get(signing_name, ())


def _compile_template(path: str) -> re.Pattern:
    """Regex of a requestUri path: ``{Name}`` one segment, ``{Name+}`` at
    least one character of anything; an optional trailing slash."""
    path = path.rstrip("/") or "/"
    out, pos = [], 0
    for m in re.finditer(r"\{([^}]+)\}", path):
        out.append(re.escape(unquote(path[pos : m.start()])))
        out.append(".+" if m.group(1).endswith("+") else "[^/]+")
        pos = m.end()
    out.append(re.escape(unquote(path[pos:])))
    body = "".join(out)
    if path != "/":
        body += "/?"
    return re.compile(f"^{body}$", re.DOTALL)


def _plain_path(path: str) -> str:
    """Percent-decoded URL path, except ``%2F`` (a ``/`` inside one label),
    so literal parts match however the client encoded them."""
    return unquote(re.sub(r"%2[fF]", "%252F", path))


def _compile_route(service: str, protocol: str, op) -> _Route | None:
    http_ = op.http or {}
    method, uri = http_.get("method"), http_.get("requestUri")
    if not method or not uri:
        return None
    path, _, qs = uri.partition("?")
    query = []
    for item in filter(None, qs.split("&")):
        k, eq, v = item.partition("=")
        query.append((unquote(k), unquote(v) if eq else None))
    known = {k for k, _ in query}
    required_query, required_headers = [], []
    shape = op.input_shape
    if shape is not None:
        required = set(shape.required_members)
        for member_name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", member_name)
            if location == "querystring" and member.type_name != "map":
                known.add(wire)
                if member_name in required:
                    required_query.append(wire)
            elif location == "header" and member_name in required:
                required_headers.append(wire.lower())
    segments = [s for s in path.split("/") if s]
    return _Route(
        service=service,
        protocol=protocol,
        operation=op.name,
        method=method.upper(),
        regex=_compile_template(path),
        query=tuple(query),
        required_query=tuple(required_query),
        required_headers=tuple(required_headers),
        known_query=frozenset(known),
        literal=sum(1 for s in segments if "{" not in s) + len(query),
        trailing_slash=path != "/" and path.endswith("/"),
        greedy=path.count("+}"),
        literal_chars=len(re.sub(r"\{[^}]+\}", "", path)),
        deprecated=bool(getattr(op, "deprecated", False)),
    )


def _routes(service: str, protocol: str) -> dict[str, tuple[_Route, ...]]:
    """Routes of one botocore service by HTTP method (loaded once)."""
    with _MODELS_LOCK:
        routes = _service_routes.get(service)
        if routes is None:
            model = _botocore_session().get_service_model(service)
            by_method: dict[str, list[_Route]] = {}
            for name in model.operation_names:
                route = _compile_route(service, protocol, model.operation_model(name))
                if route is not None:
                    by_method.setdefault(route.method, []).append(route)
            routes = _service_routes[service] = {k: tuple(v) for k, v in by_method.items()}
        return routes


def _match_rest(req: ProxyRequest) -> _Route | None:
    """The most specific route of the request's signing name (Lambda's for an
    unsigned request) that its method, path and literal query match.

    Specificity, most important first: more literal parts of the requestUri
    (path segments, query keys such as ``?policy`` or ``list-type=2``); fewer
    required querystring / header members missing; more of them present
    (``uploadId``, ``x-amz-copy-source``); a trailing slash as in the
    requestUri; fewer query keys the operation doesn't know; fewer greedy
    labels; more literal characters; not deprecated (GetBucketLifecycle vs
    GetBucketLifecycleConfiguration); a service whose name is the signing
    name; then the first in the model's order."""
    signing = req.service if req.service is not None else service_of(req)
    signing = signing or "lambda"
    services = _rest_services(signing)
    if not services:
        return None
    path = _plain_path(req.path)
    slash = path != "/" and path.endswith("/")
    query = parse_qs(req.query, keep_blank_values=True)
    best, best_key = None, None
    for name, protocol in services:
        for r in _routes(name, protocol).get(req.method, ()):
            if not r.regex.match(path):
                continue
            if any(k not in query or (v is not None and v not in query[k]) for k, v in r.query):
                continue
            present = sum(k in query for k in r.required_query) + sum(h in req.headers for h in r.required_headers)
            missing = len(r.required_query) + len(r.required_headers) - present
            unknown = sum(1 for k in query if k not in r.known_query)
            key = (
                r.literal,
                -missing,
                present,
                r.trailing_slash == slash,
                -unknown,
                -r.greedy,
                r.literal_chars,
                not r.deprecated,
                name == signing,
            )
            if best_key is None or key > best_key:
                best, best_key = r, key
    return best


def operation_of(req: ProxyRequest) -> str | None:
    """Best-effort AWS operation name of a request.

    * JSON (logs, ecs, dynamodb, ...): last dotted part of ``X-Amz-Target``
      (``Logs_20140328.FilterLogEvents`` -> ``FilterLogEvents``).
    * Smithy RPCv2 CBOR (cloudwatch in botocore >= 1.4x): the path
      ``/service/<Service>/operation/<Operation>``.
    * query / ec2 (iam, sts, ec2, ...): ``Action`` in the query string or the
      form-encoded body.
    * REST (rest-json and rest-xml: lambda, s3 path-style, s3control,
      apigateway, route53, cloudfront, eks, ...): method + path + query
      matched against the ``http.requestUri`` of every operation in the
      botocore models of the services signing with the SigV4 credential
      scope's name (see ``_match_rest`` for how a tie is broken); an
      unsigned request is tried against Lambda only.

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
    route = _match_rest(req)
    return route.operation if route else None


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
