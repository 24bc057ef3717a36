"""Tests for triage.testing.proxy: a loopback delay/fault proxy in front of a
moto server, exercised through real boto3 clients."""

from __future__ import annotations

import datetime
import io
import logging
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import boto3
import botocore.session
import pytest
from botocore.awsrequest import prepare_request_dict
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError, RpcV2CBORParser
from botocore.serialize import create_serializer
from moto.server import ThreadedMotoServer

from triage.testing.proxy import (
    FaultProxy,
    ProxyRequest,
    _render_error,
    _rest_services,
    _service_metadata,
    access_denied,
    aws_error,
    blackhole,
    garbage,
    latency,
    operation_of,
    protocol_of,
    reset,
    server_error,
    service_of,
    throttle,
)

REGION = "us-east-1"
# NB: botocore's retries "max_attempts" counts *retries* (1 = one retry);
# total_max_attempts=1 is what really disables retrying.
NO_RETRY = {"total_max_attempts": 1}
AUTH = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{svc}/aws4_request, SignedHeaders=host, Signature=0"


def _proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("triage-proxy")]


@pytest.fixture(scope="module")
def moto_upstream():
    """A moto server of our own (module scope). moto's backends are process
    globals, so tests that create resources delete them again to leave the
    shared, seeded world of other test modules untouched."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield server.get_host_and_port()
    finally:
        server.stop()


@pytest.fixture
def proxy(moto_upstream):
    p = FaultProxy(moto_upstream).start()
    try:
        yield p
    finally:
        p.stop()
        assert _proxy_threads() == []


@pytest.fixture(scope="module")
def boto_session():
    # One session per module: its loader caches service models, which makes
    # creating a client per test cheap.
    return boto3.session.Session()


@pytest.fixture
def client(proxy, boto_session):
    def make(service: str, **config):
        config.setdefault("retries", NO_RETRY)
        return boto_session.client(
            service,
            region_name=REGION,
            endpoint_url=proxy.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**config),
        )

    return make


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def _code(exc: ClientError) -> tuple[str, int]:
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


# -- plain forwarding -------------------------------------------------------


def test_forwards_lambda_and_iam(proxy, client):
    iam, lam = client("iam"), client("lambda")
    role_name = _name("role")
    role = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
    )["Role"]
    assert iam.get_role(RoleName=role_name)["Role"]["Arn"] == role["Arn"]

    fn = _name("fn")
    lam.create_function(
        FunctionName=fn,
        Runtime="python3.11",
        Role=role["Arn"],
        Handler="lambda_function.handler",
        Code={"ZipFile": _zip()},
        Timeout=7,
    )
    try:
        cfg = lam.get_function_configuration(FunctionName=fn)
        assert cfg["FunctionName"] == fn and cfg["Timeout"] == 7
        assert fn in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    finally:
        lam.delete_function(FunctionName=fn)
        iam.delete_role(RoleName=role_name)

    by_op = {r.operation: r for r in proxy.requests}
    assert {"CreateRole", "GetRole", "CreateFunction", "GetFunctionConfiguration", "ListFunctions"} <= set(by_op)
    assert by_op["CreateRole"].protocol == "query" and by_op["CreateRole"].service == "iam"
    assert by_op["CreateFunction"].protocol == "rest-json" and by_op["CreateFunction"].status == 201
    assert by_op["GetFunctionConfiguration"].path == f"/2015-03-31/functions/{fn}/configuration"
    assert all(r.fault is None for r in proxy.requests)


def test_forwards_logs(proxy, client):
    logs = client("logs")
    group = _name("/triage/test")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "ERROR boom"}, {"timestamp": now + 1, "message": "ok"}],
    )
    events = logs.filter_log_events(logGroupName=group, filterPattern="ERROR")["events"]
    logs.delete_log_group(logGroupName=group)
    assert [e["message"] for e in events] == ["ERROR boom"]
    req = [r for r in proxy.requests if r.operation == "FilterLogEvents"][0]
    assert req.protocol == "json" and req.header("X-Amz-Target") == "Logs_20140328.FilterLogEvents"


def test_forwards_ec2(proxy, client):
    ec2 = client("ec2")
    subnets = ec2.describe_subnets()["Subnets"]
    assert subnets and all(s["SubnetId"].startswith("subnet-") for s in subnets)
    vpc_id = subnets[0]["VpcId"]
    assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["VpcId"] == vpc_id
    assert proxy.operations() == ["DescribeSubnets", "DescribeVpcs"]
    assert {r.protocol for r in proxy.requests} == {"ec2"}


def test_forwards_cloudwatch(proxy, client):
    cw = client("cloudwatch")
    ns = _name("Triage/Test")
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Errors", "Value": 3.0}])
    metrics = cw.list_metrics(Namespace=ns)["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["Errors"]
    assert proxy.operations() == ["PutMetricData", "ListMetrics"]
    assert proxy.requests[0].service == "monitoring"


def test_forwards_s3_bodies_and_head(proxy, client):
    s3 = client("s3")
    bucket, key = _name("bucket"), "dir/with space/obj.bin"
    payload = bytes(range(256)) * 400  # 100 KiB, all byte values
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=payload)
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(payload)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == payload
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)
    assert keys == [key]
    assert proxy.operations()[:5] == ["CreateBucket", "PutObject", "HeadObject", "GetObject", "ListObjectsV2"]
    assert proxy.operations()[5:] == ["DeleteObject", "DeleteBucket"]


def test_keep_alive_reuses_one_connection(proxy, client):
    logs = client("logs")
    for _ in range(5):
        logs.describe_log_groups(limit=1)
    assert len({r.client for r in proxy.requests}) == 1


# -- delay ------------------------------------------------------------------


def test_delay_applies_to_every_request(proxy, client):
    logs = client("logs")
    logs.describe_log_groups(limit=1)  # warm up the connection
    proxy.delay_s = 0.12
    for _ in range(2):
        t0 = time.perf_counter()
        logs.describe_log_groups(limit=1)
        assert time.perf_counter() - t0 >= 0.12
    proxy.delay_s = 0.0
    t0 = time.perf_counter()
    logs.describe_log_groups(limit=1)
    assert time.perf_counter() - t0 < 0.12


def test_latency_fault_only_for_matching_operation(proxy, client):
    logs = client("logs")
    proxy.add_fault("DescribeLogStreams", latency(0.2))
    t0 = time.perf_counter()
    logs.describe_log_groups(limit=1)
    assert time.perf_counter() - t0 < 0.2
    group = _name("/triage/lat")
    logs.create_log_group(logGroupName=group)
    t0 = time.perf_counter()
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    assert time.perf_counter() - t0 >= 0.2
    logs.delete_log_group(logGroupName=group)


# -- error faults -----------------------------------------------------------

# service, call(client), default throttle (code, status), default access-denied code
CASES = {
    "logs": (lambda c: c.filter_log_events(logGroupName="g"), ("ThrottlingException", 400), "AccessDeniedException"),
    "cloudwatch": (lambda c: c.list_metrics(), ("ThrottlingException", 400), "AccessDeniedException"),
    "ec2": (lambda c: c.describe_subnets(), ("RequestLimitExceeded", 503), "UnauthorizedOperation"),
    "iam": (lambda c: c.get_role(RoleName="r"), ("Throttling", 400), "AccessDenied"),
    "lambda": (
        lambda c: c.get_function_configuration(FunctionName="f"),
        ("TooManyRequestsException", 429),
        "AccessDeniedException",
    ),
    "s3": (lambda c: c.list_objects_v2(Bucket="some-bucket"), ("SlowDown", 503), "AccessDenied"),
}


@pytest.mark.parametrize("service", sorted(CASES))
def test_throttle_default_code_per_protocol(proxy, client, service):
    call, expected, _ = CASES[service]
    proxy.add_fault(None, throttle())
    with pytest.raises(ClientError) as ei:
        call(client(service))
    assert _code(ei.value) == expected
    assert ei.value.response["Error"]["Message"] == "Rate exceeded"
    assert proxy.requests[-1].fault == "throttle"


@pytest.mark.parametrize(
    "service,code,status",
    [
        ("logs", "ThrottlingException", 400),
        ("logs", "TooManyRequestsException", 429),
        ("iam", "Throttling", 400),
        ("lambda", "ThrottlingException", 400),
        ("ec2", "Throttling", 429),
    ],
)
def test_throttle_explicit_code(proxy, client, service, code, status):
    call = CASES[service][0]
    proxy.add_fault(None, throttle(code=code, status=status, message="slow down"))
    with pytest.raises(ClientError) as ei:
        call(client(service))
    assert _code(ei.value) == (code, status)
    assert ei.value.response["Error"]["Message"] == "slow down"


def test_lambda_throttle_is_the_modeled_exception(proxy, client):
    lam = client("lambda")
    proxy.add_fault("GetFunctionConfiguration", throttle())
    with pytest.raises(lam.exceptions.TooManyRequestsException):
        lam.get_function_configuration(FunctionName="f")


@pytest.mark.parametrize("service", sorted(CASES))
def test_access_denied_per_protocol(proxy, client, service):
    call, _, denied = CASES[service]
    proxy.add_fault(None, access_denied(message="no way"))
    with pytest.raises(ClientError) as ei:
        call(client(service))
    assert _code(ei.value) == (denied, 403)
    assert ei.value.response["Error"]["Message"] == "no way"


def test_access_denied_explicit_code_and_aws_error(proxy, client):
    iam = client("iam")
    proxy.add_fault("GetRole", access_denied(code="AccessDeniedException"), times=1)
    proxy.add_fault("GetRole", aws_error("NoSuchEntity", 404, "role r not found"), times=1)
    with pytest.raises(ClientError) as ei:
        iam.get_role(RoleName="r")
    assert _code(ei.value) == ("AccessDeniedException", 403)
    with pytest.raises(iam.exceptions.NoSuchEntityException) as ei:
        iam.get_role(RoleName="r")
    assert _code(ei.value) == ("NoSuchEntity", 404)


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("service", ["logs", "ec2", "lambda"])
def test_server_error(proxy, client, service, status):
    proxy.add_fault(None, server_error(status))
    with pytest.raises(ClientError) as ei:
        CASES[service][0](client(service))
    assert _code(ei.value) == (str(status), status)


def test_server_error_with_code_and_html_body(proxy, client):
    logs = client("logs")
    proxy.add_fault(None, server_error(500, code="InternalFailure", message="oops"), times=1)
    proxy.add_fault(None, server_error(502, body=b"<html><body>Bad Gateway</body></html>"), times=1)
    with pytest.raises(ClientError) as ei:
        logs.describe_log_groups()
    assert _code(ei.value) == ("InternalFailure", 500)
    with pytest.raises(ClientError) as ei:
        logs.describe_log_groups()
    assert _code(ei.value) == ("502", 502)


@pytest.mark.parametrize("service", ["ec2", "iam"])
def test_garbage_is_a_parse_error_for_query_protocols(proxy, client, service):
    proxy.add_fault(None, garbage())
    with pytest.raises(ResponseParserError):
        CASES[service][0](client(service))


def test_garbage_on_s3_becomes_retryable_500(proxy, client):
    # botocore's S3 "200 with an error body" handler turns unparseable 200
    # responses into status 500 before parsing (so they are retried).
    proxy.add_fault(None, garbage())
    with pytest.raises(ClientError) as ei:
        CASES["s3"][0](client("s3"))
    assert _code(ei.value) == ("500", 500)


def test_garbage_is_tolerated_by_botocore_json_parser(proxy, client):
    # Documented botocore behaviour: a non-JSON 200 body parses to {"message": ...}.
    proxy.add_fault(None, garbage(body=b"\x00not json"))
    out = client("logs").describe_log_groups()
    assert "logGroups" not in out


# -- connection faults ------------------------------------------------------


def test_reset_raises_connection_error_and_proxy_recovers(proxy, client):
    logs = client("logs")
    logs.describe_log_groups(limit=1)  # pooled keep-alive connection
    proxy.add_fault("DescribeLogGroups", reset(), times=1)
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        logs.describe_log_groups(limit=1)
    logs.describe_log_groups(limit=1)  # next call opens a new connection and works
    assert [r.fault for r in proxy.requests] == [None, "reset", None]
    assert proxy.requests[1].status is None
    assert len({r.client for r in proxy.requests}) == 2


def test_blackhole_read_timeout_and_stop_releases_it(moto_upstream, boto_session):
    p = FaultProxy(moto_upstream).start()
    try:
        lam = boto_session.client(
            "lambda",
            region_name=REGION,
            endpoint_url=p.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries=NO_RETRY, read_timeout=0.5, connect_timeout=1),
        )
        p.add_fault("ListFunctions", blackhole())
        t0 = time.perf_counter()
        with pytest.raises(ReadTimeoutError):
            lam.list_functions()
        assert 0.45 <= time.perf_counter() - t0 < 3
        assert p.count("ListFunctions") == 1 and _proxy_threads()
    finally:
        t0 = time.perf_counter()
        p.stop()
    assert time.perf_counter() - t0 < 2
    assert _proxy_threads() == []


def test_stop_closes_idle_keep_alive_connections(moto_upstream, boto_session):
    with FaultProxy(moto_upstream, delay_s=0.01) as p:
        logs = boto_session.client(
            "logs",
            region_name=REGION,
            endpoint_url=p.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries=NO_RETRY),
        )
        logs.describe_log_groups(limit=1)
        assert len(_proxy_threads()) == 2  # accept loop + one idle connection
    assert _proxy_threads() == []
    assert not p.running


# -- rules, retries and counting --------------------------------------------


@pytest.fixture
def no_backoff(monkeypatch):
    """Standard-mode retries sleep rand(0..1) s before a throttled retry;
    make that 0 so the retry tests stay fast (the retry itself is real)."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.mark.parametrize(
    "service,call,operation,throttled_status",
    [
        ("logs", lambda c: c.describe_log_groups(limit=1), "DescribeLogGroups", 400),
        ("lambda", lambda c: c.list_functions(), "ListFunctions", 429),
        ("iam", lambda c: c.list_roles(), "ListRoles", 400),
    ],
)
def test_throttle_once_then_botocore_retry_succeeds(
    proxy, client, no_backoff, service, call, operation, throttled_status
):
    c = client(service, retries={"mode": "standard", "max_attempts": 3})
    rule = proxy.add_fault(operation, throttle(), times=1)
    out = call(c)
    assert out["ResponseMetadata"]["RetryAttempts"] == 1
    assert proxy.count(operation) == 2
    assert [(r.operation, r.status, r.fault) for r in proxy.requests] == [
        (operation, throttled_status, "throttle"),
        (operation, 200, None),
    ]
    assert rule.hits == 1 and rule.exhausted and rule.remaining == 0


