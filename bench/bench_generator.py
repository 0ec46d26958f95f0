"""Generator throughput and peak memory: ``python bench/bench_generator.py [--card C] [-n ...]``.

Each run is a fresh subprocess (so peak RSS is its own) generating and writing events.root
with the card's compression; prints events/s and peak memory, and the 1e7/1e6 memory ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
from mcpgen import load_card, run
card = load_card(sys.argv[1], sys.argv[4:])
t = time.perf_counter()
summary = run(card, int(float(sys.argv[2])), sys.argv[3], seed=1, progress=False)
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "n": summary["n_trials"], "sigma_pb": summary["cross_section_pb"]}))
"""


def measure(card: str, n: str, overrides: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run(
            [sys.executable, "-c", CHILD, card, n, out, *overrides], capture_output=True, text=True, check=True
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--card", default="cards/sct_3gev.yaml")
    parser.add_argument("-n", nargs="+", default=["1e6", "1e7"])
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=None,
        help="card overrides (default: detector={} -- the generator alone)",
    )
    args = parser.parse_args()
    if args.overrides is None:
        args.overrides = ["detector={}"]
    print(f"card {args.card}  overrides {args.overrides or '-'}  (one core, serial executor)")
    rows = []
    for n in args.n:
        r = measure(args.card, n, args.overrides)
        rows.append(r)
        rate = r["n"] / r["seconds"]
        print(f"  n = {r['n']:>10d}: {r['seconds']:7.2f} s  {rate:10.3e} events/s  peak RSS {r['peak_rss_mb']:7.1f} MB")
    if len(rows) > 1:
        print(f"  peak memory ratio {args.n[-1]} / {args.n[0]}: {rows[-1]['peak_rss_mb'] / rows[0]['peak_rss_mb']:.3f}")


if __name__ == "__main__":
    main()
