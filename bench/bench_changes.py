"""Recent changes (issue 14): reading a 24 h window of CloudTrail log files,
and LookupEvents pacing.

    python bench/bench_changes.py                       # prints a Markdown section for bench/RESULTS.md
    python bench/bench_changes.py --events 20000 --runs 1

1. Trail files. A moto server (in this process) gets a trail whose bucket
   holds N events spread over the last 24 h in 5-minute files (288 files,
   gzipped JSON as CloudTrail writes them: ~75% reads, the rest changes to
   many resources, a few of them to the resources asked about), plus a day of
   older files the window must skip. `triage changes --resource ... --since
   24h` runs as its own process under GNU time (wall, CPU, peak RSS); moto
   has no LookupEvents, so the trail files answer. Run for N and N/10 events:
   flat memory means the same peak RSS for both. Targets: 100,000 events in
   <= 10 s and <= 100 MB peak RSS.

2. The cost to a normal run: `triage lambda-timeout` with and without
   --no-changes, alternated, as processes (wall, CPU, peak RSS).

3. Pacing. A fault proxy in front of moto answers LookupEvents like AWS:
   throttled when a request comes less than a second after the one before
   the previous one (more than 2 in any second), else a canned answer. Ten
   resources in one `triage changes`, then three commands at once in one
   process (one shared pacer), then the same with the first three requests
   throttled anyway: no request may be throttled for rate, the proxy must
   never see more than 2 requests in any second, and nothing about
   throttling may reach the output."""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TIME = "/usr/bin/time"  # GNU time (bench/setup.sh installs it)
ACCOUNT, REGION = "123456789012", "us-east-1"
BUCKET, PREFIX, TRAIL = "bench-trail-logs", "org-audit", "bench-audit"
TARGETS = ["bench-orders-fn", "bench-orders-role"]

SERVICES = [  # (eventSource prefix, read events, write events, request key)
    ("lambda", ["GetFunction20150331v2", "ListFunctions20150331", "GetFunctionConfiguration20150331v2"],
     ["UpdateFunctionConfiguration20150331v2", "UpdateFunctionCode20150331v2", "PutFunctionConcurrency20171031"],
     "functionName"),
    ("iam", ["GetRole", "ListAttachedRolePolicies", "GetPolicyVersion"], ["PutRolePolicy", "AttachRolePolicy"],
     "roleName"),
    ("s3", ["GetBucketPolicy", "ListBuckets", "GetBucketLocation"], ["PutBucketPolicy", "PutBucketTagging"],
     "bucketName"),
    ("sqs", ["GetQueueAttributes", "ListQueues"], ["SetQueueAttributes", "DeleteQueue"], "queueUrl"),
    ("ec2", ["DescribeInstances", "DescribeSecurityGroups", "DescribeSubnets"],
     ["AuthorizeSecurityGroupIngress", "CreateTags"], "groupId"),
    ("rds", ["DescribeDBInstances"], ["ModifyDBInstance"], "dBInstanceIdentifier"),
    ("sts", ["AssumeRole", "GetCallerIdentity"], [], "roleArn"),
]
AGENTS = ["aws-cli/2.15.30 Python/3.11.8 Linux/5.10", "Boto3/1.34.50 Botocore/1.34.50",
          "APN/1.0 HashiCorp/1.0 Terraform/1.7.4", "AWS Internal", "aws-sdk-java/2.20.0 Linux/5.10"]


def fake_record(rng: random.Random, when: float) -> dict:
    from triage.demo.scenarios.changes import record

    source, reads, writes, key = rng.choice(SERVICES)
    write = writes and rng.random() < 0.25
    name = rng.choice(writes if write else reads)
    target = f"{source}-{rng.randrange(5000)}"
    if key == "queueUrl":
        target = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{target}"
    elif key == "groupId":
        target = f"sg-{rng.randrange(16**12):012x}"
    request = {key: target, "tags": {"team": rng.choice(["orders", "billing", "data"])}}
    if write and source == "lambda":
        request["timeout"] = rng.choice([3, 10, 30, 60])
    who = f"arn:aws:sts::{ACCOUNT}:assumed-role/{rng.choice(['deployer', 'ci', 'admin', 'etl'])}/{uuid.uuid4().hex[:8]}"
    return record(name, source, when, who, rng.choice(AGENTS), request, read_only=not write,
                  response={"requestId": str(uuid.uuid4())} if write else None)