def test_rules_in_order_times_and_clear(proxy, client):
    iam = client("iam")
    proxy.add_fault("ListRoles", access_denied(), times=1)
    proxy.add_fault("ListRoles", throttle(), times=2)
    proxy.add_fault("ListUsers", throttle())  # other operation: never hit
    codes = []
    for _ in range(4):
        try:
            iam.list_roles()
            codes.append("ok")
        except ClientError as exc:
            codes.append(exc.response["Error"]["Code"])
    assert codes == ["AccessDenied", "Throttling", "Throttling", "ok"]
    assert [r.hits for r in proxy.faults] == [1, 2, 0]
    proxy.add_fault(None, throttle())
    with pytest.raises(ClientError):
        iam.list_roles()
    proxy.clear_faults()
    assert proxy.faults == []
    iam.list_roles()


def test_path_regex_rule_for_rest_services(proxy, client):
    lam = client("lambda")
    proxy.add_fault(method="GET", path=r"^/2015-03-31/functions/[^/]+/configuration$", fault=throttle())
    with pytest.raises(ClientError) as ei:
        lam.get_function_configuration(FunctionName="anything")
    assert _code(ei.value) == ("TooManyRequestsException", 429)
    lam.list_functions()  # GET /2015-03-31/functions: not matched


def test_callable_and_service_matchers(proxy, client):
    logs, ec2 = client("logs"), client("ec2")
    proxy.add_fault(lambda r: b"poison" in r.body, access_denied())
    proxy.add_fault(service="ec2", fault=throttle(), times=1)
    logs.describe_log_groups(logGroupNamePrefix="fine")
    with pytest.raises(ClientError) as ei:
        logs.describe_log_groups(logGroupNamePrefix="poison")
    assert _code(ei.value) == ("AccessDeniedException", 403)
    with pytest.raises(ClientError) as ei:
        ec2.describe_vpcs()
    assert _code(ei.value)[0] == "RequestLimitExceeded"
    ec2.describe_vpcs()


