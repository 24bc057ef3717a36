"""Hostile input: `triage explain` on 10 MB adversarial pastes, and a
"billion laughs" YAML alias bomb through `validate`, `--help` and `playbooks`.

    python bench/bench_hostile.py                  # the working tree; prints a Markdown section
    python bench/bench_hostile.py --size-mb 2 --ref HEAD~3 --timeout 60   # an older commit, for comparison

Every command is its own process, run under GNU time for CPU time (user +
sys) and peak RSS; wall time is taken by the harness. Nothing touches
AWS: `explain --no-run` only routes and extracts. A process still running
after --timeout seconds is killed and reported as such (`--ref` of a commit
before the fix needs minutes and a gigabyte otherwise). The targets: explain
answers within 2 s on any paste up to 10 MB; validate rejects the bomb at
once, in a few MB; `--help` and `playbooks` still work with the bomb in a
user folder, the second time too (the header cache)."""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIME = "/usr/bin/time"  # GNU time (bench/setup.sh installs it)

REAL_ERROR = ("An error occurred (ResourceNotFoundException) when calling the Invoke operation: "
              "Function not found: arn:aws:lambda:us-east-1:123456789012:function:orders-etl\n")

# name -> (what it attacks, repeated unit, tail)
PASTES = {
    "rnf": ("`ResourceNotFoundException ` repeated (the quadratic shipped trigger `ResourceNotFoundException.*Function "
            "not found: ...`, issue 11)", "ResourceNotFoundException ", ""),
    "rnf+error": ("the same, with the real error at the very end (must still route, with the function)",
                  "ResourceNotFoundException ", REAL_ERROR),
    "arn": ("`arn:aws:lambda:...:function:` repeated, no spaces (every `arn:` starts a candidate ARN)",
            "arn:aws:lambda:us-east-1:123456789012:function:", ""),
    "wrapped": ("79 letters and a newline, repeated (every line looks hard-wrapped)", "a" * 79 + "\n", ""),
    "escapes": ("`\\u001b[` repeated (JSON-escaped ANSI: unescaping, then the ANSI stripper)", "\\u001b[", ""),
    "denied": ("`User: arn:x is not authorized to perform: a:b ` repeated (access-denied phrases and triggers)",
               "User: arn:x is not authorized to perform: a:b ", ""),
    "mixed": ("fragments of every message family, shuffled (seeded)", None, ""),
}
FRAGMENTS = ["ResourceNotFoundException ", "Function not found: ", "arn:aws:lambda:us-east-1:1:function:",
             "is not authorized to perform: ", "Access Denied", "\n", "Task timed out after ", "3.00 seconds ",
             "too many connections ", "REPORT Status: timeout ", "<Code>AccessDenied</Code>", "\"__type\": \"",
             "1040 ", "(AccessDenied) when calling the ", "é", "\\u001b[", " ", "/aws/lambda/"]


def write_paste(name: str, size: int, path: Path) -> None:
    """Written in chunks: the harness stays small (a child's peak RSS is
    measured by /usr/bin/time, which forks from itself, not from us)."""
    _, unit, tail = PASTES[name]
    rng = random.Random(11)
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < size - len(tail):
            if unit is None:
                chunk = "".join(rng.choice(FRAGMENTS) for _ in range(20_000))
            else:
                chunk = unit * max(1, min(1_000_000, size - len(tail) - written) // len(unit))
            f.write(chunk)
            written += len(chunk)
        f.write(tail)


BOMB = """\
id: lol
title: Billion laughs
summary: nine levels of nine aliases
x-lol:
  l0: &l0 "lol"
{levels}
inputs:
  function:
    required: true
    help: *l9
steps:
  config:
    call: lambda.GetFunctionConfiguration
    params:
      FunctionName: ${{inputs.function}}
checks:
  - id: short-timeout
    severity: low
    when: config.Timeout < `10`
    title: Short timeout
    explanation: Timeout is ${{config.Timeout}}
"""


def bomb() -> str:
    levels = "\n".join(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10))
    return BOMB.format(levels=levels)