def seed(url: str, events: int) -> dict:
    """The trail and its files: `events` in the last 24 h, and a day of older ones."""
    import boto3

    from triage.demo.scenarios.changes import DEPLOYER, file_key, record, trail_file

    s3 = boto3.client("s3", endpoint_url=url, region_name=REGION)
    ct = boto3.client("cloudtrail", endpoint_url=url, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, S3KeyPrefix=PREFIX, IsMultiRegionTrail=True)
    rng = random.Random(14)
    now = time.time()
    start = now - 24 * 3600 + 60
    per_file = events / 288
    targets = [  # the changes to the resources asked about, newest last
        record("UpdateFunctionConfiguration20150331v2", "lambda", now - 20 * 3600, DEPLOYER, AGENTS[2],
               {"functionName": TARGETS[0], "timeout": 30}),
        record("PutRolePolicy", "iam", now - 9 * 3600, DEPLOYER, AGENTS[0],
               {"roleName": TARGETS[1], "policyName": "orders", "policyDocument": json.dumps(
                   {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})}),
        record("UpdateFunctionConfiguration20150331v2", "lambda", now - 3 * 3600, DEPLOYER, AGENTS[0],
               {"functionName": TARGETS[0], "timeout": 3}),
    ]
    written = raw = compressed = 0
    for slot in range(288 + 288 // 1):                      # the window, then a day before it
        older = slot >= 288
        t0 = start + (slot % 288) * 300 - (24 * 3600 if older else 0)
        n = int(per_file * (slot % 288 + 1)) - int(per_file * (slot % 288))
        if older:
            n = 10                                          # listed, never read
        batch = [fake_record(rng, t0 + rng.random() * 299) for _ in range(n)]
        if not older:
            batch += [r for r in targets if t0 <= _t(r) < t0 + 300]
            written += len(batch)
        body = trail_file(batch)
        raw += len(json.dumps({"Records": batch}))
        compressed += len(body)
        s3.put_object(Bucket=BUCKET, Key=file_key(PREFIX, ACCOUNT, REGION, t0 + 300 + 120), Body=body)
    return {"events": written, "files": 288, "older_files": 288, "raw_mb": raw / 2**20,
            "gz_mb": compressed / 2**20, "targets": len(targets)}


def _t(rec: dict) -> float:
    from datetime import datetime
    return datetime.fromisoformat(rec["eventTime"].replace("Z", "+00:00")).timestamp()


def timed(argv: list[str]) -> dict:
    started = time.monotonic()
    proc = subprocess.run([TIME, "-f", "%U %S %M", *argv], capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"})
    wall = time.monotonic() - started
    user, sys_, rss = proc.stderr.strip().splitlines()[-1].split()
    return {"wall": wall, "cpu": float(user) + float(sys_), "rss_mb": int(rss) / 1024, "code": proc.returncode,
            "out": proc.stdout, "err": proc.stderr}


def read_files(url: str, since: str, runs: int) -> list[dict]:
    argv = [sys.executable, "-m", "triage", "changes", "--endpoint-url", url, "--region", REGION,
            "--since", since, "--output", "json", "--deadline", "120"]
    for t in TARGETS:
        argv += ["--resource", t]
    out = []
    for _ in range(runs):
        r = timed(argv)
        data = json.loads(r["out"])
        r["changes"] = len(data["changes"] or [])
        r["files"] = next(s["result"] for s in data["change_search"]["sources"] if s["source"] == "trail-files")
        out.append(r)
    return out


# --- pacing ------------------------------------------------------------------------------------

class AwsRate:
    """The proxy's matcher: a LookupEvents request is throttled when two
    others arrived less than a second before it (AWS: 2 per second)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.throttled = 0
        self.lock = threading.Lock()

    def __call__(self, req) -> bool:
        if req.operation != "LookupEvents":
            return False
        with self.lock:
            now = req.monotonic
            over = len([t for t in self.times if now - t < 1.0]) >= 2
            self.times.append(now)
            self.throttled += over
            return over


def max_in_a_second(times: list[float]) -> int:
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u - t < 1.0) for i, t in enumerate(times)), default=0)


def pacing(url: str) -> list[dict]:
    from triage.cli import Env, main
    from triage.testing.proxy import FaultProxy, garbage, throttle

    answer = json.dumps({"Events": []}).encode()
    rows = []

    def one(proxy, resources: list[str]) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        argv = ["changes", "--endpoint-url", proxy.url, "--region", REGION, "--output", "json", "--deadline", "120"]
        for r in resources:
            argv += ["--resource", r]
        code = main(argv, Env(stdout=out, stderr=err, stdin_isatty=False, stdout_isatty=False))
        return code, out.getvalue(), err.getvalue()

    for label, commands, extra_throttles in [("one command, 10 resources", 1, 0),
                                             ("three commands at once, 4 resources each", 3, 0),
                                             ("three at once, the first 3 requests throttled anyway", 3, 3)]:
        rate = AwsRate()
        with FaultProxy(url) as proxy:
            if extra_throttles:
                proxy.add_fault("LookupEvents", throttle(), times=extra_throttles)
            proxy.add_fault(rate, throttle())
            proxy.add_fault("LookupEvents", garbage(200, answer, "application/x-amz-json-1.1"))
            sets = [[f"paced-{i}"for i in range(10)]] if commands == 1 else \
                [[f"paced-{c}-{i}" for i in range(4)] for c in range(commands)]
            results: list = [None] * len(sets)
            started = time.monotonic()
            threads = [threading.Thread(target=lambda i=i, s=s: results.__setitem__(i, one(proxy, s)))
                       for i, s in enumerate(sets)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            lookups = [r for r in proxy.requests if r.operation == "LookupEvents"]
            shown = " ".join(json.dumps({k: v for k, v in json.loads(out).items() if k != "change_search"})
                             + json.dumps(json.loads(out)["change_search"]["sources"]) + err
                             for _, out, err in results)
            rows.append({"label": label, "requests": len(lookups), "seconds": elapsed,
                         "max_per_second": max_in_a_second([r.monotonic for r in lookups]),
                         "rate_throttled": rate.throttled,
                         "injected": sum(1 for r in lookups if r.fault == "throttle") - rate.throttled,
                         "codes": sorted({c for c, _, _ in results}),
                         "throttle_in_output": "throttl" in shown.lower(),
                         "answered_by": sorted({json.loads(out)["change_search"]["answered_by"] for _, out, _ in results})})
    return rows


def run_cost(url: str, runs: int) -> list[str]:
    """`triage lambda-timeout` with and without the change timeline, alternated."""
    from triage.demo.scenarios import seed_all

    seed_all(url, ["lambda-timeout", "changes"])
    rows = []
    for function in ("orders-etl", "billing-export"):
        argv = [sys.executable, "-m", "triage", "lambda-timeout", "--function", function, "--endpoint-url", url,
                "--region", REGION, "--output", "json"]
        timings: dict[str, list[dict]] = {"with": [], "without": []}
        for _ in range(runs):
            timings["with"].append(timed(argv))
            timings["without"].append(timed(argv + ["--no-changes"]))
        med = {k: sorted(v, key=lambda r: r["wall"])[len(v) // 2] for k, v in timings.items()}
        data = json.loads(med["with"]["out"])
        rows.append(f"| `lambda-timeout --function {function}` | {med['without']['wall']:.2f} s | "
                    f"{med['with']['wall']:.2f} s | {med['without']['cpu']:.2f} s | {med['with']['cpu']:.2f} s | "
                    f"{med['without']['rss_mb']:.0f} MB | {med['with']['rss_mb']:.0f} MB | "
                    f"{len(data['change_search']['calls'])} ({data['change_search']['answered_by']}) |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-pacing", action="store_true")
    ap.add_argument("--skip-files", action="store_true")
    ap.add_argument("--skip-cost", action="store_true")
    args = ap.parse_args()

    from triage.demo.server import DEMO_ENV, MotoServer
    os.environ.update(DEMO_ENV)
    lines = []
    for events in () if args.skip_files else (args.events, args.events // 10):
        with MotoServer() as server:
            server.reset()                       # moto's state is per process, not per server
            t = time.monotonic()
            facts = seed(server.url, events)
            seeded = time.monotonic() - t
            runs = read_files(server.url, "24h", args.runs)
        runs.sort(key=lambda r: r["wall"])
        med = runs[len(runs) // 2]
        walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
        lines.append(f"| {facts['events']:,} | {facts['files']} (+{facts['older_files']} older, skipped) | "
                     f"{facts['raw_mb']:.0f} MB / {facts['gz_mb']:.1f} MB | {med['wall']:.2f} s "
                     f"({walls}) | {med['cpu']:.2f} s | "
                     f"{max(r['rss_mb'] for r in runs):.0f} MB | {med['changes']} of {facts['targets']} | "
                     f"{med['files']} |")
        print(f"seeded {facts['events']} events in {seeded:.1f} s", file=sys.stderr)
    if lines:
        print("### Trail files: a 24 h window (`triage changes --since 24h`, moto has no LookupEvents)\n")
        print("| events in the window | files | JSON / gzipped | wall (median of runs) | CPU | peak RSS | changes found "
              "| what trail-files said |\n|---:|---|---|---|---:|---:|---|---|")
        print("\n".join(lines) + "\n")
    if not args.skip_cost:
        with MotoServer() as server:
            server.reset()
            rows = run_cost(server.url, max(3, args.runs))
        print("### The cost to a normal run (moto: LookupEvents missing, so the trail files answer; median)\n")
        print("| run | wall, --no-changes | wall | CPU, --no-changes | CPU | peak RSS, --no-changes | peak RSS | "
              "calls for the changes |\n|---|---:|---:|---:|---:|---:|---:|---|")
        print("\n".join(rows) + "\n")
    if args.skip_pacing:
        return
    with MotoServer() as server:
        server.reset()
        rows = pacing(server.url)
    print("### LookupEvents pacing through the fault proxy (AWS-like limit: throttled past 2 in any second)\n")
    print("| run | LookupEvents | seconds | most in any 1 s | throttled for rate | throttled on purpose (retried) | "
          "exit | answered by | throttling in the output |\n|---|---:|---:|---:|---:|---:|---|---|---|")
    for r in rows:
        print(f"| {r['label']} | {r['requests']} | {r['seconds']:.1f} | {r['max_per_second']} | {r['rate_throttled']} | "
              f"{r['injected']} | {r['codes']} | {', '.join(r['answered_by'])} | "
              f"{'yes' if r['throttle_in_output'] else 'no'} |")


if __name__ == "__main__":
    main()
