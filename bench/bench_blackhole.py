"""How long triage takes to give up (exit 3) when the AWS endpoint is black-holed,
with DEFAULT flags (no --deadline, --read-timeout, --max-attempts, --connect-timeout).

    python bench/bench_blackhole.py                                  # every case, both commands
    python bench/bench_blackhole.py --max-seconds 200 --repeat 1     # the baseline in RESULTS.md
    python bench/bench_blackhole.py --cases refused,syn-drop --commands lambda-timeout
    python bench/bench_blackhole.py --ref HEAD      # a commit, not the working tree (see below)

Target (the issue): exit 3 in <= 30 s with default flags.

Each run is the installed console script (`triage`, as `shutil.which` finds it;
with `--ref REV`, the console script of REV installed (`git archive` + `pip
install --no-deps`, build isolation fetches setuptools) into a throwaway venv
with --system-site-packages: the working tree is shared with other engineers'
uncommitted edits, an editable install would measure those) in its own process and process group, pointed at a loopback endpoint with
--endpoint-url and AWS_ENDPOINT_URL, --region us-east-1 and fake credentials
(every other AWS_* variable removed, no config or credentials file, no
instance metadata, an empty XDG_CONFIG_HOME). A run that has not exited after
--max-seconds is killed (SIGKILL to its process group) and reported as
"> N s, killed". With --repeat K the median wall time of the K runs is shown
(a killed run counts as longer than any that exited).

Endpoints (each run gets a fresh one; no moto needed):

  accept-no-answer  (a) triage.testing.proxy.FaultProxy with blackhole() on every
                    request: the connection is accepted, the request read, no
                    answer ever (until the run ends) -> read timeouts
  accept-no-read    (b) a raw socket server that accept()s every connection and
                    never reads from it or answers -> read timeouts
  refused           (c) a port with nothing listening -> connection refused at once
  syn-drop          (extra) a listening socket whose accept queue is full
                    (listen(0), one connection parked in it, never accepted):
                    the kernel drops every further SYN, like a firewall DROP
                    rule -> connect timeouts

The "conns" column counts the TCP connections (a: HTTP requests) that reached
the endpoint during the run: attempts x calls, roughly.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REGION = "us-east-1"
FUNCTION = "orders-etl"
TARGET_S = 30.0
COMMANDS = {
    "lambda-timeout": ["lambda-timeout", "--function", FUNCTION],
    "scan": ["scan"],
}
CASES = ("accept-no-answer", "accept-no-read", "refused", "syn-drop")
CASE_LABEL = {
    "accept-no-answer": "(a) accepts, reads the request, never answers (FaultProxy blackhole)",
    "accept-no-read": "(b) accepts, never reads (raw socket)",
    "refused": "(c) refused (nothing listening)",
    "syn-drop": "(extra) SYN dropped (full accept queue)",
}


# --------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------

class Endpoint:
    url: str

    def __enter__(self) -> "Endpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def connections(self) -> int | None:
        return None


class ProxyBlackhole(Endpoint):
    """(a) FaultProxy, every request black-holed (the upstream is never contacted)."""

    def __init__(self):
        from triage.testing.proxy import FaultProxy, blackhole

        # upstream: a port nothing forwards to; blackhole() answers before any forwarding
        self.proxy = FaultProxy(("127.0.0.1", 9))
        self.proxy.add_fault(None, blackhole())
        self.proxy.start()
        self.url = self.proxy.url

    def connections(self) -> int:
        return self.proxy.count()

    def close(self) -> None:
        try:
            self.proxy.stop()
        except RuntimeError as exc:  # a handler thread still winding down: not the measurement's concern
            print(f"  (proxy stop: {exc})", file=sys.stderr)


class AcceptNoRead(Endpoint):
    """(b) accept() every connection, keep it open, never read or write."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="bench-accept-no-read", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.held.append(conn)

    def connections(self) -> int:
        return len(self.held)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        for conn in self.held:
            conn.close()
        self.sock.close()


