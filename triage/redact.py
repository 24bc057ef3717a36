"""Secrets never leave triage, and nothing that is not a secret is masked.

Facts stay exact inside: steps, `derive`, checks, the IAM evaluator and the
call cache see exactly what AWS returned. Masking happens once, where text
leaves the process:

- `learn` runs on every call result as it arrives and only *remembers*
  secret values (it changes nothing): values AWS marks `sensitive` in its
  service models, or that sit under a secret-named field, that are secrets
  by name or by format. Plain configuration (`QUEUE_NAME=orders-queue`) is
  never remembered, so it can never be masked inside an ARN elsewhere.
- `result` masks a raw result for display (drill-down, recorded cases):
  values of `sensitive` shapes and secret-named fields, then `text`.
- `text` scrubs free text: remembered values, credentials recognised by
  their format (detect-secrets' detectors, secret_patterns.py), values after
  secret-named keys, PEM blocks, signed-URL parameters.
- `SafeStream` applies `text` to everything written to stdout/stderr, so an
  output that forgets to mask still cannot leak.

The mask, REDACTED, is neither a glob nor a syntax character: pasted into a
policy it cannot become a wildcard, and JSON stays valid JSON.

One Redactor serves the whole process (`shared()`): a secret seen once is
masked in every later output of the same command or REPL session."""
from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any, TextIO

from .secret_patterns import PATTERNS

MASK = "REDACTED"

# --- secret-named fields ------------------------------------------------------

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "apikey",
                           "credential", "credentials", "signature", "dsn", "privatekey", "passcode",
                           "authorization", "cookie"})
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("secret", "key"), ("auth", "key"),
                           ("access", "key"), ("session", "key"), ("master", "key"), ("connection", "string"),
                           ("client", "secret"), ("signing", "key"), ("encryption", "key")})
# A name ending in one of these describes a secret, it is not one
# (SecretArn, PasswordLastUsed, TokenType, AccessKeyId, MaxPasswordAge).
_DESCRIBES = frozenset({"arn", "arns", "id", "ids", "name", "names", "type", "types", "status", "enabled", "date",
                        "time", "timestamp", "count", "present", "quota", "length", "age", "required", "used",
                        "policy", "policies", "expiration", "expiry", "rotation", "version", "versions", "size",
                        "format", "source", "location", "fingerprint", "ttl", "mode", "config", "configuration",
                        "settings", "reset", "symbols", "numbers", "uppercase", "lowercase", "characters", "prevention",
                        "reuse", "rotated", "state", "last", "hint", "path", "paths", "list", "ref", "manager",
                        "region", "regions", "endpoint", "url", "uri", "header", "metadata", "tags", "rules", "kms",
                        "changed", "updated", "created", "modified", "method", "methods", "provider", "scheme",
                        "stdin", "file", "prompt", "report", "reports", "rotation", "lambda"})
# Tokens that are handles, not credentials (pagination, idempotency).
_HANDLE_TOKENS = frozenset({"next", "continuation", "pagination", "forward", "backward", "sequence", "client",
                            "idempotency", "marker", "page", "starting", "upload", "request"})


@lru_cache(maxsize=4096)
def secret_name(name: str) -> bool:
    """Does a field or variable name say its value is a secret?
    DB_PASSWORD, MasterUserPassword, apiKey, client_secret: yes;
    SecretArn, PasswordLastUsed, NextToken, QUEUE_NAME, KmsKeyArn: no."""
    words = [w.lower() for w in _CAMEL.findall(name)]
    if not words or words[-1] in _DESCRIBES:
        return False
    if words[-1] == "token" and len(words) > 1 and words[-2] in _HANDLE_TOKENS:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:]))


# --- free text ----------------------------------------------------------------

_DETECTORS = tuple((name, re.compile(pattern, flags)) for name, pattern, flags in PATTERNS) + (
    # detect-secrets knows Stripe's live keys only; test-mode keys still open the account's test data
    ("StripeTestKey", re.compile(r"\b[rs]k_test_[0-9a-zA-Z]{24,}")),)
