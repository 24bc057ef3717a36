"""The read-only guard: which AWS operations triage may call. Used when a
playbook is validated and again on every client call, so a playbook that
slips past validation still cannot mutate anything."""
from __future__ import annotations

import re

READ_PREFIXES = ("Get", "List", "Describe", "Lookup", "Filter", "Search", "Simulate", "Head", "BatchGet")

# Reads that are safe and useful although their names do not say so.
EXTRA_READS = frozenset({"DecodeAuthorizationMessage", "GenerateCredentialReport"})

# Reads by name that hand out secrets or data triage must never hold.
SECRET_READS = frozenset({
    "GetSecretValue", "BatchGetSecretValue", "GetParameter", "GetParameters", "GetParametersByPath",
    "GetSessionToken", "GetFederationToken", "GetAuthorizationToken", "GetPasswordData",
    "GetObject", "GetObjectTorrent", "GetDataKey", "GetCredentialsForIdentity", "GetOpenIdToken",
    "GetClusterCredentials", "GetClusterCredentialsWithIAM", "GetRoleCredentials", "GetTemporaryGlueTableCredentials",
})

# Names that start with a read prefix but change state.
_PREFIX_LIES = re.compile(r"^(GetAndUpdate|ListenerCreate)")


def is_read_operation(operation: str) -> bool:
    if operation in SECRET_READS or _PREFIX_LIES.match(operation):
        return False
    return operation in EXTRA_READS or operation.startswith(READ_PREFIXES)


def refusal(operation: str) -> str:
    if operation in SECRET_READS:
        return f"{operation} returns secrets or object data; triage never reads them"
    return (f"{operation} is not a read; triage only calls "
            f"{'/'.join(p for p in READ_PREFIXES)}* operations")