class Refused(Endpoint):
    """(c) a port that was free a moment ago: nothing listens, connect() is refused."""

    def __init__(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.url = f"http://127.0.0.1:{port}"


class SynDrop(Endpoint):
    """(extra) listen(0) and one parked connection fill the accept queue; Linux
    then drops every further SYN (the client retransmits until its connect
    timeout), as a firewall DROP rule would."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        addr = self.sock.getsockname()
        self.url = "http://127.0.0.1:%d" % addr[1]
        self.parked = socket.create_connection(addr, timeout=2)
        probe = socket.socket()
        probe.settimeout(0.5)
        try:
            probe.connect(addr)
        except (TimeoutError, socket.timeout):
            pass  # dropped, as intended
        else:
            raise RuntimeError("syn-drop: the accept queue is not full on this kernel; this case measures nothing")
        finally:
            probe.close()

    def close(self) -> None:
        self.parked.close()
        self.sock.close()


ENDPOINTS = {"accept-no-answer": ProxyBlackhole, "accept-no-read": AcceptNoRead,
             "refused": Refused, "syn-drop": SynDrop}


# --------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------

@dataclass
class Run:
    wall: float
    code: int | None        # None: killed
    stderr: str
    conns: int | None
    stdout: str = ""

    @property
    def killed(self) -> bool:
        return self.code is None


@dataclass
class Result:
    case: str
    command: str
    argv: list[str]
    runs: list[Run] = field(default_factory=list)


def triage_exe() -> str:
    exe = shutil.which("triage")
    if not exe:
        sys.exit("bench_blackhole: the `triage` console script is not on PATH (pip install -e . first)")
    return exe


def install_ref(ref: str, where: Path) -> tuple[str, str]:
    """REV's triage, installed (not editable) into a venv under `where`:
    (its console script, its commit)."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    src, venv = where / "src", where / "venv"
    src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(src)], check=True)
    sys.path.insert(0, str(src))  # the harness's FaultProxy from the same commit
    return str(venv / "bin" / "triage"), commit


def measured_defaults(exe: str) -> str:
    """AwsSettings' defaults as the measured code has them (its console script's interpreter)."""
    try:
        with open(exe, encoding="utf-8", errors="replace") as f:
            first = f.readline()
        python = first[2:].strip().split()[0] if first.startswith("#!") else sys.executable
        code = ("from triage.aws import AwsSettings as S; s = S(); "
                "print(', '.join(f'{k}={getattr(s, k)!r}' for k in "
                "('connect_timeout', 'read_timeout', 'max_attempts') if hasattr(s, k)))")
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30, cwd="/",
                             env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        return out.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def clean_env(url: str, home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("TRIAGE_PLAYBOOK_PATH", "NO_COLOR", "FORCE_COLOR")}
    missing = os.path.join(home, "missing")
    env.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": url,
        "AWS_CONFIG_FILE": missing, "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_EC2_METADATA_DISABLED": "true",
        "XDG_CONFIG_HOME": os.path.join(home, "config"), "XDG_STATE_HOME": os.path.join(home, "state"),
    })
    return env


def run_once(argv: list[str], endpoint: Endpoint, max_seconds: float, home: str) -> Run:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=clean_env(endpoint.url, home), cwd=home, start_new_session=True)
        try:
            code: int | None = proc.wait(timeout=max_seconds)
            wall = time.monotonic() - started
        except subprocess.TimeoutExpired:
            wall = time.monotonic() - started
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: this run's processes only
            except ProcessLookupError:
                pass
            proc.wait()
            code = None
        err.seek(0)
        text = err.read().decode(errors="replace")
        out.seek(0)
        printed = out.read().decode(errors="replace")
    return Run(wall, code, text, endpoint.connections(), printed)


def measure(case: str, command: str, exe: str, max_seconds: float, repeat: int, home: str) -> Result:
    result = None
    for i in range(repeat):
        with ENDPOINTS[case]() as endpoint:
            argv = [exe, *COMMANDS[command], "--endpoint-url", endpoint.url, "--region", REGION]
            if result is None:
                result = Result(case, command, argv)
            run = run_once(argv, endpoint, max_seconds, home)
        result.runs.append(run)
        shown = f"> {max_seconds:g} s, killed" if run.killed else f"{run.wall:.1f} s, exit {run.code}"
        print(f"  {command:<14} {case:<17} run {i + 1}/{repeat}: {shown}", file=sys.stderr, flush=True)
    return result


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def median_wall(r: Result) -> float:
    """Median wall, killed runs counted as +inf."""
    return statistics.median(float("inf") if x.killed else x.wall for x in r.runs)


