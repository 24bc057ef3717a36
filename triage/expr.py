"""JMESPath as the playbook expression language: compilation (cached), the
domain functions JMESPath lacks (registered here and only here), `${...}`
templates, and the analysis that finds which context names an expression
reads (so the engine can order steps)."""
from __future__ import annotations

import json
import math
import re
import shlex
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import jmespath
from jmespath import exceptions as jexc
from jmespath import functions as jfn

from . import patterns


class ExprError(ValueError):
    """A JMESPath expression that does not compile: carries the position."""

    def __init__(self, expression: str, message: str, position: int | None):
        self.expression, self.position = expression, position
        pointer = f"\n    {expression}\n    {' ' * position}^" if position is not None else ""
        super().__init__(f"invalid JMESPath `{expression}`: {message}{pointer}")


# --- domain functions ------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.I)
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float) -> float:
    """'24h', '90m', '1h30m', '45s', '7d' or a number of seconds -> seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    parts = _DURATION.findall(s)
    if not parts or "".join(n + u for n, u in parts).lower() != s.lower():
        raise ValueError(f"not a duration: {text!r} (write e.g. 30m, 24h, 7d)")
    return sum(float(n) * _UNIT_S[u.lower()] for n, u in parts)


_REPORT = re.compile(
    r"REPORT RequestId:\s*(?P<request_id>\S+)\s+Duration:\s*(?P<duration_ms>[\d.]+)\s*ms"
    r"(?:\s+Billed Duration:\s*(?P<billed_ms>[\d.]+)\s*ms)?"
    r"(?:\s+Memory Size:\s*(?P<memory_mb>\d+)\s*MB)?"
    r"(?:\s+Max Memory Used:\s*(?P<max_memory_mb>\d+)\s*MB)?"
    r"(?:\s+Init Duration:\s*(?P<init_ms>[\d.]+)\s*ms)?"
    r"(?:\s+Status:\s*(?P<status>\w+))?")
_TIMED_OUT = re.compile(r"Task timed out after (\d+(?:\.\d+)?) (seconds|minutes)|Task timed out after (\d+):(\d\d) minutes")
_ARN = re.compile(r"^arn:(?P<partition>[^:]*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.*)$")


def parse_report(line: str) -> dict | None:
    m = _REPORT.search(line or "")
    if not m:
        return None
    out: dict[str, Any] = {}
    for key, value in m.groupdict().items():
        if value is None:
            continue
        out[key] = value if key in ("request_id", "status") else float(value)
    return out


def timed_out_after(line: str) -> float | None:
    m = _TIMED_OUT.search(line or "")
    if not m:
        return None
    if m.group(1):
        return float(m.group(1)) * (60 if m.group(2) == "minutes" else 1)
    return int(m.group(3)) * 60 + int(m.group(4))


def epoch_ms(value: Any) -> int | None:
    """Epoch milliseconds of an ISO 8601 time (`2026-11-22T19:39:20.311+0000`,
    any fraction of a second, `Z` or an offset) or of epoch s or ms; None when
    it is none of these."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp() * 1000)
    if isinstance(value, (int, float)):
        return int(value if value > 10**11 else value * 1000)
    m = re.fullmatch(r"\s*(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?\s*",
                     str(value), re.I)
    if not m:
        return None
    day, clock_time, fraction, zone = m.groups()
    zone = "+00:00" if not zone or zone.upper() == "Z" else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock_time}{zone}")
    except ValueError:
        return None
    return int(parsed.timestamp() * 1000) + int((fraction or "0")[:3].ljust(3, "0"))


def epoch_s(value: Any) -> float | None:
    """Seconds since the epoch of an ISO time, a datetime, or epoch s/ms (a
    number above 10**11 is milliseconds); None when it is none of these."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1000 if value > 10**11 else float(value)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


def iso(epoch: float) -> str:
    """UTC, to the second: 2026-11-29T23:28:08Z."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def timeout_lines(events: list | None, config: dict | None, reports: list | None) -> list[dict]:
    """Lambda's "Task timed out" log events, newest first, as {timestamp,
    message, limit_s, stale}. `stale` says why a line does not describe the
    function as it is configured now, else None:
    - it states a lower limit than today's Timeout ("Task timed out after
      3.00 seconds" is not about a function whose timeout is now 10 s);
    - it was logged before the function's LastModified and the function has
      run since (a REPORT line after the change): it ran under the previous
      configuration or code. (A change with no run since proves nothing yet;
      moto does not move LastModified on configuration changes at all.)"""
    config = config or {}
    timeout = config.get("Timeout")
    changed = epoch_ms(config.get("LastModified"))
    ran_since = changed is not None and any(
        isinstance(r, dict) and isinstance(r.get("timestamp"), (int, float)) and r["timestamp"] > changed
        and "REPORT RequestId" in str(r.get("message") or "") for r in reports or [])
    out = []
    for e in events or []:
        if not isinstance(e, dict):
            continue
        message, stamp = e.get("message"), e.get("timestamp")
        limit = timed_out_after(message) if isinstance(message, str) else None
        if limit is not None and float(limit).is_integer():
            limit = int(limit)
        stale = None   # why the line is older than the configuration, said after "the N timeout(s)"
        if limit is not None and isinstance(timeout, (int, float)) and limit < timeout - 0.5:
            stale = f"predate the timeout raised to {timeout:g} s"
        elif ran_since and isinstance(stamp, (int, float)) and stamp < changed:
            stale = f"predate the function's last change (LastModified {config.get('LastModified')}), and it has run since"
        out.append({"timestamp": stamp, "message": message, "limit_s": limit, "stale": stale})
    out.sort(key=lambda x: x["timestamp"] if isinstance(x["timestamp"], (int, float)) else 0, reverse=True)
    return out


def arn_part(arn: str, part: str) -> str | None:
    m = _ARN.match(arn or "")
    if not m:
        return None
    if part in m.groupdict():
        return m.group(part)
    kind, _, name = _split_resource(m.group("resource"))
    return {"resource_type": kind, "resource_name": name}.get(part)


def _split_resource(resource: str) -> tuple[str, str, str]:
    m = re.match(r"([^:/]*)([:/])(.*)", resource)
    return (m.group(1), m.group(2), m.group(3)) if m else ("", "", resource)


def lambda_name(ref: str) -> str:
    """Function name from a name, a full or partial ARN, with or without qualifier."""
    ref = ref or ""
    if ref.startswith("arn:"):
        parts = ref.split(":")
        return parts[6] if len(parts) > 6 else ref
    parts = ref.split(":")
    if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name
        return parts[2]
    return parts[0]


