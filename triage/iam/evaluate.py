"""Pure-Python AWS IAM policy evaluator.

Decides Allow/Deny for one request (principal, action, resource, context keys)
against the policies that apply to it, following the documented evaluation
logic (IAM User Guide: ``reference_policies_evaluation-logic``,
``reference_policies_evaluation-logic_policy-eval-denyallow``,
``reference_policies_evaluation-logic-cross-account``) and, unlike AWS, reports
*every* failing layer rather than the first one:

1. explicit ``Deny`` in any policy (RCP, SCP, resource, identity, boundary,
   session, VPC endpoint) -> denied;
2. RCPs: every level (root, each OU, the account) needs an ``Allow``;
3. SCPs: every level needs an ``Allow`` (skipped when ``scps`` is ``None`` -- not
   in an organization -- or ``scp_applies=False``: service-linked roles,
   management account; service and anonymous principals are never subject to SCPs);
4. resource-based policy and identity-based policies, per the same-account table:

   ===============================  ==========================================
   resource policy names ...        ... is limited by implicit deny in
   ===============================  ==========================================
   the IAM user ARN                 nothing (identity, boundary ignored)
   the role-session / federated-    nothing (identity, boundary, session
   user session ARN, ``*``,         policy ignored)
   a service principal
   the role ARN (caller is one of   permissions boundary, session policy
   its sessions)                    (identity policy not needed)
   the account (root / 12 digits)   delegates to IAM: identity policy,
                                    boundary and session policy all needed
   ===============================  ==========================================

   Cross-account (principal account != resource account): the identity side
   (identity allow, boundary, session policy) AND a resource-policy allow are both
   required;
5. permissions boundary (when present) must allow;
6. session policy (when present) must allow; a federated-user session
   (``GetFederationToken``) without a session policy has no permissions;
7. VPC endpoint policy (when present) must allow.

Service rules the generic logic does not cover:

* ``sts:GetCallerIdentity`` needs no permission and cannot be denied
  (STS API reference, GetCallerIdentity);
* a KMS key (``kms:*`` on ``arn:...:kms:...:key/...``): an identity-based policy
  alone gives no access -- the key policy must allow the account (the statement
  that enables IAM policies) or name the principal (KMS developer guide,
  key-policies: "Unless the key policy explicitly allows it, you cannot use IAM
  policies to allow access to a KMS key"); grants are not modelled;
* ``NotPrincipal`` works only with ``Deny`` (reference_policies_elements_notprincipal:
  "Using it with "Effect":"Allow" is not supported"), so an Allow with NotPrincipal
  grants nothing; and a Deny with NotPrincipal "will always deny any IAM principal
  that has a permissions boundary policy attached, regardless of the values
  specified in the NotPrincipal element" (access_policies_boundaries).

Only the documented logic is modelled; see the module docstring of
:mod:`triage.iam.match` for matching and conditions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from triage.iam.match import (
    VIA_DIRECT,
    ConditionFailure,
    Context,
    PrincipalInfo,
    arn_account,
    as_list,
    evaluate_conditions,
    match_action,
    match_resource,
    not_principal_excludes,
    null_variable_matches,
    parse_principal,
    principal_via,
    resolve,
)

__all__ = [
    "ConditionFailure",
    "Decision",
    "Match",
    "NearMiss",
    "Policy",
    "PolicyError",
    "Reason",
    "Request",
    "evaluate",
    "evaluate_trust",
    "is_kms_key_request",
    "request_context",
]

POLICY_KINDS = frozenset(
    {"identity", "resource", "permissions-boundary", "session", "scp", "rcp", "trust", "vpc-endpoint"}
)
_VARIABLES_VERSION = "2012-10-17"  # reference_policies_variables: earlier versions treat ${...} literally


class PolicyError(ValueError):
    """A policy document that cannot be evaluated (not JSON, no Statement, bad Effect)."""


@dataclass(frozen=True)
class Policy:
    """One policy document plus metadata used in messages.

    ``document`` may be a parsed dict or a JSON string.  ``kind`` is informational
    (the layer is decided by the argument of :func:`evaluate` the policy is passed
    in); ``source`` says where it is attached, e.g. ``"inline on role/app"``,
    ``"attached managed"``, ``"group/admins"``.
    """

    document: Any = field(hash=False)
    kind: str = "identity"
    name: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        doc = self.document
        if isinstance(doc, (str, bytes)):
            try:
                doc = json.loads(doc)
            except json.JSONDecodeError as exc:
                raise PolicyError(f"policy {self.name or '?'} is not valid JSON: {exc}") from None
            object.__setattr__(self, "document", doc)
        if not isinstance(doc, Mapping) or "Statement" not in doc:
            raise PolicyError(f"policy {self.name or '?'} has no Statement element")
        if self.kind not in POLICY_KINDS:
            raise PolicyError(f"unknown policy kind {self.kind!r}; expected one of {sorted(POLICY_KINDS)}")
        for label, stmt in self.statements():
            if not isinstance(stmt, Mapping) or stmt.get("Effect") not in ("Allow", "Deny"):
                raise PolicyError(f"policy {self.name or '?'} statement {label}: Effect must be Allow or Deny")
        if not self.name:
            object.__setattr__(self, "name", f"<{self.kind} policy>")

    @property
    def version(self) -> str:
        return str(self.document.get("Version", "2008-10-17"))

    def statements(self) -> list[tuple[str, Any]]:
        """``(label, statement)`` pairs; label is the Sid, else ``#<0-based index>``."""
        out = []
        for i, stmt in enumerate(as_list(self.document.get("Statement"))):
            sid = stmt.get("Sid") if isinstance(stmt, Mapping) else None
            out.append((str(sid) if sid else f"#{i}", stmt))
        return out


