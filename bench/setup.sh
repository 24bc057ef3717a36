#!/usr/bin/env bash
# One-time setup for the benchmarks: triage with its test extras (moto) in the
# current Python, and AWS CLI v1 from PyPI in the bench's own virtualenv
# (bench/.venv, git-ignored) so it cannot change the project's botocore.
# GNU time (/usr/bin/time) measures CPU and peak RSS per process.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet -e '.[test]'
[ -x bench/.venv/bin/aws ] || { python3 -m venv bench/.venv && bench/.venv/bin/pip install --quiet awscli; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
bench/.venv/bin/aws --version