def route_egress(subnets: list | None, route_tables: list | None) -> list[dict]:
    """For each subnet, its effective route table (explicit association, else
    the VPC's main table) and where 0.0.0.0/0 goes."""
    out = []
    tables = route_tables or []
    for subnet in subnets or []:
        sid, vpc = subnet.get("SubnetId"), subnet.get("VpcId")
        table = next((t for t in tables for a in t.get("Associations", []) if a.get("SubnetId") == sid), None)
        if table is None:
            table = next((t for t in tables if t.get("VpcId") == vpc
                          and any(a.get("Main") for a in t.get("Associations", []))), None)
        target = None
        for route in (table or {}).get("Routes", []):
            if route.get("DestinationCidrBlock") == "0.0.0.0/0" and route.get("State", "active") == "active":
                target = (route.get("NatGatewayId") or route.get("GatewayId") or route.get("InstanceId")
                          or route.get("TransitGatewayId") or route.get("VpcPeeringConnectionId")
                          or route.get("NetworkInterfaceId"))
        out.append({"subnet": sid, "vpc": vpc, "route_table": (table or {}).get("RouteTableId"),
                    "default_route": target,
                    "nat": bool(target) and not str(target).startswith(("igw-", "local"))})
    return out


# create-route's target flag for each target field of a route (copying a table's routes)
_ROUTE_TARGETS = (("NatGatewayId", "--nat-gateway-id"), ("TransitGatewayId", "--transit-gateway-id"),
                  ("VpcPeeringConnectionId", "--vpc-peering-connection-id"),
                  ("EgressOnlyInternetGatewayId", "--egress-only-internet-gateway-id"),
                  ("CarrierGatewayId", "--carrier-gateway-id"), ("LocalGatewayId", "--local-gateway-id"),
                  ("CoreNetworkArn", "--core-network-arn"), ("NetworkInterfaceId", "--network-interface-id"),
                  ("InstanceId", "--instance-id"), ("GatewayId", "--gateway-id"))
_ROUTE_DESTINATIONS = (("DestinationCidrBlock", "--destination-cidr-block"),
                       ("DestinationIpv6CidrBlock", "--destination-ipv6-cidr-block"),
                       ("DestinationPrefixListId", "--destination-prefix-list-id"))


def nat_route_fix(rows: list | None, route_tables: list | None) -> list:
    """The commands that send the default route of the subnets in `rows`
    (route_egress rows without NAT) through "$NAT_GATEWAY_ID", touching no
    other subnet. A table only those subnets use gets its 0.0.0.0/0 replaced
    (or created). A table shared with other subnets (or the VPC's main table,
    which every subnet without an association uses, the NAT's own public
    subnet included) is left alone: a new table is created for the function's
    subnets (its id kept in a shell variable, `{"set": NAME, "argv": [...]}`),
    the shared table's other routes are copied into it (local is implicit;
    gateway endpoints are attached, VGW propagation enabled), 0.0.0.0/0 goes to
    the NAT, and each of the subnets is moved onto it."""
    tables = {t.get("RouteTableId"): t for t in route_tables or [] if isinstance(t, dict)}
    groups: dict[str, list[dict]] = {}
    for row in rows or []:
        if isinstance(row, dict) and row.get("route_table"):
            groups.setdefault(row["route_table"], []).append(row)
    nat = {"var": "NAT_GATEWAY_ID"}

    def shared(table: dict, subnets: set) -> bool:
        assoc = table.get("Associations") or []
        return any(a.get("Main") for a in assoc) or any(
            a.get("SubnetId") and a["SubnetId"] not in subnets for a in assoc)

    shared_ids = [tid for tid, rs in groups.items() if shared(tables.get(tid) or {}, {r["subnet"] for r in rs})]
    out: list = []
    for tid, rs in groups.items():
        table = tables.get(tid) or {}
        if tid not in shared_ids:
            has_default = any(r.get("default_route") for r in rs)
            out.append(["aws", "ec2", "replace-route" if has_default else "create-route", "--route-table-id", tid,
                        "--destination-cidr-block", "0.0.0.0/0", "--nat-gateway-id", nat])
            continue
        name = "RT" if len(shared_ids) == 1 else f"RT_{shared_ids.index(tid) + 1}"
        rt = {"var": name}
        out.append({"set": name, "argv": ["aws", "ec2", "create-route-table", "--vpc-id", rs[0].get("vpc") or table.get("VpcId"),
                                          "--query", "RouteTable.RouteTableId", "--output", "text"]})
        endpoints: list[str] = []
        for route in table.get("Routes") or []:
            if route.get("GatewayId") == "local" or route.get("Origin") in ("CreateRouteTable", "EnableVgwRoutePropagation"):
                continue
            if route.get("DestinationCidrBlock") == "0.0.0.0/0" or route.get("State", "active") != "active":
                continue
            gateway = route.get("GatewayId") or ""
            if gateway.startswith("vpce-"):       # a gateway endpoint (S3, DynamoDB): its routes are the endpoint's
                if gateway not in endpoints:
                    endpoints.append(gateway)
                continue
            dest = next(((flag, route[k]) for k, flag in _ROUTE_DESTINATIONS if route.get(k)), None)
            target = next(((flag, route[k]) for k, flag in _ROUTE_TARGETS if route.get(k)), None)
            if dest and target:
                out.append(["aws", "ec2", "create-route", "--route-table-id", rt, dest[0], dest[1], target[0], target[1]])
        for gateway in endpoints:
            out.append(["aws", "ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", gateway, "--add-route-table-ids", rt])
        for vgw in table.get("PropagatingVgws") or []:
            if vgw.get("GatewayId"):
                out.append(["aws", "ec2", "enable-vgw-route-propagation", "--route-table-id", rt,
                            "--gateway-id", vgw["GatewayId"]])
        out.append(["aws", "ec2", "create-route", "--route-table-id", rt, "--destination-cidr-block", "0.0.0.0/0",
                    "--nat-gateway-id", nat])
        for r in rs:
            assoc = next((a for a in table.get("Associations") or [] if a.get("SubnetId") == r["subnet"]), None)
            if assoc and assoc.get("RouteTableAssociationId"):
                out.append(["aws", "ec2", "replace-route-table-association", "--association-id",
                            assoc["RouteTableAssociationId"], "--route-table-id", rt])
            else:
                out.append(["aws", "ec2", "associate-route-table", "--route-table-id", rt, "--subnet-id", r["subnet"]])
    return out