@dataclass(frozen=True)
class Request:
    """The request context: who, what, on which resource, plus condition keys.

    ``principal`` is a user / role / assumed-role / federated-user / root ARN, a
    12-digit account id, a service principal (``lambda.amazonaws.com``), an
    identity-provider ARN, or ``"*"`` for anonymous.  ``context`` maps condition
    keys (case-insensitive) to ``str | list[str] | bool | number | datetime``.
    """

    principal: str
    action: str
    resource: str = "*"
    context: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Reason:
    """Why one layer (or one statement) denies the request."""

    code: str
    layer: str
    policy: str
    statement: str
    message: str


@dataclass(frozen=True)
class Match:
    """A statement that applied to the request.

    ``via`` is set for policies with a Principal element: how it named the caller
    (``principal-arn``, ``role-arn``, ``account``, ``wildcard``, ``service``,
    ``federated``, ``canonical-user``, ``not-principal``).  In a trust decision,
    ``account`` means the caller's own identity policy must also allow the action.
    """

    layer: str
    policy: str
    statement: str
    effect: str
    via: str = ""
    source: str = ""


@dataclass(frozen=True)
class NearMiss:
    """A statement whose Action matched but which did not apply, and why.

    ``failed`` lists the parts that did not match: ``resource``, ``not-resource``,
    ``principal``, ``not-principal``, ``condition``.  ``hint`` carries a concrete
    fix when one is known (S3 bucket ARN vs ``bucket/*``).
    """

    layer: str
    policy: str
    statement: str
    effect: str
    failed: tuple[str, ...]
    resource: str
    patterns: tuple[str, ...]
    conditions: tuple[ConditionFailure, ...]
    hint: str
    message: str
    source: str = ""


@dataclass
class Decision:
    allowed: bool
    reasons: list[Reason] = field(default_factory=list)
    allowed_by: list[Match] = field(default_factory=list)
    near_misses: list[NearMiss] = field(default_factory=list)
    cross_account: bool = False
    notes: list[str] = field(default_factory=list)  # rules that decided without a statement

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


# --------------------------------------------------------------------- statements

