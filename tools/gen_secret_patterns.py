"""Regenerate triage/secret_patterns.py from detect-secrets' detectors.

triage scrubs free text (log lines, error messages) of credentials
recognised by their format. The formats are maintained by Yelp's
detect-secrets; importing it costs ~0.17 s (it pulls in requests), which
every run would pay, so its regular expressions are copied here as data
and tests/test_redaction.py fails when they drift from the installed
library. Run after upgrading detect-secrets:

    python tools/gen_secret_patterns.py > triage/secret_patterns.py
"""
from __future__ import annotations

import importlib
import pkgutil

import detect_secrets
from importlib.metadata import version
import detect_secrets.plugins
from detect_secrets.plugins.base import RegexBasedDetector

# Not format detectors: entropy scores and keyword heuristics flag ordinary
# words, request ids and IAM action names ("secretsmanager:GetSecretValue");
# public IP addresses are not secrets. triage's own key=value rule
# (redact.py) covers secrets after secret-named keys.
EXCLUDED = {"Base64HighEntropyString", "HexHighEntropyString", "KeywordDetector", "IPPublicDetector"}


def detectors():
    for info in sorted(pkgutil.iter_modules(detect_secrets.plugins.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"detect_secrets.plugins.{info.name}")
        for name, obj in sorted(vars(module).items()):
            if (isinstance(obj, type) and issubclass(obj, RegexBasedDetector) and obj is not RegexBasedDetector
                    and obj.__module__ == module.__name__ and name not in EXCLUDED):
                yield name, obj


def main() -> None:
    print(f'"""Credential formats, generated from detect-secrets {version("detect-secrets")} by\n'
          'tools/gen_secret_patterns.py: do not edit by hand."""\n')
    print("# (detector, pattern, re flags)")
    print("PATTERNS = (")
    for name, cls in detectors():
        for regex in cls.denylist:
            print(f"    ({name!r}, {regex.pattern!r}, {int(regex.flags) & ~32}),")  # minus re.UNICODE (implicit)
    print(")")


if __name__ == "__main__":
    main()