def wall_text(r: Result, max_seconds: float) -> str:
    m = median_wall(r)
    killed = sum(x.killed for x in r.runs)
    if m == float("inf"):
        text = f"> {max_seconds:g} s, killed"
    else:
        text = f"{m:.1f}"
    if len(r.runs) > 1:
        walls = [x.wall for x in r.runs if not x.killed]
        if walls:
            text += f" ({min(walls):.1f}-{max(walls):.1f})"
        if killed:
            text += f", {killed}/{len(r.runs)} killed"
    return text


def exit_text(r: Result) -> str:
    codes = ["killed" if x.killed else str(x.code) for x in r.runs]
    return ", ".join(sorted(set(codes), key=codes.index))


def verdict(r: Result) -> str:
    m = median_wall(r)
    ok = all(x.code == 3 for x in r.runs) and m <= TARGET_S
    return "**met**" if ok else "not met"


def tail(text: str, lines: int) -> str:
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()][-lines:]
    return " ⏎ ".join(kept).replace("|", "\\|").replace("`", "'")


def last_lines(run: Run, lines: int) -> str:
    """stderr's last lines; when stderr is empty, stdout's (marked), so an exit 0 says what it printed."""
    if run.killed and not run.stderr.strip():
        return "(nothing on stderr before the kill)"
    if run.stderr.strip():
        return tail(run.stderr, lines)
    return f"(stderr empty) stdout: {tail(run.stdout, lines) or '(empty)'}"


def table(results: list[Result], max_seconds: float, tail_lines: int) -> str:
    rows = [
        f"| command | endpoint | wall s (median) | exit | conns | exit 3 in <= {TARGET_S:g} s | last lines of stderr |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        conns = [x.conns for x in r.runs if x.conns is not None]
        rows.append(f"| `triage {' '.join(COMMANDS[r.command])}` | {CASE_LABEL[r.case]} | {wall_text(r, max_seconds)} "
                    f"| {exit_text(r)} | {statistics.median(conns) if conns else '-'} | {verdict(r)} "
                    f"| {last_lines(r.runs[-1], tail_lines)} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-seconds", type=float, default=60.0,
                    help="kill a run after this many seconds and report '> N s, killed' (default: 60)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per command and endpoint; the median is shown (default: 3)")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    ap.add_argument("--commands", default=",".join(COMMANDS), help=f"comma-separated subset of {', '.join(COMMANDS)}")
    ap.add_argument("--tail", type=int, default=3, help="last stderr lines shown per row (default: 3)")
    ap.add_argument("--ref", metavar="REV",
                    help="measure this commit's triage, installed into a throwaway venv (default: the installed triage)")
    args = ap.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    bad = [c for c in cases if c not in CASES] + [c for c in commands if c not in COMMANDS]
    if bad or args.repeat < 1 or args.max_seconds <= 0:
        ap.error(f"unknown case/command {bad}" if bad else "--repeat >= 1 and --max-seconds > 0")

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-blackhole-") as home:
        if args.ref:
            exe, commit = install_ref(args.ref, Path(home))
            what = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s", commit],
                                  capture_output=True, text=True).stdout.strip()
            what = f"--ref {args.ref}: {what}"
        else:
            exe = triage_exe()
            head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                                  capture_output=True, text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "triage"],
                                   capture_output=True, text=True).stdout.strip()
            what = f"installed triage, HEAD {head}" + (" + uncommitted changes under triage/" if dirty else "")
        defaults = measured_defaults(exe)
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(f"bench_blackhole: {exe} ({what}); defaults {defaults}; max {args.max_seconds:g} s x {args.repeat} run(s)",
              file=sys.stderr, flush=True)
        for command in commands:
            for case in cases:
                results.append(measure(case, command, exe, args.max_seconds, args.repeat, home))

    load = os.getloadavg()
    print(f"{started}; {what}; AwsSettings defaults: {defaults}")
    print(f"{os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"command: triage <cmd> --endpoint-url $URL --region {REGION} (default flags); "
          f"{args.repeat} run(s) each, killed after {args.max_seconds:g} s")
    print()
    print(table(results, args.max_seconds, args.tail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
