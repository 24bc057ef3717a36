"""triage/secret_patterns.py is detect-secrets' credential formats, copied as
data so that no run pays for importing it. This fails when the copy and the
installed library drift apart: regenerate with tools/gen_secret_patterns.py."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_secret_patterns_are_generated_from_the_installed_detect_secrets():
    generated = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_secret_patterns.py")],
                               capture_output=True, text=True, check=True, timeout=60).stdout
    assert generated == (ROOT / "triage" / "secret_patterns.py").read_text(), \
        "run: python tools/gen_secret_patterns.py > triage/secret_patterns.py"


def test_a_run_never_imports_detect_secrets():
    code = ("import sys, triage.redact as r; r.Redactor().text('key sk_live_' + 'a'*24);"
            "print('detect_secrets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip() == "False"