def run(argv: list[str], env: dict, cwd: str, timeout: float, stdin_path: str | None = None) -> dict:
    """One process under GNU time: wall s, CPU s (user+sys), peak RSS MB, exit code, killed?"""
    with tempfile.TemporaryDirectory() as tmp:
        stats, out_path = Path(tmp) / "time", Path(tmp) / "out"
        with open(stdin_path or os.devnull, "rb") as stdin, open(out_path, "wb") as out:
            started = time.perf_counter()
            proc = subprocess.Popen([TIME, "-f", "%e %U %S %M %x", "-o", str(stats), *argv], stdin=stdin,
                                    stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
            try:
                proc.wait(timeout)
                killed = None
            except subprocess.TimeoutExpired:
                killed = _so_far(proc.pid)           # read before the kill: GNU time reports nothing then
                os.killpg(proc.pid, signal.SIGKILL)  # GNU time and the measured process
                proc.wait()
            wall = time.perf_counter() - started
        text = out_path.read_text(encoding="utf-8", errors="replace")
        fields = stats.read_text().split() if stats.exists() else []
    if killed is not None or len(fields) < 5:
        cpu, rss = killed or (float("nan"), float("nan"))
        return {"wall": wall, "cpu": cpu, "rss_mb": rss, "code": None, "killed": True, "out": text}
    return {"wall": wall, "cpu": float(fields[-4]) + float(fields[-3]), "rss_mb": int(fields[-2]) / 1024,
            "code": int(fields[-1]), "killed": False, "out": text}


def _so_far(time_pid: int) -> tuple[float, float]:
    """CPU s and peak RSS MB of GNU time's child until now, from /proc (Linux)."""
    try:
        child = open(f"/proc/{time_pid}/task/{time_pid}/children").read().split()[0]
        stat = open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")   # utime, stime
        hwm = next(line for line in open(f"/proc/{child}/status") if line.startswith("VmHWM:"))
        return cpu, int(hwm.split()[1]) / 1024
    except (OSError, IndexError, StopIteration, ValueError):
        return float("nan"), float("nan")


def extract(ref: str, where: Path) -> tuple[str, str]:
    """REV's sources, unpacked under `where`: (the folder, the commit)."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    src = where / "src"
    src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return str(src), commit


def fmt(r: dict, timeout: float) -> tuple[str, str, str, str]:
    wall = f"> {timeout:.0f} (killed)" if r["killed"] else f"{r['wall']:.2f}"
    if r["killed"]:
        return wall, f"> {r['cpu']:.1f}", f"≥ {r['rss_mb']:.0f}", "killed"
    return wall, f"{r['cpu']:.2f}", f"{r['rss_mb']:.0f}", str(r["code"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=10.0, help="size of each paste (default 10)")
    ap.add_argument("--pastes", default=",".join(PASTES), help=f"some of: {','.join(PASTES)}")
    ap.add_argument("--timeout", type=float, default=60.0, help="kill a process after this many seconds (default 60)")
    ap.add_argument("--ref", metavar="REV", help="measure this commit's sources instead of the working tree")
    args = ap.parse_args()
    size = int(args.size_mb * 1_000_000)

    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        home = Path(tmp)
        src, what = str(ROOT), "the working tree"
        if args.ref:
            src, commit = extract(args.ref, home)
            what = f"--ref {args.ref} ({commit[:10]})"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRIAGE_"))}
        env.update(PYTHONPATH=src, XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"),
                   AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_ENDPOINT_URL="http://127.0.0.1:9")
        triage = [sys.executable, "-m", "triage"]
        load = os.getloadavg()[0]

        print(f"## Hostile input (bench/bench_hostile.py)\n")
        print(f"Measured: {what}; {args.size_mb:g} MB pastes; load average {load:.1f} at the start "
              f"(2 cores). Each row is one process; CPU = user + sys.\n")
        print("| `triage explain --no-run --output json` on | wall s | CPU s | peak RSS MB | exit | routed to |")
        print("|---|---|---|---|---|---|")
        for name in args.pastes.split(","):
            path = home / f"{name}.txt"
            write_paste(name, size, path)
            r = run([*triage, "explain", "--no-run", "--output", "json"], env, src, args.timeout, str(path))
            routed = "?"
            if not r["killed"]:
                try:
                    doc = json.loads(r["out"][r["out"].index("{"):r["out"].rindex("}") + 1])
                    routed = str(doc.get("routed_to")) + (f" ({doc['inputs']['function']})"
                                                          if doc.get("inputs", {}).get("function") else "")
                except ValueError:
                    routed = r["out"].strip().splitlines()[-1][:60] if r["out"].strip() else "?"
            print(f"| {PASTES[name][0]} | " + " | ".join(fmt(r, args.timeout)) + f" | {routed} |")
            path.unlink()

        text = bomb()
        print(f"\nBillion laughs: a {len(text)} byte playbook, nine levels of nine aliases of \"lol\" "
              f"(9^9 = 387,420,489 strings when expanded), used as an input's `help` (a header field).\n")
        print("| command | wall s | CPU s | peak RSS MB | exit | says |")
        print("|---|---|---|---|---|---|")
        (home / "lol.yaml").write_text(text)
        folder = home / "config" / "triage" / "playbooks"
        folder.mkdir(parents=True)
        (folder / "lol.yaml").write_text(text)
        for label, argv in [("`triage validate lol.yaml`", ["validate", str(home / "lol.yaml")]),
                            ("`triage --help`, bomb in the user folder (cold header cache)", ["--help"]),
                            ("`triage --help` again (header cache)", ["--help"]),
                            ("`triage playbooks`", ["playbooks"])]:
            r = run([*triage, *argv], env, src, args.timeout)
            says = next((line.strip() for line in r["out"].splitlines()
                         if "lol" in line and ("alias" in line or "BROKEN" in line or "lol.yaml:" in line)), "")
            if argv == ["--help"] and r["code"] == 0:
                says = "usage and the playbooks"
            elif not says and r["out"].strip():
                says = r["out"].strip().splitlines()[-1]
            says = says.replace("|", "\\|")[:110]
            print(f"| {label} | " + " | ".join(fmt(r, args.timeout)) + f" | {says} |")
        print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