_PRINCIPAL_NONE, _PRINCIPAL_REQUIRED, _PRINCIPAL_OPTIONAL = "none", "required", "optional"
_PRINCIPAL_MODE = {
    "identity": _PRINCIPAL_NONE,
    "permissions-boundary": _PRINCIPAL_NONE,
    "session": _PRINCIPAL_NONE,
    "scp": _PRINCIPAL_NONE,
    "resource": _PRINCIPAL_REQUIRED,
    "trust": _PRINCIPAL_REQUIRED,
    "rcp": _PRINCIPAL_OPTIONAL,
    "vpc-endpoint": _PRINCIPAL_OPTIONAL,
}


@dataclass
class _Env:
    action: str
    resource: str
    info: PrincipalInfo
    ctx: Context
    has_boundary: bool = False  # the caller (an IAM user or role) has a permissions boundary


@dataclass
class _PolicyResult:
    policy: Policy
    layer: str
    allows: list[Match] = field(default_factory=list)
    denies: list[Match] = field(default_factory=list)
    near: list[NearMiss] = field(default_factory=list)
    deny_notes: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _s3_hint(patterns: Sequence[str], resource: str, action: str) -> str:
    """The classic S3 mistake: bucket ARN for object actions, or object ARN for bucket actions."""
    head, sep, rest = resource.partition(":::")
    if not sep or not head.startswith("arn:") or not head.endswith(":s3") or not rest:
        return ""
    if "/" in rest:
        bucket_arn = f"{head}:::{rest.split('/', 1)[0]}"
        if bucket_arn in patterns:
            return (f"the statement grants {bucket_arn} but {action} acts on objects, whose ARN is "
                    f"{resource}; add {bucket_arn}/*")
    else:
        objs = [p for p in patterns if p.startswith(resource + "/")]
        if objs:
            return (f"the statement grants {objs[0]} (objects) but {action} acts on the bucket itself, "
                    f"whose ARN is {resource}; add {resource}")
    return ""


def _eval_policy(policy: Policy, layer: str, env: _Env) -> _PolicyResult:
    result = _PolicyResult(policy, layer)
    variables = policy.version == _VARIABLES_VERSION
    mode = _PRINCIPAL_MODE[layer]
    for label, stmt in policy.statements():
        effect = stmt["Effect"]
        if "Action" in stmt:
            if not any(match_action(p, env.action) for p in as_list(stmt["Action"])):
                continue
        elif "NotAction" in stmt:
            if any(match_action(p, env.action) for p in as_list(stmt["NotAction"])):
                continue
        else:
            continue  # neither Action nor NotAction: matches nothing

        failed: list[str] = []
        notes: list[str] = []
        via = ""
        if mode != _PRINCIPAL_NONE:
            if "Principal" in stmt:
                via = principal_via(stmt["Principal"], env.info) or ""
                if not via:
                    failed.append("principal")
                    notes.append(f"Principal does not name {env.info.raw}")
            elif "NotPrincipal" in stmt:
                excluded, missing = not_principal_excludes(stmt["NotPrincipal"], env.info)
                if effect == "Allow":
                    # reference_policies_elements_notprincipal: "NotPrincipal must be used with
                    # "Effect":"Deny". Using it with "Effect":"Allow" is not supported."
                    failed.append("not-principal")
                    notes.append("NotPrincipal with Allow is not supported by AWS (NotPrincipal must be used "
                                 "with Deny), so this statement grants nothing; name the principals in Principal")
                elif env.has_boundary and env.info.kind in _BOUNDED_KINDS:
                    # access_policies_boundaries / reference_policies_elements_notprincipal: a Deny
                    # with NotPrincipal "will always deny any IAM principal that has a permissions
                    # boundary policy attached, regardless of the values specified in the
                    # NotPrincipal element".
                    via = "not-principal"
                    result.deny_notes[label] = (
                        "a Deny with NotPrincipal always denies an IAM user or role that has a permissions "
                        "boundary, whatever NotPrincipal lists; use ArnNotEquals on aws:PrincipalArn instead")
                elif excluded:
                    failed.append("not-principal")
                    notes.append(f"NotPrincipal excludes {env.info.raw}")
                else:
                    via = "not-principal"
                    if missing and len(missing) < len(env.info.chain()):
                        result.deny_notes[label] = (
                            "NotPrincipal lists the caller only partly; it must also list " + ", ".join(missing))
            elif mode == _PRINCIPAL_REQUIRED:
                failed.append("principal")
                notes.append("statement has no Principal element")
            else:
                via = "wildcard"

        patterns: tuple[str, ...] = ()
        if "Resource" in stmt:
            patterns = tuple(str(p) for p in as_list(stmt["Resource"]))
            if not any(match_resource(p, env.resource, env.ctx, variables=variables) for p in patterns):
                failed.append("resource")
                notes.append(f"Resource {list(_show_patterns(patterns, env.ctx, variables))} does not match "
                             f"{env.resource}")
        elif "NotResource" in stmt:
            patterns = tuple(str(p) for p in as_list(stmt["NotResource"]))
            if any(match_resource(p, env.resource, env.ctx, variables=variables) for p in patterns):
                failed.append("not-resource")
                notes.append(f"NotResource excludes {env.resource}")
        # A statement without Resource/NotResource (trust policies, some resource
        # policies) applies to the resource the policy is attached to.

        cond_failures = tuple(evaluate_conditions(stmt.get("Condition"), env.ctx, variables=variables))
        if cond_failures:
            failed.append("condition")
            notes.extend(f.message for f in cond_failures)

        if not failed:
            m = Match(layer, policy.name, label, effect, via, policy.source)
            (result.allows if effect == "Allow" else result.denies).append(m)
            if variables:
                result.notes += [f"{effect} statement {label} in {policy.name} applies: {why}"
                                 for why in null_variable_matches(stmt, env.ctx)]
            continue
        hint = _s3_hint(_show_patterns(patterns, env.ctx, variables), env.resource, env.action) \
            if "resource" in failed else ""
        lead = (f"{effect} statement {label} in {policy.name} matches {env.action} but " if effect == "Allow"
                else f"{effect} statement {label} in {policy.name} does not apply: ")
        message = lead + "; ".join(notes) + (f" ({hint})" if hint else "")
        result.near.append(NearMiss(layer, policy.name, label, effect, tuple(failed), env.resource, patterns,
                                    cond_failures, hint, message, policy.source))
    return result


