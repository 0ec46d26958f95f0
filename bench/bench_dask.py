"""The dask executor against the local process pool: events/s, per-task overhead, client memory.

``python bench/bench_dask.py [--card C] [-n 1e5] [--chunk 2e4] [--memory-n 1e6 1e7] [--tasks 300]``

1. events/s of ``mcpgen run`` (the card's tracker on, random trigger off) for the local executor
   with 1 and 2 processes and the dask executor on a LocalCluster of 1 and 2 single-threaded
   worker processes. Each run is a fresh subprocess that first runs one chunk per worker (imports
   and compiled kernels in place; the local pool forks from the warmed process, the dask workers
   warm themselves); the cluster's start-up and the warm-up are timed apart (paid once per
   command) and are not in the events/s.
2. Per-task overhead of the executors in ms: trivial tasks through ``map`` -- the pipelined cost
   (the default number in flight) and the round trip of one task at a time (dask).
3. Peak resident memory of the client process (ru_maxrss of the process that writes the file;
   the dask workers are other processes) for each ``--memory-n`` with the generator only
   (``detector={}``), 2 dask workers: bounded tasks in flight keep it flat in the number of events.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

RUN = r"""
import json, resource, sys, time
from mcpgen import load_card, run
from mcpgen.dask_executor import executor_scope
card_path, n, chunk, executor, workers, out, *overrides = sys.argv[1:]
warm = int(float(workers)) * int(float(chunk)) if "--warm" in overrides else 0
overrides = [o for o in overrides if o != "--warm"]
card = load_card(card_path, overrides + [f"run.executor={executor}"])
t0 = time.perf_counter()
with executor_scope(executor, None, int(workers)):
    t1 = time.perf_counter()
    if warm:  # imports and compiled kernels in place: in this process (forked by the pool) or on each worker
        k = int(workers) if executor == "dask" else 1
        run(card, warm, out, seed=2, workers=k, chunk_size=int(float(chunk)), progress=False)
    t2 = time.perf_counter()
    run(card, int(float(n)), out, seed=1, workers=int(workers), chunk_size=int(float(chunk)), progress=False)
    t3 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
times = {"startup_s": t1 - t0, "warm_s": t2 - t1, "seconds": t3 - t2}
print(json.dumps({**times, "n": int(float(n)), "client_rss_mb": rss}))
"""

OVERHEAD = r"""
import json, sys, time
from mcpgen.dask_executor import DaskExecutor, DaskSession
from mcpgen.executors import PoolExecutor
n = int(sys.argv[1])

def per_task_ms(executor):
    list(executor.map(abs, range(20)))  # warm
    t = time.perf_counter()
    list(executor.map(abs, range(n)))
    return 1e3 * (time.perf_counter() - t) / n

out = {}
with PoolExecutor(2) as pool:
    out["local pool, 2 processes (4 in flight)"] = per_task_ms(pool)
with DaskSession(None, 2) as session:
    with DaskExecutor(session) as ex:
        out["dask, 2 workers (4 in flight)"] = per_task_ms(ex)
    with DaskExecutor(session, in_flight=1) as ex:
        out["dask, one task at a time (round trip)"] = per_task_ms(ex)
print(json.dumps(out))
"""


def _child(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--card", default="cards/sct_3gev.yaml")
    parser.add_argument("-n", default="1e5", help="events of the throughput runs")
    parser.add_argument("--chunk", default="2e4", help="events per chunk (task)")
    parser.add_argument("--memory-n", nargs="*", default=["1e6", "1e7"])
    parser.add_argument("--tasks", type=int, default=300, help="trivial tasks of the overhead measurement")
    args = parser.parse_args()
    rt_off = "detector.finder.random_trigger_events=0"

    print(f"== throughput: {args.card}, n = {args.n}, chunks of {args.chunk} (tracker on, random trigger off)")
    for executor, workers in (("local", 1), ("local", 2), ("dask", 1), ("dask", 2)):
        with tempfile.TemporaryDirectory() as tmp:
            r = _child(RUN, args.card, args.n, args.chunk, executor, str(workers), tmp, rt_off, "--warm")
        start = f"  (cluster start-up {r['startup_s']:.1f} s)" if executor == "dask" else ""
        start += f"  (warm-up {r['warm_s']:.1f} s)"
        print(f"{executor:>6} x {workers}: {r['n'] / r['seconds']:10.4g} events/s  {r['seconds']:7.1f} s{start}")

    print(f"== per-task overhead ({args.tasks} trivial tasks)")
    for name, ms in _child(OVERHEAD, str(args.tasks)).items():
        print(f"  {name:<40s} {ms:7.2f} ms/task")

    if args.memory_n:
        print("== client memory, generator only, dask x 2, chunks of 1e5")
        for n in args.memory_n:
            with tempfile.TemporaryDirectory() as tmp:
                r = _child(RUN, args.card, n, "1e5", "dask", "2", tmp, rt_off, "detector={}")
            rate = r["n"] / r["seconds"]
            print(f"  n = {float(n):8.2g}: client peak RSS {r['client_rss_mb']:7.1f} MB  ({rate:.3g} events/s)")


if __name__ == "__main__":
    main()