def rds_proxy_name(db: str | None, suffix: str = "proxy") -> str | None:
    """`<db>-proxy` as a valid RDS Proxy name: ASCII letters, digits and
    hyphens, a letter first, no two hyphens in a row, none at the end, at
    most 63 characters (a long identifier is cut, never the suffix)."""
    if not db:
        return None
    base = re.sub(r"[^A-Za-z0-9-]+", "-", str(db))
    base = re.sub(r"-{2,}", "-", base).strip("-")
    if not base[:1].isalpha():
        base = ("db-" + base).strip("-")
    base = base[:63 - len(suffix) - 1].rstrip("-")
    return f"{base}-{suffix}"


def clock() -> float:
    """Seconds since the epoch as now_ms()/ago_ms() see them; `triage test`
    freezes it to a case's recording time (triage.casefile.frozen_clock)."""
    return _frozen_now if _frozen_now is not None else time.time()


_frozen_now: float | None = None


# --- domain: ResourceNotFound, Lambda + RDS connections, account posture ---

def similar_names(name: str | None, candidates: list | None, limit: int = 5) -> list[str]:
    """Names among `candidates` that look like `name` (case, '-'/'_'/'.'
    separators, a typo or a stage suffix apart): the most common real cause
    of a Lambda ResourceNotFoundException. Best match first."""
    import difflib

    def norm(s: str) -> str:
        return re.sub(r"[-_.\s]", "", s.lower())

    target = norm(lambda_name(name or ""))
    scored = []
    for cand in candidates or []:
        if not isinstance(cand, str) or cand == name or not target:
            continue
        n = norm(cand)
        ratio = difflib.SequenceMatcher(None, target, n).ratio()
        if n == target:
            score = 1.0
        elif min(len(n), len(target)) >= 4 and (target in n or n in target):
            score = 0.9 + ratio / 20     # one name inside the other (a stage suffix), closest first
        else:
            score = ratio
        if score >= 0.8:
            scored.append((-score, cand))
    return [c for _, c in sorted(scored)[:limit]]


# RDS engine defaults for max_connections (the formulas AWS documents for the
# default parameter groups; describe_engine_default_parameters is not needed).
RDS_MAX_CONNECTIONS_DEFAULTS = {
    "postgres": "LEAST({DBInstanceClassMemory/9531392},5000)",
    "aurora-postgresql": "LEAST({DBInstanceClassMemory/9531392},5000)",
    "mysql": "{DBInstanceClassMemory/12582880}",
    "mariadb": "{DBInstanceClassMemory/12582880}",
    "aurora-mysql": "GREATEST({log(DBInstanceClassMemory/805306368)*45},{log(DBInstanceClassMemory/8187281408)*1000})",
}


def _rds_eval(text: str) -> float:
    """Evaluate an RDS parameter formula body (numbers, + - * /, LEAST,
    GREATEST, SUM, log base 2) without eval()."""
    import ast

    funcs = {"least": min, "greatest": max, "sum": lambda *a: sum(a), "log": math.log2}
    source = text.replace("{", "(").replace("}", ")")
    source = re.sub(r"\b(LEAST|GREATEST|SUM|LOG)\b", lambda m: m.group(1).lower(), source, flags=re.I)

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.Div):
            a, b = ev(node.left), ev(node.right)
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(node.op)) if not isinstance(node.op, ast.Div) else a / b
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in funcs and not node.keywords:
            return funcs[node.func.id](*[ev(a) for a in node.args])
        raise ValueError(f"unsupported in an RDS formula: {ast.dump(node)[:60]}")
    return ev(ast.parse(source, mode="eval"))


def rds_max_connections(param_value: str | None, engine: str | None, memory_mib: float | None) -> dict | None:
    """max_connections of an RDS instance, with the arithmetic shown: the
    parameter group's value (a number or a formula) or, when the group leaves
    it at the engine default, the engine's default formula. DBInstanceClassMemory
    is the instance class's full memory (no OS reserve subtracted, so this is an
    upper bound for the real value)."""
    formula, source = param_value, "parameter group"
    if formula in (None, ""):
        formula, source = RDS_MAX_CONNECTIONS_DEFAULTS.get((engine or "").lower()), "engine default"
    if formula is None:
        return None
    formula = str(formula).strip()
    if re.fullmatch(r"\d+", formula):
        return {"max_connections": int(formula), "source": source, "formula": formula,
                "arithmetic": f"max_connections = {formula} (set explicitly)", "class_memory_bytes": None}
    if memory_mib is None:
        return None
    memory = int(memory_mib * 1024 * 1024)
    try:
        with_memory = formula.replace("DBInstanceClassMemory", str(memory))
        # each {...} term is evaluated and truncated to an integer, as RDS does
        terms = re.sub(r"\{([^{}]*)\}", lambda m: str(int(_rds_eval(m.group(1)))), with_memory)
        value = int(_rds_eval(terms))
    except (ValueError, SyntaxError, ZeroDivisionError, TypeError):
        return None
    steps = list(dict.fromkeys([with_memory, terms, str(value)]))  # drop repeats, keep order
    return {"max_connections": value, "source": source, "formula": formula, "class_memory_bytes": memory,
            "arithmetic": f"DBInstanceClassMemory = {memory} ({memory_mib:g} MiB): {' = '.join(steps)}"}


def rds_concurrency_budget(max_connections: Any, pool_size: Any, reserved: Any, unbounded: Any) -> dict | None:
    """How much reserved concurrency each unbounded function can have so that
    every function sharing the database stays under 80% of max_connections:
    the 80% budget, minus what the functions that already reserve concurrency
    can open (reservation x pool size), shared equally by the unbounded ones.
    `reserved`: [{function, reserved_concurrency}]; `unbounded`: function names.
    per_function is None when nothing is left (never 0: a reservation of 0
    stops a function)."""
    if not isinstance(max_connections, (int, float)) or not isinstance(pool_size, (int, float)) or pool_size < 1:
        return None
    pool = int(pool_size)
    taken = [r for r in reserved or [] if isinstance(r, dict) and isinstance(r.get("reserved_concurrency"), (int, float))]
    names = [str(n) for n in unbounded or []]
    budget = int(math.floor(max_connections * 0.8))
    held = sum(int(r["reserved_concurrency"]) * pool for r in taken)
    left = budget - held
    n = len(names)
    per_function = left // (n * pool) if n and left > 0 else 0
    steps = [f"80% of max_connections {max_connections:g} = {budget} connections"]
    if taken:
        each = " + ".join(f"{r['function']} {int(r['reserved_concurrency'])}" for r in taken)
        total = f"{each} = {held // pool}" if len(taken) > 1 else each
        steps.append(f"already reserved: {total} x pool size {pool} = {held} connections; {budget} - {held} = {left} left")
    if n and per_function >= 1:
        steps.append(f"floor({left} / ({n} unbounded function{'s' if n != 1 else ''} x pool size {pool})) = "
                     f"{per_function} each")
    elif n:
        steps.append(f"less than 1 each for {n} unbounded function{'s' if n != 1 else ''} x pool size {pool}: "
                     "nothing is left for them")
    return {
        "max_connections": max_connections, "budget": budget, "pool_size": pool,
        "already_reserved": [{"function": r["function"], "reserved_concurrency": int(r["reserved_concurrency"])}
                             for r in taken],
        "already_reserved_connections": held, "left": left, "unbounded_functions": n,
        "per_function": per_function if per_function >= 1 else None,
        "plan": [{"function": f, "reserved_concurrency": per_function} for f in names] if per_function >= 1 else [],
        "arithmetic": "; ".join(steps),
    }


