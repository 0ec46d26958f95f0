"""Detector-simulation throughput: generation + tracker + finder + ROOT writing.

``python bench/bench_detsim.py [--card C] [-n 1e5 1e6] [--workers 1 2] [--set a.b=v]``: each
run is a fresh subprocess; prints events/s, hits per event and peak RSS (of the parent; with
workers, children are measured through RUSAGE_CHILDREN).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
import uproot
from mcpgen import load_card, run
card = load_card(sys.argv[1], sys.argv[5:] + ["detector.finder.random_trigger_events=0"])
t = time.perf_counter()
summary = run(card, int(float(sys.argv[2])), sys.argv[3], seed=1, workers=int(sys.argv[4]), progress=False)
elapsed = time.perf_counter() - t
with uproot.open(sys.argv[3] + "/events.root") as f:
    n_hits = int(f["events"]["n_hits"].array(library="np").sum())
self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "n": summary["n_trials"], "hits": n_hits, "rss_mb": self_mb,
                  "child_rss_mb": child_mb, "poisson": summary["signal_events_expected"]["poisson"]["events"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--card", default="cards/sct_3gev.yaml")
    parser.add_argument("-n", nargs="+", default=["1e5", "1e6"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    print(f"card {args.card}  overrides {args.overrides or '-'}")
    for workers in args.workers:
        for n in args.n:
            with tempfile.TemporaryDirectory() as out:
                result = subprocess.run(
                    [sys.executable, "-c", CHILD, args.card, n, out, str(workers), *args.overrides],
                    capture_output=True,
                    text=True,
                    check=True,
                )
            r = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"  workers {workers}  n = {r['n']:>9d}: {r['seconds']:7.2f} s  {r['n'] / r['seconds']:9.3e} events/s  "
                f"{r['hits'] / r['n']:5.1f} hits/event  peak RSS {r['rss_mb']:6.0f} MB "
                f"(workers {r['child_rss_mb']:6.0f} MB)"
            )


if __name__ == "__main__":
    main()