def _show_patterns(patterns: Iterable[str], ctx: Context, variables: bool) -> tuple[str, ...]:
    out = []
    for p in patterns:
        r = resolve(p, ctx, variables=variables)
        out.append(r if r is not None else p)
    return tuple(out)


# ---------------------------------------------------------------------- context


def request_context(request: Request, *, resource_account: str | None = None) -> dict[str, Any]:
    """The request context plus the global keys derivable from the principal ARN.

    Given keys always win.  Derived (reference_policies_variables, principal key
    values table): ``aws:PrincipalArn`` (the role ARN, not the session, for
    assumed roles), ``aws:PrincipalAccount``, ``aws:PrincipalType``,
    ``aws:username`` (IAM users only), ``aws:userid`` (root: the account id;
    federated user: ``account:name``; the unique ids of users and roles cannot be
    derived from an ARN, pass them yourself), ``aws:PrincipalIsAWSService``,
    ``aws:PrincipalServiceName`` and ``aws:ResourceAccount``.
    """
    return _build_context(request, parse_principal(request.principal), resource_account).as_dict()


_PRINCIPAL_TYPE = {
    "user": "User", "role": "AssumedRole", "assumed-role": "AssumedRole", "root": "Account",
    "federated-user": "FederatedUser", "anonymous": "Anonymous",
}


def _build_context(request: Request, info: PrincipalInfo, resource_account: str | None) -> Context:
    ctx = Context(request.context)
    ctx.setdefault("aws:PrincipalArn", info.principal_arn)
    ctx.setdefault("aws:PrincipalAccount", info.account)
    ctx.setdefault("aws:PrincipalType", _PRINCIPAL_TYPE.get(info.kind))
    if info.kind == "user":
        ctx.setdefault("aws:username", info.name)
    elif info.kind == "root":
        ctx.setdefault("aws:userid", info.account)
    elif info.kind == "federated-user":
        ctx.setdefault("aws:userid", f"{info.account}:{info.name}")
    if info.kind != "anonymous":
        ctx.setdefault("aws:PrincipalIsAWSService", info.kind == "service")
    if info.kind == "service":
        ctx.setdefault("aws:PrincipalServiceName", info.arn)
    ctx.setdefault("aws:ResourceAccount", resource_account)
    return ctx


