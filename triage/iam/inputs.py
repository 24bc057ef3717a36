"""Checks for the inputs of an IAM question (access-denied's --principal,
--action, --resource, --context), against AWS's catalogue (catalog.py):
what is wrong is a usage error that says what to write instead, never a
"could not evaluate" later; what is merely unusual is a warning. Used through
`format:` on a playbook input (triage/input_formats.py)."""
from __future__ import annotations

import re

from ..errors import UsageError
from . import catalog as cat
from .bridge import principal_ref

PRINCIPAL_FORMS = ("a role or user name (reports-reader), a role or user ARN "
                   "(arn:aws:iam::123456789012:role/reports-reader), or the assumed-role session ARN from the "
                   "error (arn:aws:sts::123456789012:assumed-role/reports-reader/session)")
_S3_URL = re.compile(r"^(?:s3://)?([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/.*)?$")


def principal(value: str, flag: str) -> str:
    value = (value or "").strip()
    if not value:
        raise UsageError(f"{flag} is empty", f"write {PRINCIPAL_FORMS}")
    ref = principal_ref(value)
    if value.startswith("arn:") and ref["kind"] == "unknown":
        raise UsageError(f"{flag} {value}: not a role, user or assumed-role session ARN", f"write {PRINCIPAL_FORMS}")
    if not value.startswith("arn:") and ("/" in value or ":" in value) and ref["kind"] == "unknown":
        raise UsageError(f"{flag} {value}: not a role or user name, nor an ARN", f"write {PRINCIPAL_FORMS}")
    return value


def actions(values: list[str], flag: str) -> list[str]:
    out = []
    for value in values:
        try:
            canonical = cat.canonical_action(value)
        except cat.CatalogError as exc:
            raise UsageError(f"{flag} {exc.message}", exc.hint) from None
        if canonical not in out:
            out.append(canonical)
    return out


def _example(action: str, region: str | None, account: str | None) -> str:
    types = cat.resource_types(action)
    if not types:
        return "*"
    fmt = next((f for t, f in types if t in ("object", "bucket")), None) or types[-1][1]
    return cat.placeholder(fmt, region, account)


def resource(value: str | None, actions_: list[str], flag: str, *, region: str | None = None,
             account: str | None = None) -> tuple[str | None, list[str]]:
    """(the resource, warnings); a UsageError when it cannot be what the actions act on."""
    warnings: list[str] = []
    if value is None or value == "":
        return None, warnings
    value = value.strip()
    acts = [a for a in actions_ if cat.catalog().service(a.split(":")[0])]
    with_types = [a for a in acts if not cat.star_only(a)]
    if value == "*":
        if with_types:
            a = with_types[0]
            raise UsageError(f"{flag} '*' is not a resource: {a} acts on {cat.describe_types(a)}",
                             f"name the resource the request was made on, e.g. {flag} {_example(a, region, account)} "
                             f"(or leave {flag} out: the fix then names a placeholder)")
        return value, warnings
    if not value.startswith("arn:"):
        m = _S3_URL.match(value)
        s3 = [a for a in acts if a.startswith("s3:")]
        objects = [a for a in s3 if not _s3_bucket_level(a)]
        if m and s3 and (value.startswith("s3://") or bool(m.group(2)) or not objects):
            guess = f"arn:aws:s3:::{m.group(1)}{m.group(2) or ''}"
            hint = f"did you mean {flag} {guess}?"
        elif with_types:
            a = with_types[0]
            hint = f"write the ARN of what {a} acts on: {cat.describe_types(a)}, e.g. {_example(a, region, account)}"
        else:
            hint = "write an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)"
        raise UsageError(f"{flag} {value}: not an ARN", hint)
    if len(value.split(":", 5)) < 6:
        raise UsageError(f"{flag} {value}: not a whole ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)",
                         f"e.g. {_example(with_types[0], region, account)}" if with_types else None)
    for a in acts:
        if cat.star_only(a):
            warnings.append(f"{a} supports no resource-level permissions: AWS authorizes it on \"*\", so it is "
                            f"evaluated on \"*\", not on {value}")
            continue
        types = cat.resource_types(a)
        if any(cat.arn_fits(value, f) for _, f in types):
            continue
        if a.startswith("s3:") and _s3_bucket_level(a) and re.match(r"^arn:[^:]+:s3:::[^/]+/.+", value):
            continue   # a bucket-level action on an object: evaluated on the object's bucket
        raise UsageError(f"{flag} {value} is not a resource {a} acts on: it acts on {cat.describe_types(a)}",
                         f"e.g. {flag} {_example(a, region, account)}")
    if acts and not with_types:
        value = "*"      # every action is authorized on "*" only (each warned about above)
    return value, warnings


def _s3_bucket_level(action: str) -> bool:
    return any(t == "bucket" for t, _ in cat.resource_types(action))


def context(values: list[str], actions_: list[str], flag: str) -> tuple[list[str], list[str]]:
    """KEY=VALUE entries with each key spelled as AWS documents it; warnings for unknown keys."""
    out, warnings = [], []
    for item in values or []:
        key, sep, val = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"{flag} {item!r}: write KEY=VALUE",
                             f"e.g. {flag} aws:SourceIp=10.0.0.5 (repeat {flag} for several keys)")
        canonical, note = cat.condition_key(key, actions_)
        if canonical is None:
            warnings.append(f"{flag} {key}: not a condition key AWS documents for {', '.join(actions_) or 'these actions'}"
                            f" or globally{'; ' + note if note else ''}; evaluated as given")
            canonical = key
        out.append(f"{canonical}={val}")
    return out, warnings