def test_request_counting_is_accurate_under_concurrency(proxy, client):
    clients = [client("logs") for _ in range(4)]
    ec2 = client("ec2")

    def work(c):
        for _ in range(5):
            c.describe_log_groups(limit=1)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, clients))
    ec2.describe_subnets()
    ec2.describe_subnets()
    assert proxy.count("DescribeLogGroups") == 20
    assert proxy.count("DescribeSubnets") == 2
    assert proxy.count() == 22
    assert proxy.count(lambda r: r.service == "ec2") == 2
    times = [r.monotonic for r in proxy.requests]
    assert times == sorted(times)
    proxy.clear_requests()
    assert proxy.requests == []


# -- operation identification (no network) ----------------------------------


def _req(method, target, headers=None, body=b"", svc=None):
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if svc:
        headers["authorization"] = AUTH.format(svc=svc)
    path, _, query = target.partition("?")
    r = ProxyRequest(method, path, query, headers, body, 0.0, 0.0)
    r.service = service_of(r)
    r.protocol = protocol_of(r)
    return r


@pytest.mark.parametrize(
    "method,target,headers,body,svc,op,protocol",
    [
        ("POST", "/", {"X-Amz-Target": "Logs_20140328.FilterLogEvents"}, b"{}", "logs", "FilterLogEvents", "json"),
        (
            "POST",
            "/",
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"Action=DescribeSubnets&Version=2016-11-15",
            "ec2",
            "DescribeSubnets",
            "ec2",
        ),
        ("GET", "/?Action=GetRole&Version=2010-05-08&RoleName=x", {}, b"", "iam", "GetRole", "query"),
        (
            "GET",
            "/2015-03-31/functions/my-fn/configuration?Qualifier=3",
            {},
            b"",
            "lambda",
            "GetFunctionConfiguration",
            "rest-json",
        ),
        ("GET", "/2015-03-31/functions/my-fn", {}, b"", None, "GetFunction", "rest-json"),
        ("POST", "/2015-03-31/functions/my-fn/invocations", {}, b"{}", "lambda", "Invoke", "rest-json"),
        ("GET", "/2018-10-31/layers?find=LayerVersion&Arn=x", {}, b"", "lambda", "GetLayerVersionByArn", "rest-json"),
        ("GET", "/2018-10-31/layers", {}, b"", "lambda", "ListLayers", "rest-json"),
        ("GET", "/", {}, b"", "s3", "ListBuckets", "rest-xml"),
        ("GET", "/bkt?list-type=2&prefix=a", {}, b"", "s3", "ListObjectsV2", "rest-xml"),
        ("GET", "/bkt?policy", {}, b"", "s3", "GetBucketPolicy", "rest-xml"),
        ("GET", "/bkt/a/b.txt", {}, b"", "s3", "GetObject", "rest-xml"),
        ("PUT", "/bkt/a/b.txt", {"x-amz-copy-source": "o/k"}, b"", "s3", "CopyObject", "rest-xml"),
        ("PUT", "/bkt/k?partNumber=1&uploadId=u", {}, b"x", "s3", "UploadPart", "rest-xml"),
        ("GET", "/bkt/k?uploadId=u", {}, b"", "s3", "ListParts", "rest-xml"),
        (
            "POST",
            "/service/GraniteServiceVersion20100801/operation/GetMetricData",
            {"Smithy-Protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"},
            b"\xa0",
            "monitoring",
            "GetMetricData",
            "smithy-rpc-v2-cbor",
        ),
        ("GET", "/restapis", {}, b"", "apigateway", "GetRestApis", "rest-json"),
        ("GET", "/v2/apis", {}, b"", "apigateway", "GetApis", "rest-json"),  # apigatewayv2, same signing name
        ("GET", "/2013-04-01/hostedzone/Z1/rrset", {}, b"", "route53", "ListResourceRecordSets", "rest-xml"),
        # ?lifecycle: also GetBucketLifecycle's route, which is deprecated
        ("GET", "/bkt?lifecycle", {}, b"", "s3", "GetBucketLifecycleConfiguration", "rest-xml"),
        ("GET", "/bkt?policyStatus", {}, b"", "s3", "GetBucketPolicyStatus", "rest-xml"),
        ("GET", "/bkt/a%2Fb?acl", {}, b"", "s3", "GetObjectAcl", "rest-xml"),
        ("GET", "/clusters/c1/node-groups", {}, b"", "eks", "ListNodegroups", "rest-json"),
        ("GET", "/restapis", {}, b"", "no-such-signing-name", None, "rest-json"),
        ("GET", "/not/a/lambda/path", {}, b"", None, None, "rest-json"),
    ],
)
def test_operation_of(method, target, headers, body, svc, op, protocol):
    r = _req(method, target, headers, body, svc)
    assert operation_of(r) == op
    assert r.protocol == protocol


