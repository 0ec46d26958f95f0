"""Event-file writing speed per format and peak memory against the number of events.

``python bench/bench_eventfiles.py [-n 1e5] [--memory-n 1e5 1e6]``: e+e- -> chi chibar (gamma_ISR)
events of the SCT benchmark (sqrt(s0) = 3 GeV, m = 1.4 GeV, Kuraev-Fadin ISR) are generated in
chunks of 1e5 and written to LHE, HepMC3 and HepMC2 (each also gzipped), each format in a fresh
subprocess; prints events/s of the writer alone (final-state table + formatting + file; generation
excluded). Then the peak resident memory (ru_maxrss of the subprocess) of writing HepMC3 for each
--memory-n: streaming keeps it flat in the number of events.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
import numpy as np
from generator import Beams, ChiPair
from generator.final_state import final_state
from mcpgen.eventfiles import open_event_file
from mcpgen.rng import Streams

path, n, chunk = sys.argv[1], int(float(sys.argv[2])), 100_000
process = ChiPair(Beams.symmetric(3.0, 2.1e-3), 1.4, 3e-3)
seconds = 0.0
with open_event_file(path, metadata={"card": "bench"}) as out:
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        events = process.generate(Streams.generator.uniforms(1, start, stop, process.n_uniforms))
        t = time.perf_counter()
        table = final_state(events, process)
        out.write(table.with_weight(table.weight / n))
        seconds += time.perf_counter() - t
    t = time.perf_counter()
seconds += time.perf_counter() - t
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"events": out.n_events, "seconds": seconds, "peak_mb": peak_mb}))
"""

FILES = ("events.lhe", "events.lhe.gz", "events.hepmc", "events.hepmc.gz", "events.hepmc2", "events.hepmc2.gz")


def _child(path: str, n: str) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, path, n], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", default="1e5", help="events per format for the speed table")
    parser.add_argument("--memory-n", nargs="+", default=["1e5", "1e6"], help="event counts of the memory test")
    args = parser.parse_args()
    print(f"chi_pair events, n = {args.n} per format, chunks of 1e5, one core")
    with tempfile.TemporaryDirectory() as tmp:
        for name in FILES:
            r = _child(f"{tmp}/{name}", args.n)
            print(f"  {name:<18} {r['events'] / r['seconds']:>12.3g} events/s")
        print("HepMC3 peak memory (subprocess ru_maxrss):")
        peaks = []
        for n in args.memory_n:
            r = _child(f"{tmp}/memory.hepmc", n)
            peaks.append(r["peak_mb"])
            print(f"  n = {float(n):.0e}: {r['peak_mb']:.0f} MB ({r['events'] / r['seconds']:.3g} events/s)")
        if len(peaks) > 1:
            print(f"  ratio last/first: {peaks[-1] / peaks[0]:.3f}")


if __name__ == "__main__":
    main()