# ---------------------------------------------------------------------- evaluate

_DENY_CODE = {"scp": "scp-explicit-deny", "rcp": "rcp-explicit-deny"}
_BOUNDED_KINDS = ("user", "role", "assumed-role")  # IAM principals that can have a permissions boundary
_KMS_KEY = re.compile(r"^arn:[^:]+:kms:[^:]*:\d{12}:key/")
_GET_CALLER_IDENTITY = "sts:getcalleridentity"


def is_kms_key_request(action: str, resource: str) -> bool:
    """A KMS action on a key (not an alias, not ``*``): the key policy must allow it."""
    return action.lower().startswith("kms:") and bool(_KMS_KEY.match(resource or ""))


def _deny_reasons(results: Iterable[_PolicyResult], env: _Env) -> list[Reason]:
    out = []
    for res in results:
        for m in res.denies:
            note = res.deny_notes.get(m.statement)
            out.append(Reason(
                _DENY_CODE.get(res.layer, "explicit-deny"), res.layer, m.policy, m.statement,
                f"Statement {m.statement} in {res.layer} policy {m.policy} explicitly denies {env.action} on "
                f"{env.resource}; no Allow can override it, so change or scope down that statement"
                + (f" ({note})" if note else "") + "."))
    return out


def _condition_reasons(results: Iterable[_PolicyResult]) -> list[Reason]:
    """Allow statements in a failing layer that matched everything but their Condition."""
    out = []
    for res in results:
        for nm in res.near:
            if nm.effect == "Allow" and nm.failed == ("condition",):
                detail = "; ".join(f.message for f in nm.conditions)
                out.append(Reason("condition-failed", res.layer, nm.policy, nm.statement,
                                  f"Statement {nm.statement} in {nm.policy} would allow this but its condition "
                                  f"failed: {detail}."))
    return out


def _names(results: Sequence[_PolicyResult]) -> str:
    return ", ".join(r.policy.name for r in results) or "<no policies>"


def _level_reasons(levels: list[list[_PolicyResult]], layer: str, env: _Env) -> list[Reason]:
    out = []
    label = "SCP" if layer == "scp" else "RCP"
    for i, level in enumerate(levels):
        if any(r.allows for r in level):
            continue
        where = "the root" if i == 0 else ("the account" if i == len(levels) - 1 and i > 0 else f"OU level {i}")
        out.append(Reason(
            f"{layer}-no-allow", layer, _names(level), "",
            f"No {label} attached at {where} (level {i}: {_names(level)}) allows {env.action} on {env.resource}; "
            f"every level from the root to the account must allow it, so add an Allow at this level."))
        out.extend(_condition_reasons(level))
    return out


