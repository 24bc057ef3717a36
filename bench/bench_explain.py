"""Accuracy of `triage explain` routing on tests/corpora/errors.yaml, per class.

    python bench/bench_explain.py            # print the table
    python bench/bench_explain.py --label X  # the same, headed by X (for bench/RESULTS.md)
    python bench/bench_explain.py --corpus tests/corpora/errors_unseen.yaml   # the held-out corpus

An entry is right when it routes to the expected playbook (none for a
look-alike) and every expected field is extracted."""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from test_error_corpus import ENTRIES, check  # noqa: E402

from triage import catalog  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default="")
    ap.add_argument("--misses", action="store_true", help="list every miss")
    ap.add_argument("--corpus", default="", help="another corpus file of the same format")
    args = ap.parse_args()
    corpus = ENTRIES
    if args.corpus:
        corpus = yaml.safe_load(Path(args.corpus).read_text(encoding="utf-8"))["entries"]
    entries = catalog.discover()
    per = defaultdict(lambda: [0, 0, 0])  # right, routed right, total
    misses = []
    t0 = time.perf_counter()
    for e in corpus:
        wrong = check(e, entries)
        p = per[e["class"]]
        p[2] += 1
        if not wrong:
            p[0] += 1
        if not wrong or not wrong[0].startswith("routed to"):
            p[1] += 1
        else:
            pass
        if wrong:
            misses.append((e["class"], e["source"], wrong))
    ms = (time.perf_counter() - t0) * 1000 / len(corpus)
    if args.label:
        print(f"### {args.label}\n")
    print("| class | entries | routed right | routed and fields right |\n|---|---|---|---|")
    tot = [0, 0, 0]
    for cls in sorted(per):
        r, rr, n = per[cls]
        tot = [tot[0] + r, tot[1] + rr, tot[2] + n]
        print(f"| {cls} | {n} | {rr} ({100 * rr / n:.0f}%) | {r} ({100 * r / n:.0f}%) |")
    print(f"| **all** | {tot[2]} | {tot[1]} ({100 * tot[1] / tot[2]:.0f}%) | {tot[0]} ({100 * tot[0] / tot[2]:.0f}%) |")
    print(f"\n{ms:.2f} ms per text (route + parse, one process).")
    if args.misses:
        for cls, src, wrong in misses:
            print(f"- [{cls}] {src}: {'; '.join(wrong)}")


if __name__ == "__main__":
    main()