# Words that precede every format the detectors know; a string without any
# of them skips the detector loop (most output strings: names, numbers, ARNs).
_ARN = re.compile(r"\barn:[\w-]+:[^\s\"'`,;)}\]]*")
_KEY_SEP = re.compile(r"""(?ix)
    (?:
      (?P<key>["']?\b[a-z][\w.-]*["']?)                # a key ...
      (?P<sep>\s*=\s*|\s*:\s+|(?<=["'])\s*:\s*)     # ... then =, ": or ': (a bare colon is an ARN or an action)
    | (?<![\w-])(?P<flag>--[a-z][\w-]*|-p)(?P<flagsep>[ =])     # --password X, --secret-string=X, docker login -p X
    | \b(?:configure\s+set|login\s+\S+)\s+(?P<setkey>[\w.-]+)(?P<setsep>\s+)   # aws configure set K V; netrc login U password V
    )
    (?P<scheme>(?:bearer|basic|token)\s+)?""")
# A value: quoted (JSON escapes included), b'...' (botocore --debug headers), or a bare word.
_VALUE = re.compile(r"""(?x)
    \\"(?:[^"\\\n]|\\[^"])*\\"            # \"...\" inside a JSON string (the text is JSON)
  | b?"(?:[^"\\\n]|\\.)*" | b?'(?:[^'\\\n]|\\.)*'
  | [^\s,;&"'}<>)\]\\]+""")
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{8,})")
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)", re.S)
_SIGNED_URL = re.compile(r"(?i)(X-Amz-(?:Signature|Security-Token|Credential)=)([^&\s\"']+)")
# A standalone 40-character AWS secret access key: base64 alphabet, both
# cases and a digit or / or + (a git SHA-1 is lower-case hex: not matched).
# scheme://user:PASSWORD@host, the password up to the last @ (an unencoded @ in it happens);
# the user may be empty (rediss://:PASSWORD@host).
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/\s@]*:)([^\s/@][^\s/]*?)@(?=[^@\s]*(?:[\s/?#]|$))")
# curl -u USER:PASSWORD (Stripe, Twilio: the user is an id, the part after the colon the secret)
_CURL_USER = re.compile(r"((?:^|\s)(?:-u|--user)\s+['\"]?[^:\s'\"]+:)(?=[^\s'\"])([^\s'\"]+)")
_PROSE_WORD = re.compile(r"[A-Za-z][a-z]*$")
_DELIMITERS = frozenset(" \t\r\n\"'=:,")
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_-]*")
_JWT_TAIL = re.compile(r"[A-Za-z0-9_\-.+/=]*")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


# A path segment a person wrote: a lower-case word, a number, or CamelCase/ACRONYMWord
# (`audit/AWSLogs/123456789012/CloudTrail/us`, a trail's S3 prefix, is exactly 40 such characters).
_PATH_WORD = re.compile(r"[a-z]+|[0-9]+|[A-Z]+[a-z]+(?:[A-Z][a-z]+)*|[A-Z]+")


def _looks_like_aws_secret(s: str) -> bool:
    if not (re.search(r"[a-z]", s) and re.search(r"[A-Z]", s) and re.search(r"[0-9/+]", s)):
        return False
    # A key's / falls anywhere in random text; a path's segments are words and numbers.
    return not ("/" in s and "+" not in s and all(_PATH_WORD.fullmatch(seg) for seg in s.split("/") if seg))


def _not_a_value(value: str) -> bool:
    """Values after a secret-named key that are references, not secrets."""
    v = value.strip("\"'")
    # AWS4-HMAC-SHA256 is the scheme of a SigV4 Authorization header (its Signature= is masked on its own);
    # a value that starts with the mask is a credential scope whose key id is already masked.
    # A bare { or [ opens a document (a policy after "name: "); a quoted one is a string holding JSON.
    return (not v or value[:1] in ("{", "[") or v.startswith((MASK, "$", "arn:", "<", "%", "AWS4-HMAC-SHA256"))
            or v.lower() in
            {"null", "none", "true", "false", "undefined", "required", "optional", "redacted", "hidden", "***"})


class Redactor:
    """Remembers the secrets seen in this process and masks them (and
    anything shaped like a credential) out of every output."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._sorted: tuple[str, ...] = ()
        self._lock = threading.Lock()

    # --- learning (changes nothing) ---------------------------------------
    def remember(self, value: Any) -> None:
        # Very short values ("1234") would mask unrelated output wherever they appear.
        if isinstance(value, str) and len(value) >= 6 and value != MASK:
            with self._lock:
                if value not in self._values:
                    self._values.add(value)
                    self._sorted = tuple(sorted(self._values, key=len, reverse=True))

    def learn(self, service: str, operation: str, result: Any, shape=None) -> None:
        """Remember the secrets in one call result. `shape` is the botocore
        output shape (looked up in the service model when not given)."""
        if shape is None:
            shape = _output_shape(service, operation)
        self._learn(result, shape, None)

    def _learn(self, value: Any, shape, name: str | None) -> None:
        sensitive = shape is not None and shape.metadata.get("sensitive")
        if isinstance(value, str):
            if name is not None and secret_name(name) and not _not_a_value(value):
                self.remember(value)
            elif sensitive and _credential_spans(value):
                self.remember(value)
            return
        if isinstance(value, dict):
            kind = getattr(shape, "type_name", None)
            if kind == "map":
                for k, v in value.items():   # e.g. Lambda environment: the variable's name decides
                    self._learn(v, shape.value, str(k))
                return
            members = shape.members if kind == "structure" else {}
            pair_name = _pair_name(value)
            for k, v in value.items():
                if pair_name is not None and k.lower() == "value":   # [{Name: DB_PASSWORD, Value: ...}]
                    self._learn(v, members.get(k), pair_name)
                else:
                    self._learn(v, members.get(k), k)
            return
        if isinstance(value, list):
            member = shape.member if getattr(shape, "type_name", None) == "list" else None
            for v in value:
                self._learn(v, member, name)

    # --- masking for display ----------------------------------------------
    def result(self, service: str | None, operation: str | None, value: Any) -> Any:
        """A copy of a raw call result fit to show: values of `sensitive`
        shapes and secret-named fields replaced by MASK, text scrubbed."""
        shape = _output_shape(service, operation) if service and operation else None
        return self._mask(value, shape, None)

    def _mask(self, value: Any, shape, name: str | None) -> Any:
        sensitive = shape is not None and shape.metadata.get("sensitive") and name not in ("Message", "ErrorMessage")
        if isinstance(value, str):
            if (sensitive or (name is not None and secret_name(name))) and not _not_a_value(value):
                return MASK
            return self.text(value)
        if isinstance(value, dict):
            kind = getattr(shape, "type_name", None)
            if kind == "map":
                return {self.text(str(k)): self._mask(v, shape.value, str(k)) for k, v in value.items()}
            members = shape.members if kind == "structure" else {}
            pair_name = _pair_name(value)
            out = {}
            for k, v in value.items():
                key_name = pair_name if pair_name is not None and k.lower() == "value" else k
                out[self.text(str(k))] = self._mask(v, members.get(k), key_name)
            return out
        if isinstance(value, (list, tuple)):
            member = shape.member if getattr(shape, "type_name", None) == "list" else None
            return [self._mask(v, member, name) for v in value]
        return value

    def deep(self, value: Any) -> Any:
        """Scrub every string in a JSON-like structure (keys included);
        string values under secret-named keys are masked."""
        return self._mask(value, None, None)

    def text(self, s: str) -> str:
        if not s:
            return s
        for v in self._sorted:
            if v in s:
                s = s.replace(v, MASK)
        if len(s) < 8:
            return s
        return _scrub(s)


@lru_cache(maxsize=8192)
def _scrub(s: str) -> str:
    """Credentials recognised by format. Cached: output repeats strings."""
    s = _PEM.sub(MASK, s)   # first: the detectors would cut its BEGIN line off the block
    s = _mask_url_passwords(s)
    s = _CURL_USER.sub(lambda m: m.group(0) if _not_a_value(m.group(2)) else m.group(1) + MASK, s)
    spans = _credential_spans(s)
    if spans:
        s = _replace_spans(s, spans)
    s = _SIGNED_URL.sub(lambda m: m.group(1) + MASK, s)
    s = _AUTH_HEADER.sub(_mask_auth_header, s)
    return _mask_key_values(s)


def _mask_url_passwords(s: str) -> str:
    fragments: list[str] = []

    def mask(m: re.Match) -> str:
        password = m.group(2)
        if password == MASK or _not_a_value(password):
            return m.group(0)
        # A password with an unencoded @ is cut there by URL parsers, which then
        # echo the rest as a host name ("could not translate host name ..."): mask those pieces too.
        fragments.extend(p for p in password.split("@")[1:] if len(p) >= 4)
        return m.group(1) + MASK + "@"
    s = _URL_PASSWORD.sub(mask, s)
    for piece in fragments:
        s = s.replace(piece, MASK)
    return s


def _credential_spans(s: str) -> list[tuple[int, int]]:
    """Where detect-secrets' formats match, outside ARNs (an SQS queue ARN's
    account id and name look like a Telegram bot token)."""
    arns = [m.span() for m in _ARN.finditer(s)]
    spans = []
    for name, regex in _DETECTORS:
        for m in regex.finditer(s):
            start, end = m.span()
            # A pattern that captures the secret after its context (aws...key='...',
            # ://user:PASSWORD@) masks the capture; one whose group is a prefix
            # (ghp_) masks the whole match.
            groups = [g for g in range(1, (regex.groups or 0) + 1) if m.group(g)]
            if groups and len(m.group(groups[-1])) >= 8:
                start, end = m.span(groups[-1])
            else:  # fixed-length formats (sk_live_ + 24) and JWT's lazy signature: take the whole token
                tail = (_JWT_TAIL if name == "JwtTokenDetector" else _TOKEN_TAIL).match(s, end)
                end = tail.end() if tail else end
                if s.startswith(("https://", "http://"), start):   # a webhook URL: the host and path are not secret
                    start = s.rindex("/", start, end) + 1
            # Some formats include their delimiters ("AKC...", =AP...): keep quotes and separators,
            # or masking would break the JSON or the line around the secret.
            while start < end and s[start] in _DELIMITERS:
                start += 1
            while end > start and s[end - 1] in _DELIMITERS:
                end -= 1
            if end - start < 8 or any(a <= start and end <= b for a, b in arns):
                continue
            spans.append((start, end))
    for m in _AWS_SECRET.finditer(s):
        if _looks_like_aws_secret(m.group(0)) and not any(a <= m.start() and m.end() <= b for a, b in arns):
            spans.append(m.span())
    return spans


def _replace_spans(s: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for start, end in sorted(spans):
        if end <= pos:
            continue
        start = max(start, pos)
        out += [s[pos:start], MASK]
        pos = end
    return "".join(out) + s[pos:]


def _mask_auth_header(m: re.Match) -> str:
    token = m.group(3)
    # "basic authentication" is prose; a credential has a digit or punctuation
    if token == MASK or not re.search(r"[0-9._~+/=-]", token):
        return m.group(0)
    return m.group(1) + m.group(2) + MASK


def _mask_key_values(s: str) -> str:
    """Values after secret-named keys: password=..., "apiKey": "...",
    token: .... A key that is not secret-named consumes nothing after it, so
    `connecting: password=x` still finds `password`."""
    out, pos = [], 0
    while (m := _KEY_SEP.search(s, pos)) is not None:
        key = m.group("key") or m.group("setkey") or m.group("flag")
        quoted_key = len(key) > 1 and key[0] in "\"'" and key[-1] == key[0]
        name = "password" if key == "-p" else key.strip("\"'-")
        sep = m.group("sep") or ""
        value = _VALUE.match(s, m.end())
        # docker's config.json: "auth": base64(user:pass); a --auth flag or auth=... is a mode, not a secret
        secret = secret_name(name) or (quoted_key and name == "auth")
        if value is None or not secret or _not_a_value(value.group(0)) or not re.search(r"[A-Za-z0-9]", value.group(0)) or (
                ":" in sep and not quoted_key and _PROSE_WORD.match(value.group(0))) or (
                quoted_key and value.group(0).lstrip("b\\")[:1] not in "\"'"):   # "key": 12 in JSON: not a string
            # not a secret (prose after a colon: "credentials: Unable to locate ...")
            out.append(s[pos:m.end()])
            pos = m.end()
            continue
        v = value.group(0)
        prefix = "b" if v[:2] in ("b'", 'b"') else ""
        v = v[len(prefix):]
        quote = ('\\"' if v.startswith('\\"') else
                 v[0] if v[:1] in ("'", '"') and len(v) >= 2 and v[-1] == v[0] else "")
        out.append(s[pos:m.end()] + f"{prefix}{quote}{MASK}{quote}")
        pos = value.end()
    out.append(s[pos:])
    return "".join(out)


def _pair_name(value: dict) -> str | None:
    """{Name: X, Value: ...} / {name, value} / {Key, Value}: the name of the pair."""
    for k in ("Name", "name", "Key", "key", "ParameterKey", "ParameterName"):
        if isinstance(value.get(k), str) and any(v.lower() == "value" for v in value if v != k):
            return value[k]
    return None


@lru_cache(maxsize=256)
def _output_shape(service: str, operation: str):
    try:
        from .botomodel import service_model
        return service_model(service).operation_model(operation).output_shape
    except Exception:  # an unknown service or operation: name rules only
        return None


# --- the output edge ----------------------------------------------------------

_SHARED = Redactor()


def shared() -> Redactor:
    """The process's Redactor: every Aws, replay, renderer, history and log uses it."""
    return _SHARED


class SafeStream:
    """stdout/stderr as the CLI and REPL see them: every write is scrubbed.
    Renderers already mask structured data; this is the net under them
    (error messages, --debug logs, a future output that forgets)."""

    def __init__(self, stream: TextIO, redactor: Redactor | None = None):
        self._stream = stream
        self._redactor = redactor or _SHARED

    def write(self, s: str) -> int:
        text = self._redactor.text(s) if isinstance(s, str) else s
        try:
            self._stream.write(text)
        except UnicodeEncodeError:  # a stdout that is not UTF-8 (PYTHONIOENCODING=ascii, LANG=C): degrade, never fail
            self._stream.write(degrade(text, getattr(self._stream, "encoding", None) or "ascii"))
        return len(s)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):   # isatty, flush, fileno, encoding, getvalue, ...
        return getattr(self._stream, name)


# What triage's own output uses beyond ASCII, as ASCII; anything else is '?'.
_ASCII = str.maketrans({"—": "-", "–": "-", "…": "...", "✓": "ok", "✗": "x", "·": "-", "│": "|", "─": "-",
                        "→": "->", "←": "<-", "≥": ">=", "≤": "<=", "≈": "~", "×": "x", "•": "*",
                        "‘": "'", "’": "'", "“": '"', "”": '"', "╭": "+", "╮": "+", "╰": "+", "╯": "+"})


def degrade(text: str, encoding: str) -> str:
    """`text` as the stream's encoding can carry it: triage's own symbols
    spelled in ASCII, anything else replaced (errors='replace')."""
    try:
        return text.translate(_ASCII).encode(encoding, "replace").decode(encoding)
    except LookupError:  # an encoding Python does not know
        return text.translate(_ASCII).encode("ascii", "replace").decode("ascii")
