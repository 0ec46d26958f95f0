"""Monophoton throughput per process through generation, ECL, veto and selections.

``python bench/bench_monophoton.py [--card cards/belle2.yaml] [-n 2e5]``: one dataset per
process at the card's first energy point, serial, in a fresh subprocess each; prints events/s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
from mcpgen import load_card, run
card = load_card(sys.argv[1], [f"processes=[{{name: {sys.argv[2]}}}]", "beams.points=" + sys.argv[5]])
t = time.perf_counter()
run(card, int(float(sys.argv[3])), sys.argv[4], seed=1, progress=False)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--card", default="cards/belle2.yaml")
    parser.add_argument("-n", default="2e5")
    args = parser.parse_args()
    from mcpgen import load_card

    card = load_card(args.card)
    first = json.dumps([card.data["beams"]["points"][0]])
    print(f"card {args.card}, point {card.data['beams']['points'][0]['label']}, n = {args.n} per process")
    for process in ("chi_pair_gamma", "nunu_gamma", "ggg", "eeg"):
        with tempfile.TemporaryDirectory() as out:
            result = subprocess.run(
                [sys.executable, "-c", CHILD, args.card, process, args.n, out, first],
                capture_output=True,
                text=True,
                check=True,
            )
        seconds = json.loads(result.stdout.strip().splitlines()[-1])["seconds"]
        print(f"  {process:<15} {seconds:6.2f} s  {float(args.n) / seconds:9.3e} events/s")


if __name__ == "__main__":
    main()
