"""Time to first prompt: `triage` started in a real pseudo-terminal until
`triage>` is on the screen, against the floors of `python -c pass` and
`python -c "import boto3"`; and which heavy modules are loaded when the
first prompt is shown (should be none of boto3/botocore/moto).

    python bench/bench_repl_prompt.py [--runs 15] [--json]

No AWS is needed: the endpoint points at a closed loopback port and the
background prefetch is off (a temporary XDG config), so nothing is sent."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("boto3", "botocore", "moto", "jsonschema")


def _env(home: Path) -> dict:
    config = home / "config" / "triage" / "config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[main]\nprefetch = False\n")
    return {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench", "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"}


def time_to_prompt(env: dict) -> float:
    import pexpect

    started = time.perf_counter()
    child = pexpect.spawn(sys.executable, ["-m", "triage"], env=env, dimensions=(40, 120))
    try:
        child.expect("triage>", timeout=30)
        elapsed = time.perf_counter() - started
        child.sendcontrol("d")
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    return elapsed


def time_command(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - started


def modules_at_first_prompt(env: dict) -> list[str]:
    """Run a session to its first prompt (and `help`) and list the heavy modules loaded."""
    code = (
        "import io, sys\n"
        "from prompt_toolkit.input import create_pipe_input\n"
        "from prompt_toolkit.output import DummyOutput\n"
        "from triage.repl import config\n"
        "from triage.repl.session import Repl\n"
        "with create_pipe_input() as inp:\n"
        "    inp.send_text('help\\r\\x04')\n"
        "    Repl(config.load(), out=io.StringIO(), input=inp, output=DummyOutput(), history=None).loop()\n"
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return p.stdout.split()


def measure(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(Path(tmp))
        time_to_prompt(env)  # warm-up: bytecode and the OS file cache
        prompt = [time_to_prompt(env) for _ in range(runs)]
        floor = [time_command("pass") for _ in range(runs)]
        boto3 = [time_command("import boto3") for _ in range(runs)]
        heavy = modules_at_first_prompt(env)
    return {"runs": runs,
            "first_prompt_s": {"median": statistics.median(prompt), "min": min(prompt), "max": max(prompt)},
            "python_pass_s": statistics.median(floor),
            "import_boto3_s": statistics.median(boto3),
            "heavy_modules_at_first_prompt": heavy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    p = result["first_prompt_s"]
    print("| measure | median s | min s | max s |\n|---|---:|---:|---:|")
    print(f"| `triage` to first prompt (pty) | {p['median']:.3f} | {p['min']:.3f} | {p['max']:.3f} |")
    print(f"| floor: `python -c pass` | {result['python_pass_s']:.3f} | | |")
    print(f"| reference: `python -c 'import boto3'` | {result['import_boto3_s']:.3f} | | |")
    print(f"\nheavy modules loaded at the first prompt: {', '.join(result['heavy_modules_at_first_prompt']) or 'none'}"
          f" ({result['runs']} runs each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