def csv_rows(content: Any) -> list[dict]:
    """CSV text or bytes (e.g. the IAM credential report) -> one dict per row."""
    import csv
    import io

    if isinstance(content, (bytes, bytearray)):
        content = content.decode("utf-8", "replace")
    return list(csv.DictReader(io.StringIO(content or "")))


_CONDITIONS_THAT_SCOPE = re.compile(r"^aws:(SourceIp|SourceVpce?|SourceArn|SourceAccount|PrincipalOrgID|PrincipalAccount|"
                                    r"PrincipalArn|userid|username|SourceOrgID)$", re.I)


def public_statements(policy: Any) -> list[dict]:
    """Allow statements of a resource policy that any principal can use: the
    principal is "*" (or {"AWS": "*"}) and no condition narrows who or where
    (source IP/VPC/ARN/account, organization, principal)."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return []
    statements = (policy or {}).get("Statement") if isinstance(policy, dict) else None
    out = []
    for st in statements if isinstance(statements, list) else [statements] if statements else []:
        principal = st.get("Principal")
        anyone = principal == "*" or (isinstance(principal, dict) and "*" in (
            principal.get("AWS") if isinstance(principal.get("AWS"), list) else [principal.get("AWS")]))
        keys = [k for block in (st.get("Condition") or {}).values() if isinstance(block, dict) for k in block]
        if st.get("Effect") == "Allow" and anyone and not any(_CONDITIONS_THAT_SCOPE.match(k) for k in keys):
            out.append(st)
    return out


class TriageFunctions(jfn.Functions):
    """Custom JMESPath functions available in every playbook expression."""

    @jfn.signature({"types": ["string", "null"]}, {"types": ["string"]})
    def _func_regex_match(self, s, pattern):
        # RE2 (triage.patterns): linear in the text, whatever the pattern
        return bool(s is not None and patterns.search(pattern, s))

    @jfn.signature({"types": ["string", "null"]}, {"types": ["string"]})
    def _func_regex_extract(self, s, pattern):
        m = patterns.search(pattern, s or "")
        return (m.group(1) if m.groups() else m.group(0)) if m else None

    @jfn.signature({"types": ["string", "null"]})
    def _func_parse_report(self, line):
        return parse_report(line)

    @jfn.signature({"types": ["string", "null"]})
    def _func_timed_out_after(self, line):
        return timed_out_after(line)

    @jfn.signature({"types": ["string", "number", "null"]})
    def _func_epoch_ms(self, value):
        return epoch_ms(value)

    @jfn.signature({"types": ["array", "null"]}, {"types": ["string"]}, {"types": ["string", "number", "null"]})
    def _func_after(self, items, path, time_value):
        """The elements whose time at `path` is after `time_value` (epoch s/ms
        or ISO); every element when `time_value` is null (no cut)."""
        cut = epoch_ms(time_value)
        if cut is None:
            return list(items or [])
        compiled = compile_expr(path)
        return [i for i in items or [] if (epoch_ms(compiled.search(i, options=OPTIONS)) or cut) > cut]

    @jfn.signature({"types": ["array", "null"]}, {"types": ["object", "null"]}, {"types": ["array", "null"]})
    def _func_timeout_lines(self, events, config, reports):
        return timeout_lines(events, config, reports)

    # Time windows are aligned to whole minutes so that the same question
    # asked twice within a minute is the same call (and can be reused).
    @jfn.signature()
    def _func_now_ms(self):
        return int(math.ceil(clock() / 60) * 60 * 1000)

    @jfn.signature({"types": ["string", "number"]})
    def _func_ago_ms(self, duration):
        return int((clock() - parse_duration(duration)) // 60 * 60 * 1000)

    @jfn.signature({"types": ["string", "number"]})
    def _func_duration_s(self, duration):
        return parse_duration(duration)

    @jfn.signature({"types": ["string", "number"]})
    def _func_metric_period(self, duration):
        # CloudWatch returns at most 1,440 datapoints; periods are multiples of 60 s.
        return max(60, int(math.ceil(parse_duration(duration) / 1440 / 60)) * 60)

    @jfn.signature({"types": ["number"]})
    def _func_iso(self, ms):
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="seconds")

    @jfn.signature({"types": ["string", "null"]}, {"types": ["string"]})
    def _func_arn_part(self, arn, part):
        return arn_part(arn, part)

    @jfn.signature({"types": ["string", "null"]})
    def _func_lambda_name(self, ref):
        return lambda_name(ref) if ref else None

    @jfn.signature({"types": ["array", "null"]}, {"types": ["array", "null"]})
    def _func_route_egress(self, subnets, tables):
        return route_egress(subnets, tables)

    @jfn.signature({"types": ["array", "null"]}, {"types": ["array", "null"]})
    def _func_nat_route_fix(self, rows, tables):
        return nat_route_fix(rows, tables)

    @jfn.signature({"types": ["string", "null"]})
    def _func_rds_proxy_name(self, db):
        return rds_proxy_name(db)

    @jfn.signature({"types": ["string", "null"]}, {"types": ["string"]})
    def _func_rds_name(self, db, suffix):
        return rds_proxy_name(db, suffix)

    @jfn.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_add(self, a, b):
        return a + b

    @jfn.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_sub(self, a, b):
        return a - b

    @jfn.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_mul(self, a, b):
        return a * b

    @jfn.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_div(self, a, b):
        return a / b if b else None

    @jfn.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_round_up(self, n, step):
        return int(math.ceil(n / step) * step) if step else n

    @jfn.signature({"types": []})
    def _func_text(self, value):
        """A value as a template shows it (3.0 -> '3', null -> 'unknown'): for join()."""
        return stringify(value)

    @jfn.signature({"types": ["string", "null"]})
    def _func_lower(self, s):
        return s.lower() if s is not None else None

    @jfn.signature({"types": ["array"]})
    def _func_unique(self, items):
        seen, out = set(), []
        for item in items:
            key = json.dumps(item, sort_keys=True, default=str)
            if key not in seen:
                seen.add(key)
                out.append(item)
        return out

    # JMESPath has no root reference inside filters, so `list[?k == other_value]`
    # cannot compare with a value from the context: these do it.
    @jfn.signature({"types": ["array", "null"]}, {"types": ["string"]}, {"types": ["string", "number", "boolean", "null"]})
    def _func_find(self, items, path, value):
        """First element whose `path` equals `value`, else null."""
        compiled = compile_expr(path)
        return next((i for i in items or [] if compiled.search(i, options=OPTIONS) == value), None)

    @jfn.signature({"types": ["array", "null"]}, {"types": ["string"]}, {"types": ["string", "number", "boolean", "null"]})
    def _func_where(self, items, path, value):
        """Every element whose `path` equals `value`."""
        compiled = compile_expr(path)
        return [i for i in items or [] if compiled.search(i, options=OPTIONS) == value]

    @jfn.signature({"types": ["array", "null"]}, {"types": ["string"]}, {"types": ["array", "null"]})
    def _func_where_in(self, items, path, values):
        """Every element whose `path` is one of `values`."""
        compiled = compile_expr(path)
        wanted = values or []
        return [i for i in items or [] if compiled.search(i, options=OPTIONS) in wanted]

    @jfn.signature({"types": ["array", "null"]}, {"types": ["object"]})
    def _func_each_with(self, items, extra):
        """Each element with context values beside it, and its 1-based
        position: `[{item, n, ...extra}]`, so that a projection over it can
        read what a projection alone cannot (`each_with(list, {tables: t})[].
        find(tables, 'item.UUID', item.UUID)`)."""
        return [{**extra, "item": i, "n": k} for k, i in enumerate(items or [], 1)]

    @jfn.signature({"types": ["string", "null"]})
    def _func_from_json(self, s):
        try:
            return json.loads(s) if s else None
        except ValueError:
            return None

    # --- IAM (triage/iam/bridge.py) --------------------------------------------
    @jfn.signature({"types": ["string", "null"]})
    def _func_principal_ref(self, ref):
        from .iam.bridge import principal_ref
        return principal_ref(ref)

    @jfn.signature({"types": ["object"]})
    def _func_iam_evaluate(self, spec):
        from .iam.bridge import evaluate_requests
        return evaluate_requests(spec)

    @jfn.signature({"types": ["object", "string", "null"]}, {"types": ["string"]}, {"types": ["string", "null"]})
    def _func_iam_trust(self, document, principal, role_arn):
        from .iam.bridge import trust_decision
        return trust_decision(document, principal, role_arn) if document else None

    @jfn.signature({"types": ["object", "string", "null"]}, {"types": ["string"]})
    def _func_trust_with_service(self, document, service):
        from .iam.bridge import trust_with_service
        return trust_with_service(document, service)

    @jfn.signature({"types": ["array"]}, {"types": ["string"]})
    def _func_least_privilege(self, actions, resource):
        from .iam.bridge import least_privilege
        return least_privilege(actions, resource)

    @jfn.signature({"types": ["object", "string", "null"]}, {"types": ["string"]}, {"types": ["string"]})
    def _func_policy_add_resource(self, document, statement, resource):
        from .iam.bridge import policy_add_resource
        return policy_add_resource(document, statement, resource)

    @jfn.signature({"types": ["object", "string", "null"]}, {"types": ["string"]}, {"types": ["string", "null"]},
                   {"types": ["array"]}, {"types": ["string"]}, {"types": ["string"]})
    def _func_deny_narrowed(self, document, statement, principal, actions, resource, layer):
        from .iam.bridge import deny_narrowed
        return deny_narrowed(document, statement, principal, actions, resource, layer)

    @jfn.signature({"types": ["object", "string", "null"]}, {"types": ["array"]}, {"types": ["string"]})
    def _func_policy_add_grant(self, document, actions, resource):
        from .iam.bridge import policy_add_grant
        return policy_add_grant(document, actions, resource)

    @jfn.signature({"types": ["object", "null"]})
    def _func_authorization_message(self, answer):
        from .iam.bridge import authorization_message
        return authorization_message(answer)

    @jfn.signature({"types": ["array", "null"]}, {"types": ["string"]})
    def _func_each_pairs(self, results, field):
        from .iam.bridge import each_pairs
        return each_pairs(results, field)

    @jfn.signature({"types": ["array", "null"]}, {"types": ["array", "null"]})
    def _func_scp_levels(self, targets, policies):
        from .iam.bridge import scp_levels
        return scp_levels(targets, policies)

    @jfn.signature({"types": ["array", "null"]}, {"types": ["array", "null"]})
    def _func_simulator_disagreements(self, simulated, decisions):
        from .iam.bridge import simulator_disagreements
        return simulator_disagreements(simulated, decisions)

    @jfn.signature({"types": ["array", "null"]})
    def _func_kv_pairs(self, items):
        from .iam.bridge import kv_pairs
        return kv_pairs(items)

    # --- access-denied beyond IAM statements (triage/iam/bridge.py) -------------

    @jfn.signature({"types": ["array", "null"]}, {"types": ["string"]})
    def _func_context_value(self, items, key):
        from .iam.bridge import context_value
        return context_value(items, key)

    @jfn.signature({"types": ["array"]}, {"types": ["string", "null"]}, {"types": ["string", "null"]})
    def _func_placeholder_arn(self, actions, region, account):
        from .iam.bridge import placeholder_resource
        return placeholder_resource(actions, region, account)

    @jfn.signature({"types": ["array"]}, {"types": ["string", "null"]})
    def _func_resource_rule(self, actions, resource):
        from .iam.bridge import resource_rule
        return resource_rule(actions, resource)

    @jfn.signature({"types": ["array"]}, {"types": ["string"]})
    def _func_fix_statement_text(self, actions, resource):
        from .iam.bridge import fix_statement_text
        return fix_statement_text(actions, resource)

    @jfn.signature({"types": ["string", "object", "null"]}, {"types": ["array", "null"]}, {"types": ["string"]})
    def _func_kms_key_policy(self, document, grants, name):
        from .iam.bridge import kms_key_policy
        return kms_key_policy(document, grants, name)

    @jfn.signature({"types": ["string", "null"]}, {"types": ["object", "null"]})
    def _func_kms_key_ref(self, resource, head):
        from .iam.bridge import kms_key_ref
        return kms_key_ref(resource, head)

    @jfn.signature({"types": ["object"]}, {"types": ["object", "null"]}, {"types": ["string", "object", "null"]},
                   {"types": ["array", "null"]}, {"types": ["object", "null"]}, {"types": ["string", "null"]},
                   {"types": ["string", "null"]})
    def _func_kms_request(self, request, key, key_policy, grants, head, region, resource):
        from .iam.bridge import kms_request
        return kms_request(request, key, key_policy, grants, head, region, resource)

    @jfn.signature({"types": ["object", "null"]}, {"types": ["object", "null"]}, {"types": ["object", "null"]})
    def _func_s3_ownership(self, object_acl, bucket_acl, ownership):
        from .iam.bridge import s3_ownership
        return s3_ownership(object_acl, bucket_acl, ownership)

    @jfn.signature({"types": ["object", "null"]}, {"types": ["object", "null"]}, {"types": ["object", "null"]},
                   {"types": ["array"]}, {"types": ["string", "null"]}, {"types": ["string", "null"]})
    def _func_vpc_endpoints(self, answer, route_tables, instance, actions, region, named):
        from .iam.bridge import vpc_endpoints
        return vpc_endpoints(answer, route_tables, instance, actions, region, named)

    @jfn.signature({"types": ["string", "object", "null"]}, {"types": ["string", "null"]}, {"types": ["array"]},
                   {"types": ["string"]}, {"types": ["string"]})
    def _func_resource_policy_fix(self, document, principal, actions, resource, kind):
        from .iam.bridge import resource_policy_fix
        return resource_policy_fix(document, principal, actions, resource, kind)

    @jfn.signature({"types": ["array", "null"]}, {"types": ["string", "null"]})
    def _func_resource_policy_support(self, actions, resource):
        from .iam.bridge import resource_policy_support
        return resource_policy_support(actions, resource)

    @jfn.signature({"types": ["string", "null"]}, {"types": ["array", "null"]}, {"types": ["string", "null"]},
                   {"types": ["string", "null"]})
    def _func_cross_account_role(self, principal, actions, resource, resource_account):
        from .iam.bridge import cross_account_role
        return cross_account_role(principal, actions, resource, resource_account)

    @jfn.signature({"types": ["array"]})
    def _func_rcp_service(self, actions):
        from .iam.bridge import rcp_service
        return rcp_service(actions)

    @jfn.signature({"types": ["object"]})
    def _func_unseen_layers(self, facts):
        from .iam.bridge import unseen_layers
        return unseen_layers(facts)

    @jfn.signature({"types": ["string", "number", "boolean", "array", "object", "null"]})
    def _func_to_json(self, value):
        return json.dumps(value, separators=(",", ":"), sort_keys=False)


    # --- issue 4: lambda-not-found, rds-connections, account-posture ---------
    @jfn.signature({"types": ["string", "null"]}, {"types": ["array", "null"]})
    def _func_similar_names(self, name, candidates):
        return similar_names(name, candidates)

    @jfn.signature({"types": ["string", "number", "null"]}, {"types": ["string", "null"]}, {"types": ["number", "null"]})
    def _func_rds_max_connections(self, param_value, engine, memory_mib):
        return rds_max_connections(None if param_value is None else str(param_value), engine, memory_mib)

    @jfn.signature({"types": ["number", "null"]}, {"types": ["number", "null"]}, {"types": ["array", "null"]},
                   {"types": ["array", "null"]})
    def _func_rds_concurrency_budget(self, max_connections, pool_size, reserved, unbounded):
        return rds_concurrency_budget(max_connections, pool_size, reserved, unbounded)

    @jfn.signature({"types": []})
    def _func_csv_rows(self, content):
        return csv_rows(content) if content else []

    @jfn.signature({"types": ["string", "object", "null"]})
    def _func_public_statements(self, policy):
        return public_statements(policy)

    # --- network paths (triage/netpath/) ---------------------------------------
    @jfn.signature({"types": ["string", "null"]}, {"types": ["string"]})
    def _func_net_ref(self, text, side):
        from .netpath import net_ref
        return net_ref(text, side)

    @jfn.signature({"types": ["string"]}, {"types": ["array"]})
    def _func_net_ids(self, what, answers):
        from .netpath import net_ids
        return net_ids(what, answers)

    @jfn.signature({"types": ["object"]})
    def _func_net_facts(self, raw):
        from .netpath import net_facts
        return net_facts(raw)

    @jfn.signature({"types": ["string"]}, {"types": ["object", "null"]}, {"types": ["object", "null"]})
    def _func_net_eval(self, hop, net, data):
        from .netpath import net_eval
        return net_eval(hop, net, data)

    @jfn.signature({"types": ["object", "null"]})
    def _func_env_db(self, variables):
        from .netpath import env_db
        return env_db(variables)

    @jfn.signature({"types": ["object", "null"]}, {"types": ["string", "null"]})
    def _func_env_dbs(self, variables, given):
        from .netpath import env_dbs
        return env_dbs(variables, given)


OPTIONS = jmespath.Options(custom_functions=TriageFunctions())
FUNCTION_NAMES = frozenset(OPTIONS.custom_functions.FUNCTION_TABLE)


@lru_cache(maxsize=4096)
def compile_expr(expression: str):
    try:
        compiled = jmespath.compile(expression)
    except jexc.ParseError as exc:
        token = getattr(exc, "token_value", None)
        detail = getattr(exc, "msg", "parse error")
        if token not in (None, ""):
            detail += f" (unexpected {token!r})"
        elif getattr(exc, "token_type", None) == "eof":
            detail += " (the expression ends too early)"
        raise ExprError(expression, detail, getattr(exc, "lex_position", None)) from None
    except jexc.JMESPathError as exc:
        raise ExprError(expression, str(exc).splitlines()[0], None) from None
    except RecursionError:  # jmespath's parser recurses once per nesting level
        raise ExprError(expression[:80] + ("..." if len(expression) > 80 else ""),
                        "nests too deeply (more than a few hundred levels of parentheses, brackets or calls)",
                        None) from None
    unknown = sorted(_function_names(compiled.parsed) - FUNCTION_NAMES)
    if unknown:
        from .suggest import suggest
        guess = suggest(unknown[0], FUNCTION_NAMES)
        hint = f"; did you mean {guess}()?" if guess else ""
        raise ExprError(expression, f"unknown function {unknown[0]}(){hint}", expression.find(unknown[0]))
    return compiled


def search(expression: str, data: Any) -> Any:
    return compile_expr(expression).search(data, options=OPTIONS)


REGEX_FUNCTIONS = frozenset({"regex_match", "regex_extract"})


def regex_literals(expression: str) -> list[str]:
    """The literal patterns given to regex_match/regex_extract (checked by `validate`)."""
    out: list[str] = []
    _regex_literals(compile_expr(expression).parsed, out)
    return out


def _regex_literals(node: dict, out: list[str]) -> None:
    children = [c for c in node.get("children", []) if isinstance(c, dict)]
    if node.get("type") == "function_expression" and node.get("value") in REGEX_FUNCTIONS \
            and len(children) == 2 and children[1].get("type") == "literal":
        out.append(children[1].get("value"))
    for child in children:
        _regex_literals(child, out)


def string_literals(expression: str) -> set[str]:
    """Every string literal written in an expression ('text' or `"text"`)."""
    out: set[str] = set()
    todo = [compile_expr(expression).parsed]
    while todo:
        node = todo.pop()
        if node.get("type") == "literal" and isinstance(node.get("value"), str):
            out.add(node["value"])
        todo += [c for c in node.get("children", []) if isinstance(c, dict)]
    return out


def _function_names(node: dict) -> set[str]:
    names = {node["value"]} if node.get("type") == "function_expression" else set()
    for child in node.get("children", []):
        if isinstance(child, dict):
            names |= _function_names(child)
    return names


# Node types whose later children are evaluated relative to the left side,
# not the root context: only the first child can reference root names.
_RELATIVE_AFTER_FIRST = {"subexpression", "index_expression", "projection", "value_projection",
                         "filter_projection", "flatten", "pipe"}


def root_names(expression: str) -> set[str]:
    """Top-level context names an expression reads (e.g. {'config', 'inputs'})."""
    return _roots(compile_expr(expression).parsed)


def _roots(node: dict) -> set[str]:
    kind = node.get("type")
    if kind == "field":
        return {node["value"]}
    if kind == "expref":   # sort_by(list, &key): `key` is a field of each element
        return set()
    children = [c for c in node.get("children", []) if isinstance(c, dict)]
    if kind in _RELATIVE_AFTER_FIRST:
        children = children[:1]
    out: set[str] = set()
    for child in children:
        out |= _roots(child)
    return out


def negation_traps(expression: str) -> list[str]:
    """`!a.b` parses as `(!a).b` in JMESPath (always null): find such spots."""
    out: list[str] = []
    _negations(compile_expr(expression).parsed, out)
    return out


def _negations(node: dict, out: list[str]) -> None:
    children = [c for c in node.get("children", []) if isinstance(c, dict)]
    if node.get("type") in ("subexpression", "index_expression", "projection", "filter_projection") and children \
            and children[0].get("type") == "not_expression":
        inner = _chain(children[0]["children"][0]) if children[0].get("children") else None
        rest = _chain(children[1]) if len(children) > 1 else None
        out.append(".".join((inner or ["x"]) + (rest or ["y"])))
    for c in children:
        _negations(c, out)


def relative_names(expression: str) -> set[str]:
    """Names read relative to an element (inside filters/projections). A name
    that is also a step or derived value is almost always a mistake: JMESPath
    has no root reference there."""
    out: set[str] = set()
    _relative(compile_expr(expression).parsed, False, out)
    return out


def _relative(node: dict, inside: bool, out: set[str]) -> None:
    kind = node.get("type")
    if kind == "field":
        if inside:
            out.add(node["value"])
        return
    children = [c for c in node.get("children", []) if isinstance(c, dict)]
    if kind == "expref":   # &key: read from each element
        for c in children:
            _relative(c, True, out)
        return
    if kind == "subexpression":  # only the head of a chain is a name lookup in the current scope
        if children:
            _relative(children[0], inside, out)
            for c in children[1:]:
                _relative_inner(c, out)
        return
    if kind in _RELATIVE_AFTER_FIRST:
        if children:
            _relative(children[0], inside, out)
        for c in children[1:]:
            _relative(c, True, out)
        return
    for c in children:
        _relative(c, inside, out)


def _relative_inner(node: dict, out: set[str]) -> None:
    # the right side of a.b: fields there are keys of `a`, but filters/functions
    # inside it open new relative scopes
    if node.get("type") == "field":
        return
    _relative(node, True, out)


def field_paths(expression: str) -> list[list[str]]:
    """Plain dotted field chains starting at the root (for output-shape checks)."""
    paths: list[list[str]] = []
    _collect_paths(compile_expr(expression).parsed, paths)
    return paths


def _collect_paths(node: dict, out: list) -> None:
    chain = _chain(node)
    if chain:
        out.append(chain)
        return
    children = [c for c in node.get("children", []) if isinstance(c, dict)]
    if node.get("type") in _RELATIVE_AFTER_FIRST:
        children = children[:1]
    for child in children:
        _collect_paths(child, out)


def _chain(node: dict) -> list[str] | None:
    """A path of field names from the root; "[]" marks stepping into a list
    (projection, flatten, filter, index), so `config.Layers[].Arn` is
    ['config', 'Layers', '[]', 'Arn']. None when the node is not such a path."""
    kind = node.get("type")
    children = [c for c in node.get("children", []) if isinstance(c, dict)]
    if kind == "field":
        return [node["value"]]
    if kind == "subexpression":
        out: list[str] = []
        for child in children:
            part = _chain(child)
            if part is None:
                return out or None
            out += part
        return out
    if kind in ("projection", "filter_projection") and children:
        left = _chain(children[0])
        if left is None:
            return None
        right = _chain(children[1]) if len(children) > 1 and children[1].get("type") != "identity" else []
        return left + (["[]"] if not left or left[-1] != "[]" else []) + (right or [])
    if kind == "flatten" and children:
        left = _chain(children[0])
        return left + ["[]"] if left else None
    if kind == "index_expression" and len(children) == 2 and children[1].get("type") == "index":
        left = _chain(children[0])
        return left + ["[]"] if left else None
    return None


# --- templates -------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    """A string with `${jmespath}` holes. A template that is a single hole
    yields the raw value (number, list, ...), not its string form."""

    source: str
    parts: tuple  # str or ("expr", expression)

    @property
    def expressions(self) -> list[str]:
        return [p[1] for p in self.parts if isinstance(p, tuple)]

    def render(self, context: Any, quote: bool = False) -> Any:
        """quote=True: a shell command; every hole is quoted for the shell
        context it sits in (bare, or inside the template's own "..." or '...'),
        so no value can end a quote or start a substitution; and the
        template's own bare words that bash or zsh would glob or
        history-expand are quoted too (guard_words)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], tuple) and not quote:
            return search(self.parts[0][1], context)
        out = []
        shell = None   # the shell's quoting state at this point of the template
        word_start = True
        for part in self.parts:
            if isinstance(part, str):
                if quote:
                    guarded, word_start = guard_words(part, shell, word_start)
                    out.append(guarded)
                else:
                    out.append(part)
                shell = _shell_state(part, shell) if quote else None
                continue
            text = stringify(search(part[1], context))
            out.append(shell_quote(text, shell) if quote else text)
            word_start = False
        return "".join(out)


