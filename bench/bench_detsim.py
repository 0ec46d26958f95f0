"""Detector-simulation throughput.

``python bench/bench_detsim.py [--cards C ...] [--events 1e5] [--card C] [-n 1e5 1e6]
[--workers 1 2] [--set a.b=v] [--no-chain]``

1. Tracker and finder alone, one core, in this process, for each of ``--cards`` (default
   sct_3gev and sct_3gev_realistic): one chunk of ``--events`` generated events, its detector
   uniforms drawn once beforehand (the random-number generation is timed apart), then the
   tracker (:func:`detsim.tracker.simulate_tracker`), the finder (every hypothesis on the hits)
   and the whole detector record (:func:`detsim.simulate.simulate`) timed, best of three (CPU
   time of this process: the machine may be shared).
2. The full chain (generation + tracker + finder + ROOT writing) of ``--card``: each run is a
   fresh subprocess; prints events/s, hits per event and peak RSS (of the parent; with workers,
   children are measured through RUSAGE_CHILDREN).
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


def detsim_rates(card_path: str, n: int, repeats: int = 3) -> dict:
    """Events/s (one core, CPU time, best of ``repeats``) of the tracker, the finder and the
    whole detector record on one chunk of ``n`` events of a card."""
    import time

    import numpy as np

    from detsim.simulate import _pairs, build_tables, simulate
    from detsim.tracker import simulate_tracker
    from mcpgen import load_card
    from mcpgen.rng import Streams, block_source

    card = load_card(card_path)
    proc, trk = card.process, card.tracker
    events = proc.generate(Streams.generator.uniforms(1, 0, n, proc.n_uniforms))
    tables = build_tables(trk, proc.epsilon, proc.mass_gev)
    fresh, drawn = block_source(1, 0, n), {}

    def source(stage, rows, m):
        key = (tuple(stage), rows)
        if key not in drawn:
            drawn[key] = fresh(stage, rows, m)
        return drawn[key]

    def best(fn):
        times = []
        for _ in range(repeats):
            t = time.process_time()
            result = fn()
            times.append(time.process_time() - t)
        return min(times), result

    kw = {"epsilon": proc.epsilon, "mass_gev": proc.mass_gev}
    t_rng = time.process_time()
    simulate_tracker(events, trk, source, tables, **kw)  # draws the uniforms (and compiles, if needed)
    t_rng = time.process_time() - t_rng
    t_trk, out = best(lambda: simulate_tracker(events, trk, source, tables, **kw))
    counts = np.bincount(out["hit_event"], minlength=n)
    t_find, _ = best(lambda: _pairs(out, counts, trk))
    t_all, _ = best(lambda: simulate(events, trk, source, tables, **kw))
    return {
        "n": n,
        "hits": len(out["hit_event"]) / n,
        "tracker": t_trk,
        "finder": t_find,
        "record": t_all,
        "first_call_with_rng": t_rng,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", nargs="+", default=["cards/sct_3gev.yaml", "cards/sct_3gev_realistic.yaml"])
    parser.add_argument("--events", default="1e5", help="events of the detsim-only chunk")
    parser.add_argument("--no-chain", action="store_true", help="skip the full-chain runs")
    parser.add_argument("--card", default="cards/sct_3gev.yaml")
    parser.add_argument("-n", nargs="+", default=["1e5", "1e6"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    print("detsim alone, one core (CPU time, best of 3; uniforms drawn beforehand):")
    for card in args.cards:
        r = detsim_rates(card, int(float(args.events)))
        print(
            f"  {card}: {r['hits']:5.1f} hits/event  tracker {r['n'] / r['tracker']:9.3e} events/s  "
            f"finder {r['n'] / r['finder']:9.3e} events/s  detector record {r['n'] / r['record']:9.3e} events/s  "
            f"(first call, uniforms drawn: {r['first_call_with_rng']:.2f} s)"
        )
    if args.no_chain:
        return
    print(f"full chain: card {args.card}  overrides {args.overrides or '-'}")
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
