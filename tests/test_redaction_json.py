"""The scrubbing stream runs over JSON text too (stdout of --output json):
whatever it masks, the document must stay valid JSON with the same shape."""
from __future__ import annotations

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from triage.redact import MASK, Redactor, SafeStream

SECRETISH = st.sampled_from([
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKCp8jQ8abcdefghijklmnopq", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "password=hunter2x",
    "postgres://u:p4ss@h/db", 'token: "abc123"', "Bearer abc.def-123456", "xoxb-1234-5678-abcdef",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "arn:aws:secretsmanager:us-east-1:1:secret:x",
])
KEYS = st.sampled_from(["password", "DB_PASSWORD", "apiKey", "token", "name", "iam.GenerateCredentialReport",
                        "secret", "Value", "count"])
LEAF = st.one_of(st.integers(), st.booleans(), st.none(), st.text(max_size=30), SECRETISH,
                 st.builds(lambda a, b: f"{a} {b}", st.text(max_size=10), SECRETISH))
DOC = st.recursive(LEAF, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                 st.dictionaries(st.one_of(KEYS, st.text(max_size=8)), inner, max_size=4)),
                   max_leaves=20)


def shape(value):
    """The document with every string replaced: masking may change strings, nothing else."""
    if isinstance(value, dict):
        return ("dict", [shape(v) for v in value.values()])
    if isinstance(value, list):
        return ("list", [shape(v) for v in value])
    return "str" if isinstance(value, str) else value


@settings(max_examples=300, deadline=None)
@given(DOC, st.sampled_from([None, 2]))
def test_scrubbed_json_stays_json_of_the_same_shape(doc, indent):
    out = io.StringIO()
    SafeStream(out, Redactor()).write(json.dumps(doc, indent=indent) + "\n")
    parsed = json.loads(out.getvalue())
    assert shape(parsed) == shape(doc)
    for secret in ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "hunter2x"):
        assert secret not in out.getvalue()


def test_numbers_after_secret_named_keys_are_not_masked():
    out = io.StringIO()
    SafeStream(out, Redactor()).write(json.dumps({"by_call": {"iam.GenerateCredentialReport": 1, "password": 3}}))
    assert json.loads(out.getvalue()) == {"by_call": {"iam.GenerateCredentialReport": 1, "password": 3}}
    assert MASK not in out.getvalue()