def shell_quote(text: str, inside: str | None = None) -> str:
    """`text` as one shell word: bare (shlex.quote), or the inside of a "..."
    or '...' that the template itself opened."""
    if inside == '"':   # '!' cannot be escaped inside "..." (bash keeps the backslash): '!' between quotes
        return re.sub(r'([\\"$`])', r"\\\1", text).replace("!", "\"'!'\"")
    if inside == "'":
        return text.replace("'", "'\\''")
    quoted = shlex.quote(text)
    return f"'{quoted}'" if quoted.startswith("=") else quoted   # zsh expands =word to a command's path


# Characters bash or zsh give a meaning to in a bare word: globs (* ? [ ]),
# brace expansion ({ }), history (! and a leading ^), zsh's extended globs
# (^ ~ #, on for many zsh users), '#' starting a comment, '~' a home
# directory; '=' starting a word is a path lookup in zsh. A leading ~/ is
# the home directory in both shells and stays as it is.
_GLOB_CHARS = frozenset("*?[]{}!^~#`")       # and '`': command substitution in both
_QUERY_CHARS = frozenset("|&<>()")               # JMESPath's, in a --query value: not the shell's
_SEPARATORS = frozenset(" \t\n;&|<>()")


def guard_words(literal: str, state: str | None = None, word_start: bool = True,
                found: list[str] | None = None) -> tuple[str, bool]:
    """A template's literal shell text with every bare run of characters
    that bash or zsh would expand (a glob, brace, history or tilde
    character, a backtick; '#' or '=' starting a word) put in single
    quotes, and a '!' inside "..." moved out of it, a backtick there
    escaped. The words the shell computes are the same; only expansion is
    prevented. $NAME and ${NAME} are left alone, so placeholders such as
    "$PUBLIC_SUBNET_ID" still expand. The value of `--query` is a JMESPath
    expression: its `|`, `&`, `<`, `>` and balanced parentheses belong to
    it, not to the shell, so they are quoted with it. `state` is the
    quoting state the literal starts in, `word_start` whether it starts a
    word; returns the text and whether the next character starts a word.
    The runs that needed quoting are appended to `found` (for `validate`)."""
    out: list[str] = []
    run: list[str] = []
    run_start = word_start
    word: list[str] = []           # the current word as written (quotes included)
    query = False                  # in the value of --query
    depth = 0                      # open parentheses in that value

    def flush() -> None:
        if run:
            text = "".join(run)
            home = "~" if run_start and (text == "~" or text.startswith("~/")) else ""
            rest = text[len(home):]
            if rest and (_expands(rest, run_start and not home) or (query and _QUERY_CHARS & set(rest))):
                out.append(f"{home}'{rest}'")
                if found is not None:
                    found.append(text)
            else:
                out.append(text)
            run.clear()

    i, n = 0, len(literal)
    while i < n:
        c = literal[i]
        if state == "'":
            out.append(c)
            state = None if c == "'" else state
        elif state == '"':
            if c == "\\":
                out.append(literal[i:i + 2])
                i += 2
                continue
            if c in "!`":
                out.append("\"'!'\"" if c == "!" else "\\`")
                if found is not None:
                    found.append(c)
            else:
                out.append(c)
            state = None if c == '"' else state
        elif query and (c in "|&<>" or c == "(" or (c == ")" and depth)):
            depth += {"(": 1, ")": -1}.get(c, 0)
            if not run:
                run_start = word_start
            run.append(c)
        elif c in _SEPARATORS:
            flush()
            query = c in " \t" and "".join(word) == "--query"
            depth = 0
            word.clear()
            out.append(c)
            word_start = True
            i += 1
            continue
        elif c in "'\"\\$":
            flush()
            if c in "'\"":
                state = c
                out.append(c)
            elif c == "\\":
                out.append(literal[i:i + 2])
                word.append(literal[i:i + 2])
                i += 2
                word_start = False
                continue
            elif c == "$":
                m = re.match(r"\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*|[0-9?#@*!$-])?", literal[i:])
                out.append(m.group(0))
                word.append(m.group(0))
                i += len(m.group(0))
                word_start = False
                continue
        else:
            if not run:
                run_start = word_start
            run.append(c)
            if c == "=" and "".join(word) == "--query":
                flush()                    # --query=VALUE: the value is quoted on its own
                query, run_start = True, False
                word.append(c)
                word_start = False
                i += 1
                continue
        word.append(c)
        word_start = False
        i += 1
    flush()
    return "".join(out), word_start


