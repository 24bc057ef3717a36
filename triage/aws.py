"""AWS access: one botocore session from the standard credential chain,
clients created lazily (importing botocore costs ~0.2 s, so nothing here
imports it until a call is made), adaptive retries, timeouts, the read-only
guard on every client, and the call cache that makes identical calls once."""
from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import AwsUnavailable
from .permissions import iam_action
from .readonly import guard

DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
    "UnauthorizedAccess", "Forbidden", "AuthorizationErrorException", "NotAuthorized",
    "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
})
THROTTLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "SlowDown", "RequestThrottled", "BandwidthLimitExceeded", "LimitExceededException",
})
# Error codes that say the thing asked about does not exist.
NOT_FOUND_CODES = frozenset({"NoSuchEntity", "NoSuchBucket", "NoSuchKey", "NoSuchBucketPolicy", "NotFound",
                             "ResourceNotFoundException", "ResourceNotFound", "NotFoundException"})
CREDENTIAL_CODES = frozenset({"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken",
                              "ExpiredTokenException", "SignatureDoesNotMatch", "InvalidSignatureException"})


@dataclass
class CallError:
    """Why a call produced no result. kind: denied | throttled | not-found | error | credentials | network | readonly"""

    kind: str
    code: str
    message: str
    needs: str | None = None

    @property
    def not_found(self) -> bool:
        return self.kind == "not-found"

    def reason(self, call: str) -> str:
        if self.kind == "denied":
            return f"{call} was denied ({self.code})" + (f": needs permission {self.needs}" if self.needs else "")
        if self.kind == "throttled":
            return f"{call} was still throttled after retries ({self.code})"
        if self.kind == "credentials":
            return f"{call} failed: no usable AWS credentials ({self.message})"
        if self.kind == "network":
            return f"{call} failed: AWS endpoint unreachable ({self.message})"
        return f"{call} failed: {self.code}: {self.message}" if self.code else f"{call} failed: {self.message}"


class CallFailed(Exception):
    def __init__(self, error: CallError):
        super().__init__(error.message)
        self.error = error


@dataclass
class CallRecord:
    call: str
    ms: float
    cached: bool
    error: str | None = None
    step: str | None = None
    region: str | None = None
    run: int | None = None   # which engine.run made it (one Aws may serve concurrent runs)
    age: float | None = None  # for a cached answer: seconds since AWS gave it

    def to_dict(self) -> dict:
        data = {"call": self.call, "ms": round(self.ms, 1), "cached": self.cached, "error": self.error,
                "step": self.step, "region": self.region}
        if self.cached and self.age is not None:
            data["age_s"] = round(self.age, 1)
        return data


@dataclass
class AwsSettings:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    # Bounded at 3 a.m.: a black-holed endpoint must not cost minutes.
    connect_timeout: float = 3.0
    read_timeout: float = 15.0
    max_attempts: int = 6
    max_pool: int = 32
    cache_ttl: float | None = None   # None: answers live as long as the Aws (one CLI command)