def test_cbor_error_body_parses_with_botocore():
    r = _req(
        "POST",
        "/service/GraniteServiceVersion20100801/operation/GetMetricData",
        {"Smithy-Protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"},
        b"\xa0",
        "monitoring",
    )
    headers, body = _render_error(r, "ThrottlingException", 400, "Rate exceeded")
    parsed = RpcV2CBORParser().parse(
        {"status_code": 400, "headers": {k.lower(): v for k, v in headers}, "body": body}, None
    )
    assert parsed["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}


# -- REST operations from botocore's models, with requests botocore built ---
#
# Every request below is the one a real botocore client sends (endpoint
# resolution, serialisation, S3 path-style addressing, route53's Id
# trimming, SigV4 signing): a ``before-send`` hook takes the prepared request
# and stops it before it reaches the (unused) endpoint.


class _Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def _stop(request, **kwargs):
    raise _Captured(request)


def _as_proxy_request(prepared) -> ProxyRequest:
    """The ProxyRequest the proxy would build for a botocore prepared request."""
    parts = urlsplit(prepared.url)
    headers = {}
    for k, v in prepared.headers.items():
        headers[k.lower()] = v.decode("latin-1") if isinstance(v, bytes) else v
    body = prepared.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = b""  # a stream (S3 uploads): not needed to name the operation
    r = ProxyRequest(prepared.method, parts.path or "/", parts.query, headers, body, 0.0, 0.0)
    r.service = service_of(r)
    r.protocol = protocol_of(r)
    return r


@pytest.fixture(scope="module")
def built(boto_session):
    """``built(service, method, **params)`` -> the ProxyRequest of that call."""
    clients = {}

    def build(service: str, method: str, **params) -> ProxyRequest:
        if service not in clients:
            c = boto_session.client(
                service,
                region_name=REGION,
                endpoint_url="http://127.0.0.1:9",  # never contacted
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries=NO_RETRY),
            )
            c.meta.events.register("before-send", _stop)
            clients[service] = c
        with pytest.raises(_Captured) as ei:
            getattr(clients[service], method)(**params)
        return _as_proxy_request(ei.value.request)

    return build