def evaluate(
    request: Request,
    identity: Sequence[Policy] = (),
    *,
    resource_policy: Policy | None = None,
    resource_account: str | None = None,
    boundary: Policy | None = None,
    session: Policy | None = None,
    scps: Sequence[Sequence[Policy]] | None = None,
    rcps: Sequence[Sequence[Policy]] | None = None,
    endpoint: Policy | None = None,
    scp_applies: bool = True,
    rcp_applies: bool = True,
) -> Decision:
    """Evaluate ``request`` against every policy that applies to it.

    ``identity`` is the flat list of identity-based policies (inline, attached
    managed and, for users, group policies).  ``scps``/``rcps`` are lists of levels
    (root, each OU, the account), each a list of the policies attached there;
    ``None`` means not in an organization / no RCPs.  ``resource_account`` defaults
    to the account field of the resource ARN; when neither is known (S3 ARNs carry
    no account) the request is treated as same-account.  ``endpoint`` is a VPC
    endpoint policy the request passes through.
    """
    info = parse_principal(request.principal)
    res_account = resource_account or arn_account(request.resource)
    ctx = _build_context(request, info, res_account)
    env = _Env(request.action, request.resource, info, ctx, has_boundary=boundary is not None)
    cross = bool(info.account and res_account and info.account != res_account)

    if request.action.strip().lower() == _GET_CALLER_IDENTITY and info.kind != "anonymous":
        # STS API reference (GetCallerIdentity): "No permissions are required to perform this
        # operation. If an administrator attaches a policy to your identity that explicitly
        # denies access to the sts:GetCallerIdentity action, you can still perform this operation."
        return Decision(True, cross_account=cross, notes=[
            "sts:GetCallerIdentity needs no permission and cannot be denied: AWS answers it for any "
            "authenticated caller, whatever the policies say."])

    def run(policies: Iterable[Policy], layer: str) -> list[_PolicyResult]:
        return [_eval_policy(p, layer, env) for p in policies]

    id_res = run(identity, "identity")
    rp_res = run([resource_policy] if resource_policy is not None else [], "resource")
    b_res = run([boundary] if boundary is not None else [], "permissions-boundary")
    s_res = run([session] if session is not None else [], "session")
    e_res = run([endpoint] if endpoint is not None else [], "vpc-endpoint")
    # SCPs limit principals of member accounts; AWS service principals and anonymous
    # callers are not such principals.
    scp_on = scps is not None and scp_applies and info.kind not in ("service", "anonymous", "federated")
    rcp_on = rcps is not None and rcp_applies
    scp_levels = [run(level, "scp") for level in scps] if scp_on and scps is not None else []
    rcp_levels = [run(level, "rcp") for level in rcps] if rcp_on and rcps is not None else []
    scp_flat = [r for level in scp_levels for r in level]
    rcp_flat = [r for level in rcp_levels for r in level]
    everything = [*rcp_flat, *scp_flat, *rp_res, *id_res, *b_res, *s_res, *e_res]

    # 1. explicit deny anywhere
    reasons = _deny_reasons(everything, env)
    # 2-3. organization policies: every level must allow
    reasons += _level_reasons(rcp_levels, "rcp", env)
    reasons += _level_reasons(scp_levels, "scp", env)

    # 4-6. resource-based + identity-based, limited by boundary and session policy
    rp_vias = {m.via for r in rp_res for m in r.allows}
    rp_direct = bool(rp_vias & (VIA_DIRECT | {"not-principal"}))
    rp_role = "role-arn" in rp_vias
    has_identity = info.kind in ("user", "role", "assumed-role", "federated-user", "root", "unknown")
    # The root user has full access within its account (no identity policy needed).
    id_allow = info.kind == "root" or any(r.allows for r in id_res)
    boundary_ok = all(r.allows for r in b_res)
    if s_res:
        session_ok = all(r.allows for r in s_res)
    else:
        # policy-eval-denyallow: a session principal without a session policy is
        # allowed only if it is a role session (GetFederationToken needs one).
        session_ok = info.kind != "federated-user"

    grant: list[Reason] = []
    bound_reasons: list[Reason] = []
    if not boundary_ok:
        bound_reasons.append(Reason(
            "boundary-no-allow", "permissions-boundary", boundary.name if boundary else "", "",
            f"The permissions boundary {boundary.name if boundary else ''} does not allow {env.action} on "
            f"{env.resource}; a boundary caps identity-based permissions, so add the action to the boundary."))
        bound_reasons += _condition_reasons(b_res)
    if not session_ok:
        if s_res:
            msg = (f"The session policy {session.name if session else ''} passed when the session was created "
                   f"does not allow {env.action} on {env.resource}; request new credentials with a wider "
                   f"session policy.")
        else:
            msg = (f"{info.raw} is a federated-user session created without a session policy, so it has no "
                   f"permissions; pass a session policy to GetFederationToken.")
        bound_reasons.append(Reason("session-no-allow", "session", session.name if session else "", "", msg))
        bound_reasons += _condition_reasons(s_res)

    rp_name = resource_policy.name if resource_policy is not None else ""
    kms_key = is_kms_key_request(env.action, env.resource)
    if kms_key and not cross:
        # KMS key-policies: an identity-based Allow counts only when the key policy allows the
        # account ("enables IAM policies"); a key policy naming the principal (or its role) is
        # enough on its own, as for any resource policy.
        delegated = "account" in rp_vias
        granted = rp_direct or (rp_role and boundary_ok and session_ok) or (
            has_identity and id_allow and delegated and boundary_ok and session_ok)
        if not granted:
            if not (id_allow or rp_direct or rp_role) and has_identity:
                grant.append(Reason(
                    "no-identity-allow", "identity", _names(id_res), "",
                    f"No identity-based policy of {info.raw} allows {env.action} on {env.resource}"
                    + ("; the key policy allows the account, which delegates to identity-based policies"
                       if delegated else "") + "."))
                grant += _condition_reasons(id_res)
            if not (delegated or rp_direct or rp_role):
                where = (f"The key policy {rp_name} does not" if resource_policy is not None
                         else "No key policy was given, so nothing can")
                grant.append(Reason(
                    "resource-no-allow", "resource", rp_name, "",
                    f"{where} allow {info.raw} (or its account {info.account}) to {env.action} {env.resource}. "
                    f"An identity-based policy alone gives no access to a KMS key: the key policy must allow "
                    f"the account (the statement that enables IAM policies) or name the principal."))
                grant += _condition_reasons(rp_res)
            grant += bound_reasons
    elif cross:
        granted = id_allow and boundary_ok and session_ok and bool(rp_vias)
        if not id_allow:
            grant.append(Reason(
                "no-identity-allow", "identity", _names(id_res), "",
                f"No identity-based policy of {info.raw} allows {env.action} on {env.resource}; cross-account "
                f"access needs an Allow in the caller's account as well as in the resource policy."))
            grant += _condition_reasons(id_res)
        grant += bound_reasons
        if not rp_vias:
            if resource_policy is None:
                msg = (f"{env.resource} is in account {res_account} but the caller is in {info.account}; "
                       f"cross-account access needs a resource-based policy that allows {info.raw}, "
                       f"and none was given.")
            else:
                msg = (f"The resource policy {rp_name} does not allow {info.raw} (account {info.account}) to "
                       f"{env.action} {env.resource}; cross-account access needs an Allow naming the caller, "
                       f"its role or its account.")
            grant.append(Reason("resource-no-allow-cross-account", "resource", rp_name, "", msg))
            grant += _condition_reasons(rp_res)
    else:
        # reference_policies_evaluation-logic (same-account table): a grant to the
        # caller itself ignores implicit denies elsewhere; a grant to the role ARN is
        # still limited by the boundary and session policy; a grant to the account
        # delegates to identity-based policies.
        granted = rp_direct or (rp_role and boundary_ok and session_ok) or (
            has_identity and id_allow and boundary_ok and session_ok)
        if not granted:
            if not (id_allow or rp_role) and has_identity:
                extra = ""
                if "account" in rp_vias:
                    extra = (" (the resource policy names the account, which only delegates to "
                             "identity-based policies)")
                grant.append(Reason(
                    "no-identity-allow", "identity", _names(id_res), "",
                    f"No identity-based policy of {info.raw} allows {env.action} on {env.resource}{extra}; "
                    f"add an Allow to a policy attached to the {info.kind.replace('-', ' ')} "
                    f"or name it in the resource policy."))
                grant += _condition_reasons(id_res)
            if not (id_allow or rp_role) and not rp_vias:
                if resource_policy is not None or not has_identity:
                    where = f"The resource policy {rp_name}" if resource_policy is not None else "No resource policy"
                    grant.append(Reason(
                        "resource-no-allow", "resource", rp_name, "",
                        f"{where} does not allow {info.raw} to {env.action} {env.resource}"
                        + ("; an identity-based allow would also do." if has_identity else
                           "; this principal has no identity policies, so the resource policy must name it.")))
                    grant += _condition_reasons(rp_res)
            grant += bound_reasons

    reasons += grant
    if e_res and not all(r.allows for r in e_res):
        reasons.append(Reason(
            "vpce-no-allow", "vpc-endpoint", endpoint.name if endpoint else "", "",
            f"The VPC endpoint policy {endpoint.name if endpoint else ''} does not allow {env.action} on "
            f"{env.resource}; requests through this endpoint need an Allow there too."))
        reasons += _condition_reasons(e_res)

    notes = [n for r in everything for n in r.notes]
    if kms_key:
        notes.append("KMS key: an identity-based policy counts only if the key policy allows the account; "
                     "grants are not evaluated.")
    return Decision(
        allowed=not reasons,
        reasons=reasons,
        allowed_by=[m for r in everything for m in r.allows],
        near_misses=[nm for r in everything for nm in r.near],
        cross_account=cross,
        notes=notes,
    )


