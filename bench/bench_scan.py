"""40 x 40 (m, eps) scan of cards/sct_3gev.yaml: wall time (goal <= 60 s on this machine).

``python bench/bench_scan.py [--card C] [-n events_per_mass]``
"""

from __future__ import annotations

import argparse
import tempfile
import time

from mcpgen import load_card
from mcpgen.scan import run_scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--card", default="cards/sct_3gev.yaml")
    parser.add_argument("-n", type=int, default=None)
    args = parser.parse_args()
    card = load_card(args.card, ["scan.mass.n=40", "scan.epsilon.n=40"])
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        result = run_scan(card, out, args.n)
        seconds = time.perf_counter() - t
    n = result.get("events_per_mass", args.n)
    print(f"{args.card}: 40 x 40 scan, {n} events per mass: {seconds:.1f} s (goal <= 60 s)")


if __name__ == "__main__":
    main()
