"""What the user named: `--from` (a function, instance, network interface
or subnet) and `--to` (a DB instance, cluster or proxy, an RDS endpoint, an
AWS service endpoint, HOST:PORT); the database a function's environment
points at; and the ids later calls need, taken from whatever Describe*
answers are at hand."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from . import addr

# Short names accepted for AWS service endpoints (`--to sqs`). Anything of
# the form com.amazonaws.REGION.NAME or NAME.REGION.amazonaws.com works too.
SERVICES = frozenset({
    "s3", "dynamodb", "sqs", "sns", "sts", "kms", "secretsmanager", "ssm", "ssmmessages", "ec2messages", "ec2",
    "logs", "monitoring", "events", "lambda", "ecr.api", "ecr.dkr", "ecs", "elasticloadbalancing", "kinesis",
    "firehose", "execute-api", "states", "rds", "rds-data", "glue", "athena", "bedrock-runtime", "xray",
    "apigateway", "email-smtp", "elasticache", "autoscaling", "cloudformation", "codecommit", "ssm-contacts",
})
# Engine family / engine -> default port, when the DB answer has none.
DEFAULT_PORTS = {"POSTGRESQL": 5432, "MYSQL": 3306, "SQLSERVER": 1433, "postgres": 5432, "aurora-postgresql": 5432,
                 "mysql": 3306, "mariadb": 3306, "aurora-mysql": 3306, "oracle": 1521, "sqlserver": 1433}

_ID = {"i": "instance", "eni": "eni", "subnet": "subnet"}
_RDS_HOST = re.compile(r"^(?P<name>[a-z][a-z0-9-]*)\.(?P<kind>(?:cluster-ro-|cluster-custom-|cluster-|proxy-|db-proxy-)?)"
                       r"[a-z0-9]+\.(?P<region>[a-z0-9-]+)\.rds\.amazonaws\.com$", re.I)
_REGION = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d$")


def _split_host_port(text: str) -> tuple[str, int | None]:
    """'host:5432', 'postgres://u:p@host:5432/db' -> (host, port). User info is dropped."""
    text = text.strip()
    if "://" in text:
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            port = None
        return (parts.hostname or ""), port
    if "@" in text:                                     # user:pass@host:port without a scheme
        text = text.rsplit("@", 1)[1]
    text = text.split("/", 1)[0]
    m = re.fullmatch(r"(.+):(\d{1,5})", text)
    if m and ":" not in m.group(1):
        return m.group(1), int(m.group(2))
    return text, None


def service_of(host: str, region: str | None = None) -> str | None:
    """The service name of an AWS endpoint: 'sqs.us-east-1.amazonaws.com',
    'bucket.s3.us-east-1.amazonaws.com', 'com.amazonaws.us-east-1.sqs' ->
    'com.amazonaws.us-east-1.sqs'."""
    host = host.lower().rstrip(".")
    m = re.fullmatch(r"com\.amazonaws\.([a-z0-9-]+)\.(.+)", host)
    if m:
        return host
    if host in SERVICES:
        return f"com.amazonaws.{region or 'us-east-1'}.{host}"
    if not host.endswith(".amazonaws.com"):
        return None
    labels = host[: -len(".amazonaws.com")].split(".")
    for i, label in enumerate(labels):
        if _REGION.match(label) and i > 0:
            name = labels[i - 1]
            if name in ("s3", "dualstack") or name.startswith("s3-"):
                name = "s3"
            elif name == "ecr" and i >= 2 and labels[i - 2] in ("api", "dkr"):
                name = f"ecr.{labels[i - 2]}"                 # api.ecr.REGION -> ecr.api
            return f"com.amazonaws.{label}.{name}"
    if labels and labels[-1] == "s3":                   # s3.amazonaws.com, bucket.s3.amazonaws.com
        return f"com.amazonaws.{region or 'us-east-1'}.s3"
    return None


def net_ref(text: Any, side: str = "to", region: str | None = None) -> dict:
    """Classify a --from/--to value. Never keeps a URL's user info (a password)."""
    out: dict[str, Any] = {"kind": None, "name": None, "host": None, "port": None, "service": None,
                           "address": None, "text": None}
    if not isinstance(text, str) or not text.strip():
        return out
    raw = text.strip()
    m = re.fullmatch(r"(i|eni|subnet)-[0-9a-f]{8,17}", raw)
    if m:
        return {**out, "kind": _ID[m.group(1)], "name": raw, "text": raw}
    if raw.startswith("arn:"):
        parts = raw.split(":")
        service = parts[2] if len(parts) > 2 else ""
        if service == "lambda" and len(parts) > 6:
            return {**out, "kind": "function", "name": parts[6], "text": raw}
        if service == "rds" and len(parts) > 6 and parts[5] in ("db", "cluster"):
            kind = "rds-instance" if parts[5] == "db" else "rds-cluster"
            return {**out, "kind": kind, "name": parts[6], "text": raw}
        if service == "ec2" and len(parts) > 5:
            return net_ref(parts[5].split("/")[-1], side, region)
        return {**out, "text": raw}
    host, port = _split_host_port(raw)
    shown = f"{host}:{port}" if port else host
    if not host:
        return {**out, "text": shown}
    if side == "from" and port is None and "." not in host:
        return {**out, "kind": "function", "name": host, "text": raw}
    ip = addr.address(host)
    if ip is not None:
        private = addr.is_private((ip, ip))
        return {**out, "kind": "address", "host": host, "address": host, "port": port, "private": private,
                "text": shown}
    rds = _RDS_HOST.match(host)
    if rds:
        kind = rds.group("kind").lower()
        kind = ("rds-proxy" if "proxy" in kind else "rds-cluster" if kind.startswith("cluster") else "rds-instance")
        return {**out, "kind": kind, "name": rds.group("name").lower(), "host": host.lower(), "port": port,
                "text": shown, "reader": "cluster-ro-" in host.lower(), "region": rds.group("region").lower()}
    service = service_of(host, region)
    if service:
        return {**out, "kind": "service", "service": service, "host": host.lower(), "port": port, "text": shown,
                "short": service.split(".", 3)[-1]}
    if "." not in host and port is None:
        return {**out, "kind": "db", "name": host.lower(), "text": raw}    # an identifier: instance, cluster or proxy
    if "." not in host and re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,62}", host) and side == "to":
        # IDENTIFIER:PORT: no DNS name has a single label, so it is a database
        # named with a port (`orders-db:6432`), never an internet host that
        # would be evaluated as reachable whether it exists or not.
        return {**out, "kind": "db", "name": host.lower(), "port": port, "text": shown}
    return {**out, "kind": "host", "host": host.lower(), "port": port, "text": shown}


