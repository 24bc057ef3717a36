"""Secrets never leave triage. Two layers:
1. structured: results are redacted as they arrive from AWS (Lambda
   environment values, fields named like passwords/keys/tokens), and every
   value removed is remembered;
2. textual: every string that is output is scrubbed of remembered values and
   of anything shaped like a credential (log lines are free text)."""
from __future__ import annotations

import re
import threading
from typing import Any

MASK = "***"

_SECRET_KEY = re.compile(
    r"(passw(or)?d|passwd|secret|token|api[-_]?key|apikey|private[-_]?key|credential|auth[-_]?key|"
    r"access[-_]?key|session[-_]?key|signature|connection[-_]?string|dsn|client[-_]?secret|pwd)", re.I)
# Field names that contain the words above but are not secrets.
_NOT_SECRET_KEY = re.compile(r"^(KmsKeyArn|KMSKeyArn|KmsKeyId|KeyId|AccessKeyId|TokenType|.*Arn|.*Id|.*Ids|"
                             r"SecretArn|SecretsManagerSecretArn|MasterUserSecret|.*Enabled|.*Status|.*Type|"
                             r"PasswordLastUsed|PasswordResetRequired|PasswordPolicy|.*Date|.*Time|.*Count|"
                             r"MasterUsername|MaxPasswordAge|RequireSymbols|AccountAccessKeysPresent|"
                             r"AccessKeysPerUserQuota|AccountMFAEnabled|.*Present|.*Quota|.*Length)$")

_TEXT_PATTERNS = [
    # key=value / key: value / "key": "value" where the key names a secret
    (re.compile(r"""(?ix)
        (["']?\b[\w.-]*(?:passw(?:or)?d|passwd|pwd|secret|token|api[-_]?key|apikey|private[-_]?key|
                  access[-_]?key|client[-_]?secret|authorization|credential)[\w.-]*["']?
        \s*(?:=|:)\s*(?:(?:bearer|basic|token)\s+)?)
        (?:"[^"]*"|'[^']*'|[^\s,;&"'}]+)"""), lambda m: m.group(1) + MASK),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), lambda m: m.group(1) + " " + MASK),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S), lambda m: MASK),
    (re.compile(r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{4})[A-Z0-9]{8}([A-Z0-9]{4})\b"), lambda m: f"{m.group(1)}{MASK}{m.group(2)}"),
    (re.compile(r"(?i)(X-Amz-(?:Signature|Security-Token|Credential)=)[^&\s\"']+"), lambda m: m.group(1) + MASK),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/\s@]+:)[^@\s/]+(@)"), lambda m: m.group(1) + MASK + m.group(2)),
    # 40-char AWS secret access keys standing alone
    (re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
     lambda m: MASK if re.search(r"[a-z]", m.group(0)) and re.search(r"[A-Z]", m.group(0)) and re.search(r"[0-9/+]", m.group(0)) else m.group(0)),
]


class Redactor:
    """Collects secret values seen during a run and scrubs them from output."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, value: Any, min_length: int = 4) -> None:
        # Short non-secret values ("prod", "true") would mask unrelated
        # output wherever they appear, so only distinctive ones are tracked.
        if isinstance(value, str) and len(value) >= min_length:
            with self._lock:
                self._values.add(value)

    def result(self, service: str, operation: str, value: Any) -> Any:
        """Redact a call result as it arrives."""
        return self._walk(value, None)

    def _walk(self, value: Any, key: str | None) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if k == "Variables" and key == "Environment" and isinstance(v, dict):
                    for name, secret in v.items():
                        self.remember(secret, 4 if self.secret_key(name) else 8)
                    out[k] = {name: MASK for name in v}
                elif isinstance(v, str) and self.secret_key(k):
                    self.remember(v)
                    out[k] = MASK
                else:
                    out[k] = self._walk(v, k)
            return out
        if isinstance(value, list):
            return [self._walk(v, key) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    @staticmethod
    def secret_key(name: str) -> bool:
        return bool(_SECRET_KEY.search(name)) and not _NOT_SECRET_KEY.match(name)

    def text(self, s: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for v in values:
            if v in s:
                s = s.replace(v, MASK)
        for pattern, repl in _TEXT_PATTERNS:
            s = pattern.sub(repl, s)
        return s

    def deep(self, value: Any) -> Any:
        """Scrub every string in a JSON-like structure (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): (MASK if isinstance(v, str) and self.secret_key(str(k)) else self.deep(v))
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.deep(v) for v in value]
        return value