def _identify(built, service: str, calls: dict) -> dict:
    """{expected operation: (operation_of, protocol_of)} for calls
    {expected operation: (client method, params)}."""
    out = {}
    for op, (method, params) in calls.items():
        r = built(service, method, **params)
        out[op] = (operation_of(r), r.protocol)
    return out


def _expect(calls: dict, protocol: str) -> dict:
    return {op: (op, protocol) for op in calls}


ACCOUNT = "123456789012"
LAYER_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:l:1"


def test_lambda_operations_from_the_model(built):
    calls = {
        "GetFunctionConfiguration": ("get_function_configuration", {"FunctionName": "fn", "Qualifier": "3"}),
        "GetFunction": ("get_function", {"FunctionName": "fn"}),
        "GetPolicy": ("get_policy", {"FunctionName": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn"}),
        "ListFunctions": ("list_functions", {}),
        "Invoke": ("invoke", {"FunctionName": "fn", "Payload": b"{}"}),
        "GetLayerVersionByArn": ("get_layer_version_by_arn", {"Arn": LAYER_ARN}),
        "ListLayers": ("list_layers", {}),
        "GetProvisionedConcurrencyConfig": (
            "get_provisioned_concurrency_config",
            {"FunctionName": "fn", "Qualifier": "live"},
        ),
        "ListProvisionedConcurrencyConfigs": ("list_provisioned_concurrency_configs", {"FunctionName": "fn"}),
    }
    assert _identify(built, "lambda", calls) == _expect(calls, "rest-json")


def test_s3_subresources_and_greedy_keys_from_the_model(built):
    b, key = "bkt", "logs/2026/01/with space+plus.txt"  # greedy {Key+}: slashes stay slashes
    calls = {
        "ListBuckets": ("list_buckets", {}),
        "GetBucketPolicy": ("get_bucket_policy", {"Bucket": b}),
        "GetBucketPolicyStatus": ("get_bucket_policy_status", {"Bucket": b}),
        "GetBucketAcl": ("get_bucket_acl", {"Bucket": b}),
        "ListObjectsV2": ("list_objects_v2", {"Bucket": b, "Prefix": "logs/"}),
        "ListObjects": ("list_objects", {"Bucket": b}),
        "GetObject": ("get_object", {"Bucket": b, "Key": key}),
        "HeadObject": ("head_object", {"Bucket": b, "Key": key}),
        "GetObjectAcl": ("get_object_acl", {"Bucket": b, "Key": key}),
        "GetObjectTagging": ("get_object_tagging", {"Bucket": b, "Key": key}),
        "PutObject": ("put_object", {"Bucket": b, "Key": key, "Body": b"x"}),
        "CopyObject": ("copy_object", {"Bucket": b, "Key": key, "CopySource": {"Bucket": "o", "Key": "k"}}),
        "ListParts": ("list_parts", {"Bucket": b, "Key": key, "UploadId": "u"}),
        "UploadPart": ("upload_part", {"Bucket": b, "Key": key, "UploadId": "u", "PartNumber": 1, "Body": b"x"}),
        "UploadPartCopy": (
            "upload_part_copy",
            {"Bucket": b, "Key": key, "UploadId": "u", "PartNumber": 1, "CopySource": "o/k"},
        ),
        "GetObjectAttributes": (
            "get_object_attributes",
            {"Bucket": b, "Key": key, "ObjectAttributes": ["ETag"]},
        ),
        "DeleteObjects": ("delete_objects", {"Bucket": b, "Delete": {"Objects": [{"Key": "k"}]}}),
        "GetBucketLifecycleConfiguration": ("get_bucket_lifecycle_configuration", {"Bucket": b}),
        # not in the old hand-written table
        "GetBucketAccelerateConfiguration": ("get_bucket_accelerate_configuration", {"Bucket": b}),
        "GetBucketAnalyticsConfiguration": ("get_bucket_analytics_configuration", {"Bucket": b, "Id": "a"}),
        "ListBucketInventoryConfigurations": ("list_bucket_inventory_configurations", {"Bucket": b}),
        "GetBucketRequestPayment": ("get_bucket_request_payment", {"Bucket": b}),
    }
    assert _identify(built, "s3", calls) == _expect(calls, "rest-xml")
    r = built("s3", "get_object", Bucket=b, Key=key)
    assert r.path == "/bkt/logs/2026/01/with%20space%2Bplus.txt"


def test_s3control_shares_the_s3_signing_name(built):
    a = {"AccountId": ACCOUNT}
    calls = {
        "ListAccessPoints": ("list_access_points", a),
        "GetPublicAccessBlock": ("get_public_access_block", a),  # also an s3 operation, another route
        "ListJobs": ("list_jobs", a),
        "DescribeJob": ("describe_job", {**a, "JobId": "job-1"}),
        # greedy {Name+} in the middle of the path
        "GetMultiRegionAccessPoint": ("get_multi_region_access_point", {**a, "Name": "my-mrap"}),
        "GetMultiRegionAccessPointPolicy": ("get_multi_region_access_point_policy", {**a, "Name": "my-mrap"}),
        "ListTagsForResource": (
            "list_tags_for_resource",
            {**a, "ResourceArn": f"arn:aws:s3:us-east-1:{ACCOUNT}:storage-lens/x"},
        ),
    }
    assert _identify(built, "s3control", calls) == _expect(calls, "rest-xml")
    assert built("s3control", "list_jobs", **a).service == "s3"


def test_apigateway_v1_and_v2_from_the_model(built):
    calls = {
        "GetRestApis": ("get_rest_apis", {}),
        "GetRestApi": ("get_rest_api", {"restApiId": "a1"}),
        "GetResources": ("get_resources", {"restApiId": "a1"}),
        "GetStage": ("get_stage", {"restApiId": "a1", "stageName": "prod"}),
        "GetStages": ("get_stages", {"restApiId": "a1"}),
        "GetMethod": ("get_method", {"restApiId": "a1", "resourceId": "r1", "httpMethod": "GET"}),
        "UpdateStage": ("update_stage", {"restApiId": "a1", "stageName": "prod", "patchOperations": []}),
        "GetDomainNames": ("get_domain_names", {}),
    }
    assert _identify(built, "apigateway", calls) == _expect(calls, "rest-json")
    v2 = {
        "GetApis": ("get_apis", {}),
        "GetApi": ("get_api", {"ApiId": "a1"}),
        "GetRoutes": ("get_routes", {"ApiId": "a1"}),
        "GetStage": ("get_stage", {"ApiId": "a1", "StageName": "$default"}),
    }
    assert _identify(built, "apigatewayv2", v2) == _expect(v2, "rest-json")


def test_route53_and_cloudfront_rest_xml_from_the_model(built):
    r53 = {
        "ListHostedZones": ("list_hosted_zones", {}),
        "GetHostedZone": ("get_hosted_zone", {"Id": "/hostedzone/Z1"}),
        "ListResourceRecordSets": ("list_resource_record_sets", {"HostedZoneId": "Z1"}),
        "ChangeResourceRecordSets": (
            "change_resource_record_sets",
            {
                "HostedZoneId": "Z1",
                "ChangeBatch": {
                    "Changes": [
                        {
                            "Action": "UPSERT",  # a body field named Action: still REST
                            "ResourceRecordSet": {
                                "Name": "a.example.com",
                                "Type": "A",
                                "TTL": 60,
                                "ResourceRecords": [{"Value": "192.0.2.1"}],
                            },
                        }
                    ]
                },
            },
        ),
        "GetHealthCheckStatus": ("get_health_check_status", {"HealthCheckId": "h1"}),
    }
    assert _identify(built, "route53", r53) == _expect(r53, "rest-xml")
    cf = {
        "ListDistributions": ("list_distributions", {}),
        "GetDistribution": ("get_distribution", {"Id": "E1"}),
        "GetDistributionConfig": ("get_distribution_config", {"Id": "E1"}),
        "CreateInvalidation": (
            "create_invalidation",
            {
                "DistributionId": "E1",
                "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "c"},
            },
        ),
        "ListInvalidations": ("list_invalidations", {"DistributionId": "E1"}),
    }
    assert _identify(built, "cloudfront", cf) == _expect(cf, "rest-xml")


def test_eks_and_services_whose_signing_name_differs(built):
    eks = {
        "ListClusters": ("list_clusters", {}),
        "DescribeCluster": ("describe_cluster", {"name": "c1"}),
        "ListNodegroups": ("list_nodegroups", {"clusterName": "c1"}),
        "DescribeNodegroup": ("describe_nodegroup", {"clusterName": "c1", "nodegroupName": "n1"}),
        "DescribeAddonVersions": ("describe_addon_versions", {}),
        "DescribeAddon": ("describe_addon", {"clusterName": "c1", "addonName": "vpc-cni"}),
    }
    assert _identify(built, "eks", eks) == _expect(eks, "rest-json")
    # (botocore service, signing name, client method, params, operation)
    others = [
        ("opensearch", "es", "describe_domain", {"DomainName": "dom"}, "DescribeDomain"),
        ("es", "es", "describe_elasticsearch_domain", {"DomainName": "dom"}, "DescribeElasticsearchDomain"),
        (
            "apigatewaymanagementapi",
            "execute-api",
            "post_to_connection",
            {"ConnectionId": "c=", "Data": b"x"},
            "PostToConnection",
        ),
        ("efs", "elasticfilesystem", "describe_file_systems", {}, "DescribeFileSystems"),
        ("iot-data", "iotdata", "get_thing_shadow", {"thingName": "t"}, "GetThingShadow"),
        (
            "iot",  # greedy {arn+} outside S3
            "iot",
            "get_topic_rule_destination",
            {"arn": f"arn:aws:iot:us-east-1:{ACCOUNT}:ruledestination/http/0a1b"},
            "GetTopicRuleDestination",
        ),
    ]
    got = []
    for service, _, method, params, _ in others:
        r = built(service, method, **params)
        got.append((service, r.service, operation_of(r), r.protocol))
    assert got == [(svc, signing, op, "rest-json") for svc, signing, _, _, op in others]


def test_json_and_query_services_still_identify_by_target_and_action(built):
    r = built("ecr-public", "describe_repositories")
    assert (operation_of(r), r.protocol) == ("DescribeRepositories", "json")
    r = built("sts", "get_caller_identity")
    assert (operation_of(r), r.protocol) == ("GetCallerIdentity", "query")


# Operations that differ only in their host or body, never on the wire the
# proxy sees: (served as, also sent by)
_WIRE_TWINS = {
    ("s3", "GetBucketLifecycle"): "GetBucketLifecycleConfiguration",  # deprecated twin
    ("s3", "PutBucketLifecycle"): "PutBucketLifecycleConfiguration",
    ("s3", "GetBucketNotification"): "GetBucketNotificationConfiguration",
    ("s3", "PutBucketNotification"): "PutBucketNotificationConfiguration",
    ("s3", "ListDirectoryBuckets"): "ListBuckets",  # really signed as s3express
}


def _dummy(shape, depth=0):
    """Smallest value of a shape with every required member set."""
    t = shape.type_name
    if t == "structure":
        return {m: _dummy(shape.members[m], depth + 1) for m in shape.required_members} if depth < 8 else {}
    if t == "list":
        return [_dummy(shape.member, depth + 1)] if depth < 8 else []
    if t == "map":
        return {}
    if t in ("integer", "long"):
        return 1
    if t in ("float", "double"):
        return 1.0
    if t == "boolean":
        return True
    if t == "blob":
        return b"x"
    if t == "timestamp":
        return datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    return shape.enum[0] if shape.enum else "x1"


@pytest.mark.parametrize(
    "service", ["lambda", "s3", "s3control", "apigateway", "apigatewayv2", "route53", "cloudfront", "eks"]
)
def test_every_operation_of_a_service_is_identified(service):
    """Serialise every operation of the service (required members only) the
    way botocore does and check the proxy names it back."""
    # A fresh session: a client's session has its S3 model rewritten in place
    # (botocore's remove_bucket_from_url_paths_from_model drops "/{Bucket}").
    model = botocore.session.get_session().get_service_model(service)
    signing = model.signing_name
    serializer = create_serializer(model.protocol, include_validation=False)
    wrong = {}
    for name in model.operation_names:
        op = model.operation_model(name)
        params = _dummy(op.input_shape) if op.input_shape is not None else {}
        request = serializer.serialize_to_request(params, op)
        prepare_request_dict(request, endpoint_url="http://127.0.0.1:9")
        parts = urlsplit(request["url"])
        headers = {k.lower(): v for k, v in request["headers"].items()}
        headers["authorization"] = AUTH.format(svc=signing)
        body = request["body"] if isinstance(request["body"], bytes) else b""
        r = ProxyRequest(request["method"], parts.path, parts.query, headers, body, 0.0, 0.0)
        r.service = service_of(r)
        r.protocol = protocol_of(r)
        expected = _WIRE_TWINS.get((service, name), name)
        if (operation_of(r), r.protocol) != (expected, model.protocol):
            wrong[name] = (request["method"], r.target, operation_of(r), r.protocol)
    assert wrong == {}


def test_signing_names_map_to_botocore_services():
    assert {"s3", "s3control"} <= {s for s, _ in _rest_services("s3")}
    assert {"apigateway", "apigatewayv2"} <= {s for s, _ in _rest_services("apigateway")}
    assert {"es", "opensearch"} <= {s for s, _ in _rest_services("es")}
    assert "apigatewaymanagementapi" in {s for s, _ in _rest_services("execute-api")}
    assert ("lambda", "rest-json") in _rest_services("lambda")   # newer botocore adds lambda-* services signed as lambda
    assert _rest_services("logs") == ()  # a json service: named by X-Amz-Target


@pytest.mark.parametrize("service", ["s3", "lambda", "route53", "iot-data", "opensearch"])
def test_fast_metadata_read_equals_the_whole_model(service):
    loader = botocore.session.get_session().get_component("data_loader")
    assert _service_metadata(loader, service) == dict(loader.load_service_model(service, "service-2")["metadata"])


def test_operations_of_real_requests_through_the_proxy(boto_session):
    """End to end: clients talk to the proxy, which answers every request
    itself (the upstream is never contacted); the recorded operation names
    and the protocol of each error come from the models."""
    with FaultProxy(("127.0.0.1", 9)) as p:
        p.add_fault(None, access_denied(message="no"))

        def call(service, method, **params):
            c = boto_session.client(
                service,
                region_name=REGION,
                endpoint_url=p.url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries=NO_RETRY),
            )
            with pytest.raises(ClientError) as ei:
                getattr(c, method)(**params)
            return _code(ei.value)

        codes = [
            call("route53", "list_resource_record_sets", HostedZoneId="Z1"),
            call("cloudfront", "get_distribution_config", Id="E1"),
            call("apigateway", "get_stages", restApiId="a1"),
            call("eks", "describe_nodegroup", clusterName="c1", nodegroupName="n1"),
            call("s3", "get_bucket_acl", Bucket="bkt"),
            call("s3", "get_object", Bucket="bkt", Key="a/b/c.txt"),
            call("lambda", "get_policy", FunctionName="fn"),
        ]
        assert p.operations() == [
            "ListResourceRecordSets",
            "GetDistributionConfig",
            "GetStages",
            "DescribeNodegroup",
            "GetBucketAcl",
            "GetObject",
            "GetPolicy",
        ]
        assert [r.protocol for r in p.requests] == ["rest-xml", "rest-xml"] + ["rest-json"] * 2 + ["rest-xml"] * 2 + [
            "rest-json"
        ]
    assert codes[:2] == [("AccessDenied", 403)] * 2
    assert codes[2:4] == [("AccessDeniedException", 403)] * 2
