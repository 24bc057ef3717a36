"""Matching primitives for IAM policy evaluation (stdlib only).

This module knows how to compare one policy element against one request:

* wildcard patterns (``*`` and ``?``) with policy variables (``${aws:username}``,
  ``${aws:PrincipalTag/team, 'default'}``) and the ``${*}``/``${?}``/``${$}``
  escapes -- see ``reference_policies_variables``;
* ``Action`` (case-insensitive), ``Resource`` (case-sensitive, ``*`` spans ``:``
  and ``/``) and ARN condition values (compared component by component);
* ``Principal`` / ``NotPrincipal`` against the requesting principal;
* the ``Condition`` element: every operator family, ``...IfExists``, ``Null``
  and the ``ForAllValues:`` / ``ForAnyValue:`` set qualifiers.

Layering (which policy types must allow) lives in :mod:`triage.iam.evaluate`.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

__all__ = [
    "ConditionFailure",
    "Context",
    "PrincipalInfo",
    "arn_account",
    "as_list",
    "evaluate_conditions",
    "match_action",
    "match_arn",
    "match_resource",
    "not_principal_excludes",
    "parse_principal",
    "principal_via",
    "resolve",
]


def as_list(value: Any) -> list[Any]:
    """Policy elements accept a single value or a list of values."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------- context


class Context:
    """Request context with case-insensitive keys.

    reference_policies_variables: "Key names are case-insensitive". Values may
    be ``str``, ``bool``, numbers, ``datetime``, ``bytes`` or a list of those;
    ``None`` means the key is absent.
    """

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values: dict[str, tuple[str, Any]] = {}
        for key, value in (values or {}).items():
            self.set(key, value)

    def set(self, key: str, value: Any) -> None:
        self._values[key.lower()] = (key, value)

    def setdefault(self, key: str, value: Any) -> None:
        if value is not None and key.lower() not in self._values:
            self.set(key, value)

    def values(self, key: str) -> list[str] | None:
        """The key's values as strings; ``None`` when the key is absent."""
        entry = self._values.get(key.lower())
        if entry is None or entry[1] is None:
            return None
        return [_to_str(v) for v in as_list(entry[1]) if v is not None]

    def single(self, key: str) -> str | None:
        vals = self.values(key)
        if vals is None or len(vals) != 1:
            return None
        return vals[0]

    def as_dict(self) -> dict[str, Any]:
        return {orig: value for orig, value in self._values.values()}

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.values(key) is not None


# ---------------------------------------------------------------- policy variables