_DB_NAME = re.compile(r"(DB|DATABASE|PG|POSTGRES|MYSQL|RDS|SQL|PROXY)", re.I)


def env_db(variables: Any) -> dict | None:
    """The database a function's environment points at: the first value that
    is an RDS instance, cluster or proxy endpoint (possibly inside a URL).
    Returns the variable's name and the endpoint only, never the value."""
    found = env_dbs(variables)
    return {k: v for k, v in found[0].items() if k not in ("port", "region")} if found else None


def env_dbs(variables: Any, given: Any = None) -> list[dict]:
    """Every database a function connects to: the one named with --db
    (`given`: an identifier or endpoint) if any, else every RDS instance,
    cluster or proxy endpoint in its environment (possibly inside URLs), each
    once, variables that look like database settings first. Each is
    {variable, endpoint, kind, name, port}: never the value itself."""
    if isinstance(given, str) and given.strip():
        ref = net_ref(given, "to")
        if ref["kind"] == "db" and not re.fullmatch(r"[a-z][a-z0-9-]{0,62}", ref["name"] or ""):
            return []                           # not an RDS identifier
        if ref["kind"] in ("db", "rds-instance", "rds-cluster", "rds-proxy"):
            endpoint = ref["host"] or ref["name"]
            endpoint += f":{ref['port']}" if ref.get("port") else ""
            return [{"variable": "--db", "endpoint": endpoint, "kind": ref["kind"], "name": ref["name"],
                     "port": ref.get("port"), "region": ref.get("region")}]
        return []
    if not isinstance(variables, dict):
        return []
    out: list[dict] = []
    seen: set = set()
    names = sorted(variables, key=lambda k: (not _DB_NAME.search(str(k)), str(k)))
    for name in names:
        value = variables.get(name)
        if not isinstance(value, str) or ".rds.amazonaws.com" not in value.lower():
            continue
        for candidate in re.findall(r"[A-Za-z0-9.:/@%_+~=-]*\.rds\.amazonaws\.com(?::\d{1,5})?", value):
            ref = net_ref(candidate, "to")
            if ref["kind"] in ("rds-instance", "rds-cluster", "rds-proxy") and (ref["kind"], ref["name"]) not in seen:
                seen.add((ref["kind"], ref["name"]))
                endpoint = ref["host"] + (f":{ref['port']}" if ref["port"] else "")
                out.append({"variable": str(name), "endpoint": endpoint, "kind": ref["kind"], "name": ref["name"],
                            "port": ref.get("port"), "region": ref.get("region")})
    return out


