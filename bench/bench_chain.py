"""Full-chain throughput and memory of ``mcpgen run``: ``python bench/bench_chain.py``.

Each measurement is the command line a user types -- ``mcpgen --card CARD -n N --workers K`` --
in a fresh process (generation, tracker, finder, random trigger, ROOT writing; start-up and the
compiled kernels' loading included), timed from outside. Printed per run: wall seconds, events/s
over the wall time and as the run reports it (``summary.json`` ``timing``: the chunk loop
alone), the peak resident memory of the whole process tree (parent + workers, sampled every
50 ms from /proc), and the size of events.root.

Default: sct_3gev and sct_3gev_realistic with 1 and 2 workers at 1e6 events, then the memory of
sct_3gev with 2 workers at 1e6 and 1e7 (``--memory-n``). ``--repeat K`` runs each throughput point
K times (the development machine's wall times vary by about 10 % from run to run). The machine may be shared with other
work: the figures are then upper bounds on the time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _tree_rss_kb(pid: int) -> int:
    """Resident memory [kB] of ``pid`` and all its descendants (Linux /proc)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KB
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            continue
    return total


def measure(card: str, n: str, workers: int, hits: str | None, extra: list[str]) -> dict:
    """One ``mcpgen`` run in a fresh process: wall time, rates, peak memory, file size."""
    out = Path(tempfile.mkdtemp(prefix="mcpgen-bench-"))
    mcpgen = shutil.which("mcpgen") or "mcpgen"
    command = [mcpgen, "--card", card, "-n", n, "--workers", str(workers), "--out", str(out), "--no-progress"]
    command += ["--hits", hits] if hits else []
    command += [a for s in extra for a in ("--set", s)]
    peak = [0]
    try:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def sample():
            while process.poll() is None:
                peak[0] = max(peak[0], _tree_rss_kb(process.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, stderr = process.communicate()
        wall = time.perf_counter() - started
        sampler.join()
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{stderr}")
        summary = json.loads((out / "summary.json").read_text())
        size = (out / "events.root").stat().st_size
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "wall_s": wall,
        "n": summary["n_trials"],
        "rate_wall": summary["n_trials"] / wall,
        "rate_loop": summary["timing"]["events_per_second"],
        "tree_rss_mb": peak[0] / 1024,
        "file_mb": size / 1e6,
    }


def _row(label: str, r: dict) -> str:
    return (
        f"  {label:<38s} {r['wall_s']:7.1f} s  {r['rate_wall']:9.3e} ev/s wall  {r['rate_loop']:9.3e} ev/s loop  "
        f"peak RSS {r['tree_rss_mb']:7.0f} MB  file {r['file_mb']:7.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", nargs="+", default=["sct_3gev", "sct_3gev_realistic"])
    parser.add_argument("-n", default="1e6", help="events per throughput run (default 1e6)")
    parser.add_argument("--workers", nargs="*", type=int, default=[1, 2], help="throughput runs (none: skip)")
    parser.add_argument("--hits", default=None, help="--hits of every run (default: the card's output.hits)")
    parser.add_argument(
        "--memory-n", nargs="*", default=["1e6", "1e7"], help="sizes of the memory runs (sct_3gev, 2 workers)"
    )
    parser.add_argument("--set", dest="extra", action="append", default=[], help="card override for every run")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per throughput point; prints each, then the fastest and the median"
    )
    args = parser.parse_args()
    print(f"mcpgen full chain on {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f} at start)")
    for card in args.cards:
        for workers in args.workers:
            label = f"{card} -n {args.n} --workers {workers}"
            walls = []
            for _ in range(max(args.repeat, 1)):
                r = measure(card, args.n, workers, args.hits, args.extra)
                walls.append(r["wall_s"])
                print(_row(label, r), flush=True)
            if len(walls) > 1:
                n = float(args.n)
                best, median = min(walls), statistics.median(walls)
                rates = f"fastest {best:.1f} s ({n / best:.3e} ev/s), median {median:.1f} s ({n / median:.3e} ev/s)"
                print(f"  {label}: {rates}")
    if args.memory_n:
        rows = []
        for n in args.memory_n:
            r = measure(args.cards[0], n, 2, args.hits, args.extra)
            rows.append(r)
            print(_row(f"{args.cards[0]} -n {n} --workers 2", r), flush=True)
        if len(rows) > 1:
            ratio = rows[-1]["tree_rss_mb"] / rows[0]["tree_rss_mb"]
            print(f"  peak RSS (process tree) -n {args.memory_n[-1]} / -n {args.memory_n[0]}: {ratio:.3f}")


if __name__ == "__main__":
    sys.exit(main())
