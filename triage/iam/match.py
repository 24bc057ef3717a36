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

Comparisons are three-valued: match, no match, or not comparable (a non-number
for NumericNotEquals, an invalid CIDR for NotIpAddress, a non-ARN for
ArnNotLike, a non-boolean for Bool). Not comparable never satisfies an
operator, negated ones included, as in AWS's policy simulator. A policy
variable with no value is null, as documented: positive operators do not match
it and negated ones do (reference_policies_variables, "Policy variables with no
value"); :func:`null_variable_matches` names the statements that apply only
because of that.

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
    "null_variable_matches",
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


def variables_without_value(template: str, ctx: Context | None) -> list[str]:
    """The ``${...}`` variables of ``template`` that this request cannot resolve."""
    out = []
    for m in re.finditer(r"\$\{([^}]*)\}", template):
        body = m.group(1)
        if body not in _ESCAPES and _resolve_variable(body, ctx) is None:
            out.append("${" + body + "}")
    return out


def null_variable_matches(stmt: Mapping, ctx: Context) -> list[str]:
    """Where a statement holds only because a variable has no value: a negated
    condition operator or a NotResource entry built on ``${...}`` that this request
    cannot resolve. reference_policies_variables (policy variables with no value):
    inverted operators "do match against a null value", and a NotResource entry with
    such a variable "will not match any resource", so it excludes nothing."""
    out: list[str] = []
    cond = stmt.get("Condition")
    if isinstance(cond, Mapping):
        for raw_op, keys in cond.items():
            _, op, _ = _split_operator(str(raw_op))
            if op is None or not op.negated or not op.variables or not isinstance(keys, Mapping):
                continue
            for key, values in keys.items():
                if str(key) not in ctx:
                    continue  # holds because the key is absent, a different rule
                missing = [v for p in as_list(values) for v in variables_without_value(_to_str(p), ctx)]
                if missing:
                    out.append(f"{raw_op} on {key} holds because {', '.join(sorted(set(missing)))} has no value "
                               f"in this request (a variable with no value is null, which negated operators match)")
    for pattern in as_list(stmt.get("NotResource")):
        missing = variables_without_value(str(pattern), ctx)
        if missing:
            out.append(f"NotResource {pattern} excludes nothing because {', '.join(missing)} has no value "
                       f"in this request")
    return out


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
        number = float(value)
    except ValueError:
        return None
    return None if number != number or number in (float("inf"), float("-inf")) else number  # nan, inf


def _parse_bool(value: str) -> bool | None:
    # reference_policies_elements_condition_operators (Boolean): a key is compared to
    # true or false; anything else is not a boolean (case is ignored, as AWS's
    # simulator does for "True").
    low = value.lower()
    return True if low == "true" else False if low == "false" else None


def _parse_ip(value: str):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _parse_network(value: str):
    try:
        # reference_policies_elements_condition_operators: an address without a
        # prefix means /32 (or /128); ip_network() does exactly that.
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


# A comparison answers True (the values match), False (they do not) or None: the
# values cannot be compared (a non-number for NumericEquals, an invalid CIDR for
# IpAddress, a non-ARN for ArnLike, a non-boolean for Bool). A None never satisfies
# an operator, negated ones included: NumericNotEquals on "abc" is false, as in
# AWS's policy simulator, not "abc is not equal to 10".
_Compare = Any  # (request_value, policy_value) -> bool | None


def _cmp(parse, test) -> _Compare:
    def matcher(req: str, pol: str) -> bool | None:
        a, b = parse(req), parse(pol)
        if a is None or b is None:
            return None
        return bool(test(a, b))

    return matcher


def _ip_match(req: str, pol: str) -> bool | None:
    address, network = _parse_ip(req), _parse_network(pol)
    if address is None or network is None:
        return None
    return address.version == network.version and address in network


def _bool_match(req: str, pol: str) -> bool | None:
    a, b = _parse_bool(req), _parse_bool(pol)
    if a is None or b is None:
        return None
    return a == b


@dataclass(frozen=True)
class _Op:
    name: str
    family: str  # string | like | arn | numeric | date | bool | binary | ip | null
    negated: bool
    matcher: Any  # (request_value, policy_value) -> bool | None, for non-pattern families
    variables: bool  # policy variables allowed (string, ARN and Bool operators only)


_KIND = {"numeric": "a number", "date": "a date", "ip": "an IP address or CIDR block", "arn": "an ARN",
         "bool": "a boolean (true or false)"}


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
    if op is not None and op.family == "null" and if_exists:
        # condition_operators (...IfExists): "You can add IfExists to the end of any
        # condition operator name except the Null condition" -- NullIfExists is no operator.
        return qualifier, None, False
    return qualifier, op, if_exists


def _is_arn(value: str) -> bool:
    parts = value.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn"


def _arn_compare(pattern: str, value: str, ctx: Context, variables: bool) -> bool | None:
    tokens = _tokenize(str(pattern), ctx, variables=variables, wildcards=True)
    if tokens is None:
        return False  # a variable with no value: "There is no equal or like value"
    if not _is_arn(value) or len(_split_arn_tokens(tokens)) != 6:
        return None
    return match_arn(pattern, value, ctx, variables=variables)


def _value_matches(op: _Op, req: str, pol: str, ctx: Context, variables: bool) -> bool | None:
    """Positive comparison of one request value with one policy value (None: not comparable).

    reference_policies_variables (policy variables with no value): a variable that
    cannot be resolved is "effectively null. There is no equal or like value" -- the
    value matches nothing, so StringEquals is false and StringNotEquals true.
    """
    if op.family == "like":
        return _glob(pol, req, ctx, variables=variables and op.variables)
    if op.family == "arn":
        return _arn_compare(pol, req, ctx, variables and op.variables)
    if op.variables and variables:
        resolved = resolve(pol, ctx)
        if resolved is None:
            return False
        pol = resolved
    return op.matcher(req, pol)


def _shown(op: _Op, pol: str, ctx: Context, variables: bool) -> str:
    if op.variables and variables:
        r = resolve(pol, ctx)
        return r if r is not None else f"{pol} (variable with no value)"
    return pol


def _not_comparable(op: _Op, req: str, policy_values: list[str], ctx: Context, variables: bool) -> str:
    """Which side of a comparison is not of the operator's type (for the message)."""
    kind = _KIND.get(op.family, "comparable")
    if op.family == "arn":
        if not _is_arn(req):
            return f"request value {req!r} is not {kind}"
        bad = [p for p in policy_values
               if (t := _tokenize(p, ctx, variables=variables, wildcards=True)) is not None
               and len(_split_arn_tokens(t)) != 6]
        return f"policy value {bad[0]!r} is not {kind}" if bad else f"a value is not {kind}"
    parse = {"numeric": _parse_number, "date": _parse_date, "bool": _parse_bool, "ip": _parse_ip}.get(op.family)
    if parse is not None and parse(req) is None:
        return f"request value {req!r} is not {kind}"
    pol_parse = _parse_network if op.family == "ip" else parse
    for p in policy_values:
        shown = _shown(op, p, ctx, variables)
        if pol_parse is not None and pol_parse(shown) is None:
            return f"policy value {shown!r} is not {kind}"
    return f"a value is not {kind}"


def _null_holds(policy_values: list[str], absent: bool) -> bool:
    """Null: "true" = the key must be absent, "false" = present; OR across the values.
    Only true/false count (condition_operators, Null: "use either true ... or false")."""
    return any(_parse_bool(v) is absent for v in policy_values if _parse_bool(v) is not None)


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
        bad = [v for v in policy_values if _parse_bool(v) is None]
        if qualifier is None:
            # An empty multi-valued key counts as absent.
            absent = not req
            if _null_holds(policy_values, absent):
                return None
            if bad and len(bad) == len(policy_values):
                return fail(f"Null takes true or false, not {bad[0]!r}, so the check never holds")
            want = "absent" if all(_parse_bool(v) for v in policy_values if _parse_bool(v) is not None) else "present"
            return fail(f"Null check: {key} must be {want} but is {'absent' if absent else 'present'}")
        # ForAllValues:Null / ForAnyValue:Null quantify the Null test over the key's
        # values; every value that is in the request is, by definition, not null. So
        # ForAllValues holds when the key is absent (the empty set) or the policy says
        # "false"; ForAnyValue holds only for a present key and "false". (AWS's policy
        # simulator, as recorded by nccgroup/PMapper test_null_condition_handling.)
        values = [v for v in (req or []) if v != ""]
        per_value = any(_parse_bool(v) is False for v in policy_values)
        if qualifier == "forallvalues":
            ok = not values or per_value
        else:
            ok = bool(values) and per_value
        if ok:
            return None
        if qualifier == "forallvalues":
            why = f"{key} is present and every value in the request is non-null"
        else:
            why = f"{key} is absent, so no value is non-null" if not values else \
                  f"every value of {key} is non-null, which Null: true rejects"
        return fail(f"{raw_op}: {why}")

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

    incomparable: list[str] = []

    def per_value(v: str) -> bool:
        results = [_value_matches(op, v, p, ctx, variables) for p in policy_values]
        if None in results:
            incomparable.append(v)
        if op.negated:
            # multi-value-conditions: a negated operator's values are a NOR -- and a value
            # that cannot be compared is no evidence that it differs.
            return all(r is False for r in results)
        return any(r is True for r in results)

    if qualifier == "forallvalues":
        ok = all([per_value(v) for v in req])
    elif qualifier == "foranyvalue":
        ok = any([per_value(v) for v in req])
    elif op.negated:
        ok = all([per_value(v) for v in req])  # no request value matches any policy value
    else:
        ok = any([per_value(v) for v in req])  # some request value matches some policy value
    if ok:
        return None
    if incomparable:
        why = _not_comparable(op, incomparable[0], policy_values, ctx, variables)
        return fail(f"{key}={list(req)}: {why}, so {raw_op} is false", expected)
    if op.negated:
        return fail(f"{key}={list(req)} matches a value of {raw_op} {list(expected)}, so the negated "
                    f"condition is false", expected)
    return fail(f"{key}={list(req)} does not match {raw_op} {list(expected)}", expected)


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