# --- ids from Describe* answers --------------------------------------------

def _walk(value: Any):
    """Every answer in a list of answers; for_each results give their `result`."""
    if isinstance(value, list):
        for v in value:
            yield from _walk(v)
    elif isinstance(value, dict):
        if "item" in value and ("result" in value or "error" in value):
            if isinstance(value.get("result"), dict):
                yield value["result"]
        else:
            yield value


def _instances(answer: dict) -> list[dict]:
    return [i for r in answer.get("Reservations") or [] for i in r.get("Instances") or []]


def net_ids(what: str, answers: Any) -> list[str]:
    """Ids of `what` ('subnets', 'security-groups', 'vpcs') named in the answers of
    GetFunctionConfiguration, DescribeInstances, DescribeNetworkInterfaces,
    DescribeDBInstances/Clusters/Proxies, DescribeDBSubnetGroups,
    DescribeVpcEndpoints and DescribeSubnets (for_each results included)."""
    if what not in ("subnets", "security-groups", "vpcs"):
        raise ValueError(f"net_ids: unknown kind {what!r} (subnets, security-groups, vpcs)")
    out: list[str] = []

    def add(*values: Any) -> None:
        for v in values:
            if isinstance(v, str) and v and v not in out:
                out.append(v)

    if what == "subnets":                 # a subnet named directly (--from subnet-...)
        add(*[a for a in (answers if isinstance(answers, list) else [answers])
              if isinstance(a, str) and re.fullmatch(r"subnet-[0-9a-f]{8,17}", a)])
    for a in _walk(answers):
        if what == "subnets":
            add(*((a.get("VpcConfig") or {}).get("SubnetIds") or []))
            for i in _instances(a):
                add(i.get("SubnetId"), *[n.get("SubnetId") for n in i.get("NetworkInterfaces") or []])
            add(*[n.get("SubnetId") for n in a.get("NetworkInterfaces") or []])
            for db in (a.get("DBInstances") or []):
                add(*[s.get("SubnetIdentifier") for s in (db.get("DBSubnetGroup") or {}).get("Subnets") or []])
            for p in a.get("DBProxies") or []:
                add(*(p.get("VpcSubnetIds") or []))
            for g in a.get("DBSubnetGroups") or []:
                add(*[s.get("SubnetIdentifier") for s in g.get("Subnets") or []])
            for e in a.get("VpcEndpoints") or []:
                if (e.get("VpcEndpointType") or "Gateway") == "Interface":
                    add(*(e.get("SubnetIds") or []))
            add(*[s.get("SubnetId") for s in a.get("Subnets") or []])
        elif what == "security-groups":
            add(*((a.get("VpcConfig") or {}).get("SecurityGroupIds") or []))
            for i in _instances(a):
                add(*[g.get("GroupId") for g in i.get("SecurityGroups") or []])
                for n in i.get("NetworkInterfaces") or []:
                    add(*[g.get("GroupId") for g in n.get("Groups") or []])
            for n in a.get("NetworkInterfaces") or []:
                add(*[g.get("GroupId") for g in n.get("Groups") or []])
            for db in (a.get("DBInstances") or []) + (a.get("DBClusters") or []):
                add(*[g.get("VpcSecurityGroupId") for g in db.get("VpcSecurityGroups") or []])
            for p in a.get("DBProxies") or []:
                add(*(p.get("VpcSecurityGroupIds") or []))
            for e in a.get("VpcEndpoints") or []:
                add(*[g.get("GroupId") for g in e.get("Groups") or []])
        else:
            add(*[s.get("VpcId") for s in a.get("Subnets") or []])
            for p in a.get("DBProxies") or []:
                add(p.get("VpcId"))
            for db in a.get("DBInstances") or []:
                add((db.get("DBSubnetGroup") or {}).get("VpcId"))
            for g in a.get("DBSubnetGroups") or []:
                add(g.get("VpcId"))
            for i in _instances(a):
                add(i.get("VpcId"))
            add(*[n.get("VpcId") for n in a.get("NetworkInterfaces") or []])
    return out