def _expands(word: str, at_word_start: bool) -> bool:
    if at_word_start and word in ("{", "}", "!"):   # a group or a negated pipeline, as the author wrote it
        return False
    return any(c in _GLOB_CHARS for c in word) or (at_word_start and word[0] == "=")


def glob_words(template: str) -> list[str]:
    """The bare words of a shell-command template's own text that bash or
    zsh would expand (rendering quotes them; `validate` says so)."""
    found: list[str] = []
    shell, word_start = None, True
    for part in parse_template(template).parts:
        if isinstance(part, str):
            _, word_start = guard_words(part, shell, word_start, found)
            shell = _shell_state(part, shell)
        else:
            word_start = False
    return found


def _shell_state(literal: str, state: str | None) -> str | None:
    """The POSIX shell quoting state after `literal`, starting in `state`."""
    i = 0
    while i < len(literal):
        c = literal[i]
        if state == "'":
            state = None if c == "'" else state
        elif c == "\\":
            i += 1                       # escaped: outside or inside "..."
        elif state == '"':
            state = None if c == '"' else state
        elif c in "'\"":
            state = c
        i += 1
    return state


def stringify(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(value, default=str, separators=(",", ":"))


def parse_template(source: str) -> Template:
    """Split `text ${expr} text`; `$${` is a literal `${`. Raises ExprError."""
    parts: list = []
    buf: list[str] = []
    i, n = 0, len(source)
    while i < n:
        if source.startswith("$${", i):
            buf.append("${")
            i += 3
            continue
        if source.startswith("${", i):
            end = _hole_end(source, i + 2)
            if end < 0:
                raise ExprError(source, "unclosed `${` (add the closing `}`)", i)
            expression = source[i + 2:end].strip()
            if not expression:
                raise ExprError(source, "empty `${}`", i)
            compile_expr(expression)
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(("expr", expression))
            i = end + 1
            continue
        buf.append(source[i])
        i += 1
    if buf:
        parts.append("".join(buf))
    return Template(source, tuple(parts))


def _hole_end(s: str, i: int) -> int:
    depth, quote = 0, None
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "'`\"":
            quote = c
        elif c in "{[(":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def is_template(value: Any) -> bool:
    return isinstance(value, str) and "${" in value