class Aws:
    """Clients, the call cache and the call log for one run (CLI) or one
    session (REPL, until `refresh`)."""

    def __init__(self, settings: AwsSettings | None = None, redactor=None):
        from .redact import shared

        self.settings = settings or AwsSettings()
        self.redactor = redactor or shared()
        self._session = None
        self._clients: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._cache: dict[tuple, tuple[Future, float]] = {}   # key -> (answer, when it was asked)
        self._endpoints = _EndpointHealth()
        self.log: list[CallRecord] = []
        self._log_lock = threading.Lock()

    # --- session and clients ---------------------------------------------
    @property
    def session(self):
        """botocore's session: the same credential chain and config files as
        boto3 (boto3.Session wraps it), without importing boto3 and
        s3transfer (~0.15 s of every run)."""
        with self._lock:
            if self._session is None:
                try:
                    import botocore.session
                except ImportError as exc:  # pragma: no cover - dependency missing
                    raise AwsUnavailable(f"botocore is not installed: {exc}") from None
                session = botocore.session.Session(profile=self.settings.profile)
                if self.settings.profile and self.settings.profile not in session.available_profiles:
                    raise AwsUnavailable(f"AWS profile {self.settings.profile!r} not found",
                                         "list profiles with `aws configure list-profiles`, or drop --profile")
                session.user_agent_extra = "triage/0.1"
                self._session = session
            return self._session

    @property
    def region(self) -> str:
        # AWS_REGION is what Lambda and the newer SDKs set; botocore reads AWS_DEFAULT_REGION.
        region = self.settings.region or self.session.get_config_variable("region") or os.environ.get("AWS_REGION")
        if not region:
            raise AwsUnavailable("no AWS region configured",
                                 "pass --region us-east-1, set AWS_REGION, or add `region =` to your profile")
        return region

    @property
    def endpoint_url(self) -> str | None:
        return self.settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")

    def client(self, service: str, region: str | None = None, max_attempts: int | None = None):
        region = region or self.region
        key = (service, region, max_attempts)
        with self._lock:
            client = self._clients.get(key)
        if client is not None:
            return client
        from botocore.config import Config

        config = Config(
            retries={"mode": "adaptive", "total_max_attempts": max_attempts or self.settings.max_attempts},
            connect_timeout=self.settings.connect_timeout, read_timeout=self.settings.read_timeout,
            max_pool_connections=self.settings.max_pool, user_agent_extra="triage/0.1",
        )
        session = self.session
        with self._lock:  # botocore sessions are not thread-safe for client creation
            client = self._clients.get(key)
            if client is None:
                client = session.create_client(service, region_name=region, endpoint_url=self.settings.endpoint_url,
                                               config=config)
                client.meta.events.register("before-parameter-build", _guard_read_only)
                client.meta.events.register("before-parse", _reject_non_json_body)
                client.meta.events.register("before-send", self._endpoints.before_send)
                client.meta.events.register_first("needs-retry", self._endpoints.needs_retry)
                self._clients[key] = client
        return client

    # --- calls --------------------------------------------------------------
    def call(self, service: str, operation: str, params: dict, *, region: str | None = None,
             paginate: bool = False, max_items: int | None = None, step: str | None = None,
             max_attempts: int | None = None, run: int | None = None) -> Any:
        """Make (or reuse) one read call; raise CallFailed with a classified error."""
        # The client's model, asked for only when the name rules pass (the hook checks again).
        guard(service, operation, params, lambda: self.client(service, region, max_attempts)
              .meta.service_model.operation_model(operation))
        region = region or self.region
        key = (service, region, operation, json.dumps(params, sort_keys=True, default=str), paginate, max_items)
        ttl = self.settings.cache_ttl
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and ttl is not None and entry[0].done() and time.monotonic() - entry[1] > ttl:
                entry = None   # too old to be trusted: ask AWS again
            owner = entry is None
            if owner:
                entry = (Future(), time.monotonic())
                self._cache[key] = entry
        future, asked = entry
        name = f"{service}.{operation}"
        start = time.perf_counter()
        if not owner:
            try:
                return future.result()
            finally:
                exc = future.exception()
                self._record(CallRecord(name, (time.perf_counter() - start) * 1000, True,
                                        _error_text(exc), step, region, run, age=time.monotonic() - asked))
        try:
            result = self._invoke(service, operation, params, region, paginate, max_items, max_attempts)
        except CallFailed as exc:
            future.set_exception(exc)
            if exc.error.kind in ("throttled", "network"):  # transient: a later identical call may retry
                with self._lock:
                    self._cache.pop(key, None)
            self._record(CallRecord(name, (time.perf_counter() - start) * 1000, False, _error_text(exc), step, region, run))
            raise
        except BaseException as exc:  # anything unexpected: never leave waiters on an unfinished future
            future.set_exception(exc)
            with self._lock:
                self._cache.pop(key, None)
            raise
        future.set_result(result)
        self._record(CallRecord(name, (time.perf_counter() - start) * 1000, False, None, step, region, run))
        return result

    def _invoke(self, service, operation, params, region, paginate, max_items, max_attempts=None):
        from botocore import exceptions as bexc
        from botocore.parsers import ResponseParserError

        try:
            client = self.client(service, region, max_attempts)
            method = _snake(operation)
            if paginate and client.can_paginate(method):
                config = {"MaxItems": max_items} if max_items else {}
                result = client.get_paginator(method).paginate(**params, PaginationConfig=config).build_full_result()
            else:
                result = getattr(client, method)(**params)
        except bexc.ClientError as exc:
            err = exc.response.get("Error", {})
            code, message = str(err.get("Code") or ""), str(err.get("Message") or "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            kind = classify(code, status)
            if not message and status:
                message = f"HTTP {status}"
            raise CallFailed(CallError(kind, code or f"HTTP{status}", message,
                                       iam_action(service, operation) if kind == "denied" else None)) from None
        except (bexc.NoCredentialsError, bexc.PartialCredentialsError, bexc.CredentialRetrievalError,
                bexc.NoRegionError, bexc.ProfileNotFound, bexc.TokenRetrievalError,
                bexc.SSOTokenLoadError, bexc.UnauthorizedSSOTokenError) as exc:
            raise CallFailed(CallError("credentials", type(exc).__name__, str(exc))) from None
        except (bexc.EndpointConnectionError, bexc.ConnectTimeoutError, bexc.ReadTimeoutError,
                bexc.ConnectionClosedError) as exc:
            raise CallFailed(CallError("network", type(exc).__name__, str(exc))) from None
        except bexc.ParamValidationError as exc:
            raise CallFailed(CallError("error", "ParamValidationError", " ".join(str(exc).split()))) from None
        except ResponseParserError as exc:
            raise CallFailed(CallError("error", "ResponseParserError",
                                       "unparseable response from AWS: " + " ".join(str(exc).split())[:300])) from None
        except (bexc.BotoCoreError, ValueError) as exc:
            # garbage bodies, connection resets mid-response, unknown endpoints
            kind = "network" if isinstance(exc, (bexc.HTTPClientError,)) else "error"
            raise CallFailed(CallError(kind, type(exc).__name__, " ".join(str(exc).split())[:300])) from None
        if isinstance(result, dict):
            result.pop("ResponseMetadata", None)
            result.pop("NextToken", None)
        # The result stays exact; the redactor only remembers its secrets
        # so that every output masks them.
        self.redactor.learn(service, operation, result,
                            client.meta.service_model.operation_model(operation).output_shape)
        return result

    def _record(self, record: CallRecord) -> None:
        with self._log_lock:
            self.log.append(record)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
        self._endpoints = _EndpointHealth()   # `refresh`: an endpoint that was down may be back

    def whoami(self) -> dict:
        return self.call("sts", "GetCallerIdentity", {})


def _guard_read_only(params, model, **_):
    # Runs inside botocore for every request (and presigned URL) any triage client makes.
    guard(model.service_model.service_name, model.name, params, model)


def _reject_non_json_body(operation_model, response_dict, **_):
    # botocore parses an empty body (any protocol) and a JSON service's
    # non-JSON body into an empty result, which a check would read as
    # "nothing found" (no trails, no buckets). Make both an error of the call.
    # Cheap: only the first/last byte is looked at.
    if response_dict["status_code"] >= 300 or operation_model.has_streaming_output \
            or operation_model.output_shape is None or operation_model.output_shape.serialization.get("payload"):
        return
    body = response_dict.get("body") or b""
    if not isinstance(body, (bytes, bytearray)):
        return
    protocol = operation_model.service_model.protocol
    if not body.strip():
        # AWS always sends a document (a JSON object, an XML envelope) when
        # the output has fields in the body; only header-only outputs are empty.
        body_fields = [m for m in operation_model.output_shape.members.values() if not m.serialization.get("location")]
        if protocol in ("json", "query", "ec2") or body_fields:
            from botocore.parsers import ResponseParserError
            raise ResponseParserError(f"HTTP {response_dict['status_code']} with an empty body")
        return
    if protocol not in ("json", "rest-json"):
        return   # XML parsers already raise on a body that is not XML
    if not (body.lstrip()[:1] == b"{" and body.rstrip()[-1:] == b"}"):
        from botocore.parsers import ResponseParserError
        raise ResponseParserError(f"HTTP {response_dict['status_code']} body is not JSON: {bytes(body[:60])!r}")


def classify(code: str, status: int | None = None) -> str:
    """The CallError kind of an AWS error code (and HTTP status, when known)."""
    if code in CREDENTIAL_CODES:
        return "credentials"
    if code in DENIED_CODES or "AccessDenied" in code or status == 403:
        return "denied"
    if code in THROTTLE_CODES or status == 429:
        return "throttled"
    if code in NOT_FOUND_CODES or code.startswith("NoSuch") or code.endswith(("NotFound", "NotFoundFault",
                                                                              "NotFoundException")):
        return "not-found"
    return "error"


class _EndpointHealth:
    """Network failures against an endpoint that has never answered are not
    retried, and once it has failed that way later calls fail at once: a
    black-holed endpoint costs one read timeout, not attempts x timeout per
    call. An endpoint that has answered keeps botocore's retries, except
    that a read timeout is retried once at most."""

    def __init__(self) -> None:
        self._answered: set[str] = set()
        self._dead: dict[str, BaseException] = {}
        self._lock = threading.Lock()

    def before_send(self, request, **_):
        host = _host(request.url)
        with self._lock:
            dead = self._dead.get(host)
        if dead is not None:
            raise _endpoint_down()(endpoint_url=host, error=dead)
        return None

    def needs_retry(self, attempts, request_dict=None, response=None, caught_exception=None, **_):
        from botocore import exceptions as bexc

        host = _host((request_dict or {}).get("url", ""))
        if response is not None:
            with self._lock:
                self._answered.add(host)
            return None                      # an HTTP answer: botocore's policy decides
        network = (bexc.ConnectTimeoutError, bexc.ReadTimeoutError, bexc.EndpointConnectionError,
                   bexc.ConnectionClosedError)
        if not isinstance(caught_exception, network):
            return None
        with self._lock:
            answered = host in self._answered
            if not answered:
                self._dead.setdefault(host, caught_exception)
        if not answered or (isinstance(caught_exception, bexc.ReadTimeoutError) and attempts >= 2):
            raise caught_exception           # no retry: the call fails with this error now
        return None


@lru_cache(maxsize=1)
def _endpoint_down():
    from botocore.exceptions import EndpointConnectionError

    class EndpointDown(EndpointConnectionError):
        """A call not sent: the endpoint failed an earlier one and never answered."""
        fmt = "{endpoint_url} did not answer an earlier call, so this one was not sent ({error})"
    return EndpointDown


def _host(url: str) -> str:
    from urllib.parse import urlsplit
    return urlsplit(url).netloc


def _error_text(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    if isinstance(exc, CallFailed):
        e = exc.error
        return f"{e.code}: {e.message}" if e.code else e.message
    return str(exc)


_SNAKE_CACHE: dict[str, str] = {}


def _snake(operation: str) -> str:
    if operation not in _SNAKE_CACHE:
        from botocore import xform_name
        _SNAKE_CACHE[operation] = xform_name(operation)
    return _SNAKE_CACHE[operation]