# Token kinds produced by tokenize(): literal text, or the two wildcards.
_LIT, _STAR, _QMARK = "lit", "*", "?"
_VAR_BODY = re.compile(r"^\s*(?P<name>[^,]+?)\s*(?:,\s*'(?P<default>[^']*)'\s*)?$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def _tokenize(template: str, ctx: Context | None, *, variables: bool, wildcards: bool) -> list[tuple[str, str]] | None:
    """Split a policy string into literal / wildcard tokens, substituting variables.

    Returns ``None`` when a variable cannot be resolved (reference_policies_variables:
    "If AWS cannot resolve a variable, this might cause the entire statement to be
    invalid") -- callers treat that value as not matching.  Substituted values and the
    ``${*}``/``${?}``/``${$}`` escapes are always literal text.
    """
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        if variables and template.startswith("${", i):
            end = template.find("}", i + 2)
            if end != -1:
                body = template[i + 2 : end]
                if body in _ESCAPES:
                    tokens.append((_LIT, _ESCAPES[body]))
                else:
                    value = _resolve_variable(body, ctx)
                    if value is None:
                        return None
                    tokens.append((_LIT, value))
                i = end + 1
                continue
        if wildcards and ch == "*":
            tokens.append((_STAR, ch))
        elif wildcards and ch == "?":
            tokens.append((_QMARK, ch))
        else:
            tokens.append((_LIT, ch))
        i += 1
    return tokens


def _resolve_variable(body: str, ctx: Context | None) -> str | None:
    m = _VAR_BODY.match(body)
    if not m:
        return None
    name, default = m.group("name"), m.group("default")
    value = ctx.single(name) if ctx is not None else None
    # A multi-valued key cannot be substituted into a single string.
    return value if value is not None else default


def resolve(template: str, ctx: Context | None, *, variables: bool = True) -> str | None:
    """Substitute policy variables into ``template`` (no wildcard meaning)."""
    tokens = _tokenize(template, ctx, variables=variables, wildcards=False)
    if tokens is None:
        return None
    return "".join(text for _, text in tokens)


def _regex(tokens: Iterable[tuple[str, str]], *, ignore_case: bool = False) -> re.Pattern[str]:
    parts = []
    for kind, text in tokens:
        if kind == _STAR:
            parts.append(".*")
        elif kind == _QMARK:
            parts.append(".")
        else:
            parts.append(re.escape(text))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def _glob(pattern: str, value: str, ctx: Context | None, *, variables: bool, ignore_case: bool = False) -> bool:
    tokens = _tokenize(pattern, ctx, variables=variables, wildcards=True)
    if tokens is None:
        return False
    return _regex(tokens, ignore_case=ignore_case).fullmatch(value) is not None


# ------------------------------------------------------------- action / resource / ARN


def match_action(pattern: str, action: str) -> bool:
    """``Action``/``NotAction``: case-insensitive, wildcards, no policy variables.

    reference_policies_elements_action: action names are case-insensitive and the
    service prefix is part of the name (``s3:getobject`` == ``s3:GetObject``).
    """
    return _glob(str(pattern), action, None, variables=False, ignore_case=True)


def match_resource(pattern: str, resource: str, ctx: Context | None, *, variables: bool) -> bool:
    """``Resource``/``NotResource``: case-sensitive; ``*``/``?`` may span ``:`` and ``/``.

    reference_policies_elements_resource: ARNs are case-sensitive and a wildcard
    may appear anywhere, e.g. ``arn:aws:s3:::my*`` matches objects of every
    bucket whose name starts with ``my``.
    """
    return _glob(str(pattern), resource, ctx, variables=variables)


def _split_arn_tokens(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Split tokens into ARN components at literal ':' (at most 6 components)."""
    parts: list[list[tuple[str, str]]] = [[]]
    for kind, text in tokens:
        if kind == _LIT:
            for ch in text:
                if ch == ":" and len(parts) < 6:
                    parts.append([])
                else:
                    parts[-1].append((_LIT, ch))
        else:
            parts[-1].append((kind, text))
    return parts


def match_arn(pattern: str, value: str, ctx: Context | None, *, variables: bool) -> bool:
    """ArnEquals/ArnLike: each of the six ':'-delimited components is matched separately.

    reference_policies_elements_condition_operators (ARN operators): a ``*`` never
    crosses a component boundary, unlike StringLike.
    """
    tokens = _tokenize(str(pattern), ctx, variables=variables, wildcards=True)
    if tokens is None:
        return False
    pat_parts = _split_arn_tokens(tokens)
    val_parts = value.split(":", 5)
    if len(pat_parts) != 6 or len(val_parts) != 6:
        return False
    return all(_regex(p).fullmatch(v) is not None for p, v in zip(pat_parts, val_parts))


def arn_account(arn: str) -> str | None:
    """The account field of an ARN (``None`` when absent, e.g. S3 bucket ARNs)."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and re.fullmatch(r"\d{12}", parts[4]):
        return parts[4]
    return None


# ----------------------------------------------------------------------- principals

_WEB_IDENTITY_PROVIDERS = frozenset(
    {"cognito-identity.amazonaws.com", "accounts.google.com", "graph.facebook.com", "www.amazon.com"}
)
_ARN_RE = re.compile(r"^arn:(?P<partition>[^:]+):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.*)$")


@dataclass(frozen=True)
class PrincipalInfo:
    """What the evaluator knows about the requesting principal.

    kind is one of: ``user``, ``role`` (a bare role ARN, treated as some session of
    that role), ``assumed-role``, ``federated-user``, ``root``, ``service``,
    ``federated`` (a SAML/OIDC/web-identity provider), ``anonymous``,
    ``canonical-user``, ``unknown``.
    """

    raw: str
    kind: str
    arn: str
    account: str | None = None
    name: str | None = None
    role_arn: str | None = None
    session: str | None = None
    partition: str = "aws"

    @property
    def root_arn(self) -> str | None:
        return f"arn:{self.partition}:iam::{self.account}:root" if self.account else None

    @property
    def principal_arn(self) -> str | None:
        """Value of ``aws:PrincipalArn``: the role ARN (not the session) for role sessions."""
        if self.kind in ("assumed-role", "role"):
            return self.role_arn
        if self.kind in ("user", "root", "federated-user", "unknown"):
            return self.arn
        return None

    def chain(self) -> tuple[str, ...]:
        """The principal and its parents (session -> role -> account), for NotPrincipal."""
        if self.kind == "assumed-role":
            return tuple(x for x in (self.arn, self.role_arn, self.root_arn) if x)
        if self.kind in ("user", "role", "federated-user", "unknown"):
            return tuple(x for x in (self.arn, self.root_arn) if x)
        return (self.arn,)


def parse_principal(principal: str) -> PrincipalInfo:
    """Classify a principal string: ARN, 12-digit account, service principal, ``*``."""
    p = principal.strip()
    if p in ("*", "anonymous", ""):
        return PrincipalInfo(raw=principal, kind="anonymous", arn="*")
    if re.fullmatch(r"\d{12}", p):
        return PrincipalInfo(raw=principal, kind="root", arn=f"arn:aws:iam::{p}:root", account=p)
    m = _ARN_RE.match(p)
    if m:
        part, svc, acct, res = m.group("partition"), m.group("service"), m.group("account"), m.group("resource")
        account = acct or None
        if svc == "iam" and res == "root":
            return PrincipalInfo(principal, "root", p, account, partition=part)
        if svc == "iam" and res.startswith("user/"):
            return PrincipalInfo(principal, "user", p, account, name=res.rsplit("/", 1)[-1], partition=part)
        if svc == "iam" and res.startswith("role/"):
            name = res.rsplit("/", 1)[-1]
            return PrincipalInfo(principal, "role", p, account, name=name, role_arn=p, partition=part)
        if svc == "sts" and res.startswith("assumed-role/"):
            bits = res.split("/")
            name = bits[1] if len(bits) > 1 else None
            session = "/".join(bits[2:]) or None
            role_arn = f"arn:{part}:iam::{acct}:role/{name}" if name else None
            return PrincipalInfo(principal, "assumed-role", p, account, name=name, role_arn=role_arn,
                                 session=session, partition=part)
        if svc == "sts" and res.startswith("federated-user/"):
            return PrincipalInfo(principal, "federated-user", p, account, name=res.split("/", 1)[1], partition=part)
        if svc == "iam" and (res.startswith("saml-provider/") or res.startswith("oidc-provider/")):
            return PrincipalInfo(principal, "federated", p, account, partition=part)
        return PrincipalInfo(principal, "unknown", p, account, partition=part)
    low = p.lower()
    if low in _WEB_IDENTITY_PROVIDERS:
        return PrincipalInfo(principal, "federated", p)
    if low.endswith(".amazonaws.com") or low.endswith(".amazonaws.com.cn"):
        return PrincipalInfo(principal, "service", low)
    if "." in p:
        return PrincipalInfo(principal, "federated", p)  # an OIDC issuer host name
    return PrincipalInfo(principal, "canonical-user", p)


def _account_of(value: str) -> str | None:
    """Account named by an AWS principal value: ``123456789012`` or ``arn:...:iam::123456789012:root``."""
    if re.fullmatch(r"\d{12}", value):
        return value
    m = _ARN_RE.match(value)
    if m and m.group("service") == "iam" and m.group("resource") == "root":
        return m.group("account")
    return None


# How a Principal element matched; DIRECT grants name the caller itself.
VIA_DIRECT = frozenset({"principal-arn", "wildcard", "service", "federated", "canonical-user"})
_VIA_RANK = {"account": 1, "role-arn": 2}


def _match_principal_value(ptype: str, value: str, info: PrincipalInfo) -> str | None:
    ptype = ptype.lower()
    if ptype == "aws":
        if value == "*":
            return "wildcard"
        acct = _account_of(value)
        if acct is not None:
            if info.account == acct and info.kind not in ("service", "anonymous", "federated"):
                return "account"
            return None
        if info.kind in ("assumed-role", "role"):
            m = _ARN_RE.match(value)
            if m and m.group("service") == "iam" and m.group("resource").startswith("role/"):
                if m.group("account") == info.account and m.group("resource").rsplit("/", 1)[-1] == info.name:
                    return "role-arn"
        # Principal does not support partial wildcards: compare exactly.
        return "principal-arn" if value == info.arn else None
    if ptype == "service":
        return "service" if info.kind == "service" and value.lower() == info.arn else None
    if ptype == "federated":
        return "federated" if info.kind == "federated" and value == info.arn else None
    if ptype == "canonicaluser":
        return "canonical-user" if value == info.raw else None
    return None


def principal_via(element: Any, info: PrincipalInfo) -> str | None:
    """How a ``Principal`` element names the requester, or ``None``.

    Returns one of ``principal-arn`` (the exact user / session / root ARN),
    ``wildcard`` (``"*"`` or ``{"AWS": "*"}``, which the Principal doc treats as
    equivalent), ``service``, ``federated``, ``canonical-user``, ``role-arn`` (the
    role of an assumed-role session) or ``account`` (the caller's account: this
    delegates to the account's identity-based policies).  The strongest match wins.
    """
    if element == "*":
        return "wildcard"
    if isinstance(element, str):
        element = {"AWS": element}
    if not isinstance(element, Mapping):
        return None
    best: str | None = None
    for ptype, values in element.items():
        for value in as_list(values):
            via = _match_principal_value(str(ptype), str(value), info)
            if via is None:
                continue
            if via in VIA_DIRECT:
                return via
            if best is None or _VIA_RANK[via] > _VIA_RANK[best]:
                best = via
    return best


def not_principal_excludes(element: Any, info: PrincipalInfo) -> tuple[bool, list[str]]:
    """Whether a ``NotPrincipal`` element excludes the requester.

    reference_policies_elements_notprincipal: AWS may validate the account, then the
    role, then the session, so the doc tells you to list the session ARN, the role
    ARN and the account.  We read that conservatively: the requester is excluded only
    when every identity in its chain is listed.  Returns ``(excluded, missing)``.
    """
    if element == "*":
        return True, []
    if isinstance(element, str):
        element = {"AWS": element}
    listed: set[str] = set()
    if isinstance(element, Mapping):
        for ptype, values in element.items():
            for value in as_list(values):
                value = str(value)
                if str(ptype).lower() == "aws":
                    if value == "*":
                        return True, []
                    acct = _account_of(value)
                    listed.add(f"arn:{info.partition}:iam::{acct}:root" if acct else value)
                elif str(ptype).lower() == "service":
                    listed.add(value.lower())
                else:
                    listed.add(value)
    missing = [x for x in info.chain() if x not in listed]
    return not missing, missing


# ----------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class ConditionFailure:
    """One condition key that did not hold (AND across operators and keys)."""

    operator: str  # as written in the policy, e.g. "ForAnyValue:StringLikeIfExists"
    key: str
    expected: tuple[str, ...]  # policy values (after variable substitution where allowed)
    actual: tuple[str, ...] | None  # request values; None when the key is absent
    message: str


def _parse_date(value: str) -> datetime | None:
    s = value.strip()
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", s):  # epoch (UNIX) seconds
            return datetime.fromtimestamp(float(s), tz=timezone.utc)
        dt = datetime.fromisoformat(s)
    except (ValueError, OverflowError, OSError):
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _parse_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _cmp(parse, test):
    def matcher(req: str, pol: str) -> bool:
        a, b = parse(req), parse(pol)
        return a is not None and b is not None and test(a, b)

    return matcher


def _ip_match(req: str, pol: str) -> bool:
    try:
        # reference_policies_elements_condition_operators: an address without a
        # prefix means /32 (or /128); ip_network() does exactly that.
        return ipaddress.ip_address(req.strip()) in ipaddress.ip_network(pol.strip(), strict=False)
    except ValueError:
        return False


def _bool_match(req: str, pol: str) -> bool:
    return req.strip().lower() == pol.strip().lower()


@dataclass(frozen=True)
class _Op:
    name: str
    family: str  # string | like | arn | numeric | date | bool | binary | ip | null
    negated: bool
    matcher: Any  # (request_value, policy_value) -> bool, for non-pattern families
    variables: bool  # policy variables allowed (string, ARN and Bool operators only)


def _ops() -> dict[str, _Op]:
    ops: list[_Op] = [
        _Op("StringEquals", "string", False, lambda r, p: r == p, True),
        _Op("StringNotEquals", "string", True, lambda r, p: r == p, True),
        _Op("StringEqualsIgnoreCase", "string", False, lambda r, p: r.casefold() == p.casefold(), True),
        _Op("StringNotEqualsIgnoreCase", "string", True, lambda r, p: r.casefold() == p.casefold(), True),
        _Op("StringLike", "like", False, None, True),
        _Op("StringNotLike", "like", True, None, True),
        _Op("ArnEquals", "arn", False, None, True),
        _Op("ArnLike", "arn", False, None, True),
        _Op("ArnNotEquals", "arn", True, None, True),
        _Op("ArnNotLike", "arn", True, None, True),
        _Op("Bool", "bool", False, _bool_match, True),
        _Op("BinaryEquals", "binary", False, lambda r, p: r.strip() == p.strip(), False),
        _Op("IpAddress", "ip", False, _ip_match, False),
        _Op("NotIpAddress", "ip", True, _ip_match, False),
        _Op("Null", "null", False, None, False),
    ]
    for prefix, parse in (("Numeric", _parse_number), ("Date", _parse_date)):
        fam = prefix.lower()
        ops += [
            _Op(f"{prefix}Equals", fam, False, _cmp(parse, lambda a, b: a == b), False),
            _Op(f"{prefix}NotEquals", fam, True, _cmp(parse, lambda a, b: a == b), False),
            _Op(f"{prefix}LessThan", fam, False, _cmp(parse, lambda a, b: a < b), False),
            _Op(f"{prefix}LessThanEquals", fam, False, _cmp(parse, lambda a, b: a <= b), False),
            _Op(f"{prefix}GreaterThan", fam, False, _cmp(parse, lambda a, b: a > b), False),
            _Op(f"{prefix}GreaterThanEquals", fam, False, _cmp(parse, lambda a, b: a >= b), False),
        ]
    return {op.name.lower(): op for op in ops}


_OPERATORS = _ops()


def _split_operator(raw: str) -> tuple[str | None, _Op | None, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> ("foranyvalue", StringLike, True)."""
    name = raw.strip()
    qualifier = None
    if ":" in name:
        q, name = name.split(":", 1)
        qualifier = q.strip().lower()
        if qualifier not in ("forallvalues", "foranyvalue"):
            return qualifier, None, False
    low = name.lower()
    if_exists = False
    if low.endswith("ifexists") and low != "ifexists":
        if_exists, low = True, low[: -len("ifexists")]
    op = _OPERATORS.get(low)
    if op is not None and op.family == "null":
        if_exists = False  # "...IfExists" cannot be added to Null
    return qualifier, op, if_exists


def _value_matches(op: _Op, req: str, pol: str, ctx: Context, variables: bool) -> bool:
    """Positive comparison of one request value with one policy value."""
    if op.family == "like":
        return _glob(pol, req, ctx, variables=variables and op.variables)
    if op.family == "arn":
        return match_arn(pol, req, ctx, variables=variables and op.variables)
    if op.variables and variables:
        resolved = resolve(pol, ctx)
        if resolved is None:
            return False  # unresolvable variable: this value does not match
        pol = resolved
    return bool(op.matcher(req, pol))


def _shown(op: _Op, pol: str, ctx: Context, variables: bool) -> str:
    if op.variables and variables:
        r = resolve(pol, ctx)
        return r if r is not None else f"{pol} (unresolved variable)"
    return pol


def _eval_key(raw_op: str, key: str, policy_values: list[str], ctx: Context, variables: bool) -> ConditionFailure | None:
    qualifier, op, if_exists = _split_operator(raw_op)
    req = ctx.values(key)
    shown_req = tuple(req) if req is not None else None

    def fail(msg: str, expected: tuple[str, ...] | None = None) -> ConditionFailure:
        exp = expected if expected is not None else tuple(policy_values)
        return ConditionFailure(raw_op, key, exp, shown_req, msg)

    if op is None:
        return fail(f"unknown condition operator {raw_op!r}; the condition cannot be satisfied")

    if op.family == "null":
        # Null: "true" = the key must be absent, "false" = it must be present (an
        # empty multi-valued key counts as absent).  OR across the listed values.
        absent = not req
        if any((v.strip().lower() == "true") == absent for v in policy_values):
            return None
        want = "absent" if all(v.strip().lower() == "true" for v in policy_values) else "present"
        return fail(f"Null check: {key} must be {want} but is {'absent' if absent else 'present'}")

    expected = tuple(_shown(op, p, ctx, variables) for p in policy_values)
    if qualifier is not None and req is not None:
        # multi-value-conditions: "If the key values in the request resolve to an empty
        # data set (for example, an empty string)" -- drop empty strings for set operators.
        req = [v for v in req if v != ""]
    if not req:
        # Missing key (or an empty set of values).  reference_policies_elements_condition_operators:
        #   * ...IfExists        -> true
        #   * ForAllValues:      -> true  (the empty-set gotcha: vacuously true, even for Allow)
        #   * ForAnyValue:       -> false
        #   * negated operators (StringNotEquals, StringNotLike, ArnNotLike, NotIpAddress,
        #     NumericNotEquals, DateNotEquals, ...) -> true: "the right key is not present"
        #     so it is "not matched"
        #   * every other operator -> false
        if if_exists or qualifier == "forallvalues":
            return None
        if qualifier is None and op.negated:
            return None
        return fail(f"{key} is not in the request context, so {raw_op} is false", expected)

    def per_value(v: str) -> bool:
        hit = any(_value_matches(op, v, p, ctx, variables) for p in policy_values)
        return not hit if op.negated else hit

    if qualifier == "forallvalues":
        ok = all(per_value(v) for v in req)
    elif qualifier == "foranyvalue":
        ok = any(per_value(v) for v in req)
    elif op.negated:
        ok = all(per_value(v) for v in req)  # no request value matches any policy value
    else:
        ok = any(per_value(v) for v in req)  # some request value matches some policy value
    if ok:
        return None
    verb = "matches" if op.negated else "does not match"
    return fail(f"{key}={list(req)} {verb} {raw_op} {list(expected)}", expected)


def evaluate_conditions(block: Any, ctx: Context, *, variables: bool) -> list[ConditionFailure]:
    """Evaluate a ``Condition`` element; an empty result means it holds.

    reference_policies_elements_condition: AND across operators and across the keys
    of one operator; OR across the values listed for one key.  Every failing key is
    reported, not just the first.
    """
    failures: list[ConditionFailure] = []
    if not block:
        return failures
    if not isinstance(block, Mapping):
        return [ConditionFailure("?", "?", (), None, "Condition element is not an object")]
    for raw_op, keys in block.items():
        if not isinstance(keys, Mapping):
            failures.append(ConditionFailure(str(raw_op), "?", (), None, f"{raw_op} must map keys to values"))
            continue
        for key, values in keys.items():
            pol = [_to_str(v) for v in as_list(values)]
            failure = _eval_key(str(raw_op), str(key), pol, ctx, variables)
            if failure is not None:
                failures.append(failure)
    return failures
