"""Nothing that is not a secret is masked: a 40-character S3 key prefix made of
path words (a CloudTrail prefix in "Recent changes") is not an AWS secret key,
while a real-format secret key with slashes still is."""
from __future__ import annotations

import pytest

from triage.redact import MASK, Redactor


@pytest.mark.parametrize("text, run", [
    ("audit/AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/29/", "audit/AWSLogs/123456789012/CloudTrail/us"),
    ("prefix: trail/AWSLogs/210987654321/CloudTrail/eu-west-1", "trail/AWSLogs/210987654321/CloudTrail/eu"),
    ("key Handlers/OrdersService/ProcessingQueue/x", "Handlers/OrdersService/ProcessingQueue/x"),
])
def test_a_path_of_words_is_not_a_secret(text, run):
    assert len(run) == 40 and run in text     # the length and alphabet of a secret key
    assert Redactor().text(text) == text


@pytest.mark.parametrize("secret", [
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",     # AWS's documented example key
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",     # the second one in the IAM guide
    "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/Ab",
])
def test_a_secret_key_with_slashes_is_still_masked(secret):
    assert Redactor().text(f"aws_secret={secret} and {secret}").count(MASK) == 2