# ------------------------------------------------------------------------- trust


def _trusted_principals(policy: Policy, action: str) -> list[str]:
    out: list[str] = []
    for _, stmt in policy.statements():
        if stmt["Effect"] != "Allow" or "Principal" not in stmt:
            continue
        if "Action" in stmt and not any(match_action(p, action) for p in as_list(stmt["Action"])):
            continue
        principal = stmt["Principal"]
        if isinstance(principal, Mapping):
            for ptype, values in principal.items():
                out += [f"{ptype}:{v}" for v in as_list(values)]
        else:
            out.append(str(principal))
    return out


def evaluate_trust(
    trust: Policy,
    principal: str,
    action: str = "sts:AssumeRole",
    context: Mapping[str, Any] | None = None,
    *,
    role_arn: str | None = None,
    identity: Sequence[Policy] | None = None,
) -> Decision:
    """May ``principal`` call ``action`` (``sts:AssumeRole``, ``sts:AssumeRoleWithWebIdentity``,
    ``sts:AssumeRoleWithSAML``, ``sts:TagSession``...) under the role trust policy ``trust``?

    A role trust policy must allow the caller explicitly even within one account
    (policy-eval-denyallow: trust policies are an exception to "either identity or
    resource policy").  When ``identity`` (the caller's identity-based policies) is
    given, it must also allow the action on ``role_arn`` if the caller is in another
    account or the trust policy names only the caller's account; when it is not
    given, ``allowed_by[*].via == "account"`` flags that this check is still owed.
    """
    request = Request(principal, action, role_arn or "*", dict(context or {}))
    info = parse_principal(principal)
    role_account = arn_account(role_arn) if role_arn else None
    ctx = _build_context(request, info, role_account)
    env = _Env(action, request.resource, info, ctx)
    res = _eval_policy(trust, "trust", env)
    reasons = _deny_reasons([res], env)
    if not res.allows:
        trusted = _trusted_principals(trust, action)
        reasons.append(Reason(
            "trust-no-allow", "trust", trust.name, "",
            f"The trust policy {trust.name} does not allow {principal} to {action}"
            + (f"; it trusts {', '.join(trusted)}" if trusted else f"; no statement allows {action}")
            + "; add the caller to an Allow statement's Principal."))
        reasons += _condition_reasons([res])

    cross = bool(info.account and role_account and info.account != role_account)
    vias = {m.via for m in res.allows}
    id_res: list[_PolicyResult] = []
    if identity is not None and res.allows and info.kind not in ("service", "federated", "anonymous", "root"):
        needs_identity = cross or not (vias & (VIA_DIRECT | {"role-arn", "not-principal"}))
        id_res = [_eval_policy(p, "identity", env) for p in identity]
        reasons[:0] = _deny_reasons(id_res, env)
        if needs_identity and not any(r.allows for r in id_res):
            why = "the role is in another account" if cross else "the trust policy names only the account"
            reasons.append(Reason(
                "no-identity-allow", "identity", _names(id_res), "",
                f"No identity-based policy of {principal} allows {action} on {request.resource}, which is "
                f"required because {why}."))
            reasons += _condition_reasons(id_res)
    return Decision(
        allowed=not reasons,
        reasons=reasons,
        allowed_by=[*res.allows, *(m for r in id_res for m in r.allows)],
        near_misses=[*res.near, *(nm for r in id_res for nm in r.near)],
        cross_account=cross,
    )
