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
from typing import Any

from .errors import AwsUnavailable, ReadOnlyViolation
from .permissions import iam_action
from .readonly import is_read_operation, refusal

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
CREDENTIAL_CODES = frozenset({"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken",
                              "ExpiredTokenException", "SignatureDoesNotMatch", "InvalidSignatureException"})


@dataclass
class CallError:
    """Why a call produced no result. kind: denied | throttled | not-found-allowed | error | credentials | network | readonly"""

    kind: str
    code: str
    message: str
    needs: str | None = None

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

    def to_dict(self) -> dict:
        return {"call": self.call, "ms": round(self.ms, 1), "cached": self.cached, "error": self.error,
                "step": self.step, "region": self.region}


@dataclass
class AwsSettings:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 6
    max_pool: int = 32


class Aws:
    """Clients, the call cache and the call log for one run (CLI) or one
    session (REPL, until `refresh`)."""

    def __init__(self, settings: AwsSettings | None = None, redactor=None):
        self.settings = settings or AwsSettings()
        self.redactor = redactor
        self._session = None
        self._clients: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._cache: dict[tuple, Future] = {}
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
                self._clients[key] = client
        return client

    # --- calls --------------------------------------------------------------
    def call(self, service: str, operation: str, params: dict, *, region: str | None = None,
             paginate: bool = False, max_items: int | None = None, step: str | None = None,
             max_attempts: int | None = None, run: int | None = None) -> Any:
        """Make (or reuse) one read call; raise CallFailed with a classified error."""
        if not is_read_operation(operation):
            raise ReadOnlyViolation(f"refused {service}.{operation}: {refusal(operation)}")
        region = region or self.region
        key = (service, region, operation, json.dumps(params, sort_keys=True, default=str), paginate, max_items)
        with self._lock:
            future = self._cache.get(key)
            owner = future is None
            if owner:
                future = Future()
                self._cache[key] = future
        name = f"{service}.{operation}"
        start = time.perf_counter()
        if not owner:
            try:
                return future.result()
            finally:
                exc = future.exception()
                self._record(CallRecord(name, (time.perf_counter() - start) * 1000, True,
                                        _error_text(exc), step, region, run))
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
        if self.redactor is not None:
            result = self.redactor.result(service, operation, result)
        return result

    def _record(self, record: CallRecord) -> None:
        with self._log_lock:
            self.log.append(record)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def whoami(self) -> dict:
        return self.call("sts", "GetCallerIdentity", {})


def _guard_read_only(params, model, **_):
    # Runs inside botocore for every request any triage client makes.
    if not is_read_operation(model.name):
        raise ReadOnlyViolation(f"refused {model.service_model.service_name}.{model.name}: {refusal(model.name)}")


def _reject_non_json_body(operation_model, response_dict, **_):
    # botocore's JSON parsers turn a body that is not JSON into an empty
    # result, which a check would read as "nothing found". Make it an error
    # instead (XML protocols already raise). Cheap: only the first/last byte.
    if operation_model.service_model.protocol not in ("json", "rest-json") or response_dict["status_code"] >= 300:
        return
    if operation_model.has_streaming_output or operation_model.output_shape is None \
            or operation_model.output_shape.serialization.get("payload"):
        return
    body = response_dict.get("body") or b""
    if isinstance(body, (bytes, bytearray)) and body.strip() and not (body.lstrip()[:1] == b"{" and body.rstrip()[-1:] == b"}"):
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
    return "error"


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
