"""Generation speed against Pythia 8 for one process: ``python bench/bench_vs_pythia.py``.

e+e- -> mu+mu- at sqrt(s) = 3 GeV with collinear lepton ISR, generated in one run

* by mcpgen as chi chibar with eps = 1 and m = m_mu (Born of ``docs/physics.md`` §1, Kuraev-Fadin
  ISR of §3, no beam spread): the chunk function of a run (uniforms of the run's streams ->
  events -> weights normalised, :func:`mcpgen.chipair_run.chipair_chunk`), one core; weighted
  trials, and unweighted events (hit-or-miss against 1.1 x the pilot maximum, as ``run.unweighted``);
  events come from the compiled generator kernel (:mod:`generator._kernels`); the weighted rate of
  the numpy reference path (``generator.chipair.USE_COMPILED_KERNEL = False``) is printed beside it;
* by Pythia 8 (``pip install mcpgen[bench]``: the ``pythia8mc`` wheel): f fbar -> gamma* ->
  mu+ mu- (process 221 with ``WeakZ0:gmZmode = 1``), the electron's parton density
  (``PDF:lepton = on``: its collinear ISR, the radiated energy left as a beam-remnant photon), no
  showers, multiparton interactions or hadronisation; unweighted events by its own hit-or-miss.
  Events come out as arrays through ``Pythia.nextBatch`` (awkward), the mu four-momenta extracted
  to numpy; a plain ``next()`` loop without extraction is timed too.

Both cross sections are printed as a check that the two do the same physics (the ISR treatments
differ: Pythia's electron density against Kuraev-Fadin, a few per cent). Prints events/s and the
ratios: the best of ``--rounds`` alternating rounds of each. The machine may be shared: run it on
a quiet one for reference numbers.
"""

from __future__ import annotations

import argparse
import time

import awkward as ak
import numpy as np

import generator.chipair as chipair_mod
from generator.beams import Beams
from generator.chipair import ChiPair
from mcpgen.chipair_run import ChiPairTask, chipair_chunk, max_weight

M_MU_GEV = 0.1056583755  #: muon mass [GeV] (PDG 2024)
SQRT_S_GEV = 3.0
MB_TO_PB = 1e9


def mcpgen_rates(n: int, chunk: int, seed: int) -> dict:
    """Weighted trials/s and unweighted events/s of mcpgen, with sigma [pb]."""
    process = ChiPair(Beams(SQRT_S_GEV / 2, SQRT_S_GEV / 2), M_MU_GEV, 1.0, "dirac", "kuraev_fadin")
    chipair_chunk(ChiPairTask(process, seed, 0, 1000, 1000))  # warm-up (imports, caches)
    sum_w = 0.0
    started = time.perf_counter()
    for start in range(0, n, chunk):
        c = chipair_chunk(ChiPairTask(process, seed, start, min(start + chunk, n), n))
        sum_w += float(np.sum(np.asarray(c.events["weight"])))
    weighted = time.perf_counter() - started
    started = time.perf_counter()
    w_max = max_weight(process, seed, 65_536)
    accepted = 0
    for start in range(0, n, chunk):
        c = chipair_chunk(ChiPairTask(process, seed, start, min(start + chunk, n), n, True, w_max))
        accepted += len(c.events)
    unweighted = time.perf_counter() - started
    saved = chipair_mod.USE_COMPILED_KERNEL
    chipair_mod.USE_COMPILED_KERNEL = False  # the numpy reference path, weighted
    try:
        started = time.perf_counter()
        for start in range(0, n, chunk):
            chipair_chunk(ChiPairTask(process, seed, start, min(start + chunk, n), n))
        reference = time.perf_counter() - started
    finally:
        chipair_mod.USE_COMPILED_KERNEL = saved
    return {
        "sigma_pb": sum_w,
        "weighted_per_s": n / weighted,
        "unweighted_per_s": accepted / unweighted,
        "numpy_weighted_per_s": n / reference,
        "efficiency": accepted / n,
    }


def pythia_rates(n: int, seed: int) -> dict:
    """Pythia 8 events/s (nextBatch with numpy extraction; a bare next() loop), sigma [pb]."""
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in (
        "Beams:idA = 11",
        "Beams:idB = -11",
        f"Beams:eCM = {SQRT_S_GEV}",
        "PDF:lepton = on",
        "WeakSingleBoson:ffbar2gmZ = on",
        "WeakZ0:gmZmode = 1",
        "23:onMode = off",
        "23:onIfAny = 13",
        f"23:mMin = {2 * M_MU_GEV + 1e-6}",
        f"23:mMax = {SQRT_S_GEV}",
        f"PhaseSpace:mHatMin = {2 * M_MU_GEV + 1e-6}",
        "PartonLevel:ISR = off",
        "PartonLevel:FSR = off",
        "PartonLevel:MPI = off",
        "HadronLevel:all = off",
        "Next:numberCount = 0",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        "Print:quiet = on",
    ):
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected {line!r}")
    started = time.perf_counter()
    if not pythia.init():
        raise RuntimeError("Pythia initialisation failed")
    init_s = time.perf_counter() - started
    started = time.perf_counter()
    batch = pythia.nextBatch(n)
    particles = batch["prt"]
    muons = particles[abs(particles["id"]) == 13]
    momenta = {k: np.asarray(ak.flatten(muons["p"][k])) for k in muons["p"].fields}
    batch_s = time.perf_counter() - started
    if momenta and len(next(iter(momenta.values()))) != 2 * n:
        raise RuntimeError("Pythia events without a mu+ mu- pair")
    n_loop = max(n // 4, 1)
    started = time.perf_counter()
    done = sum(1 for _ in range(n_loop) if pythia.next())
    loop_s = time.perf_counter() - started
    info = pythia.infoPython()
    return {
        "sigma_pb": info.sigmaGen() * MB_TO_PB,
        "sigma_err_pb": info.sigmaErr() * MB_TO_PB,
        "batch_per_s": n / batch_s,
        "loop_per_s": done / loop_s,
        "init_s": init_s,
        "efficiency": info.nAccepted() / max(info.nTried(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=float, default=2e6, help="mcpgen trials (default 2e6)")
    parser.add_argument("--pythia-n", type=float, default=4e4, help="Pythia events (default 4e4)")
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best rate of each is kept")
    args = parser.parse_args()
    # the two generators take turns, so that a change in the machine's load hits both alike
    runs_m, runs_p = [], []
    for _ in range(args.rounds):
        runs_m.append(mcpgen_rates(int(args.n), args.chunk, args.seed))
        runs_p.append(pythia_rates(int(args.pythia_n), args.seed))
    m = {k: max(r[k] for r in runs_m) if k.endswith("_per_s") else runs_m[0][k] for k in runs_m[0]}
    p = {k: max(r[k] for r in runs_p) if k.endswith("_per_s") else runs_p[0][k] for k in runs_p[0]}
    print(f"e+e- -> mu+mu- (gamma_ISR), sqrt(s) = {SQRT_S_GEV} GeV, one core each")
    print(f"  sigma: mcpgen {m['sigma_pb']:.5g} pb, Pythia 8 {p['sigma_pb']:.5g} +- {p['sigma_err_pb']:.2g} pb")
    print(
        f"  mcpgen   : {m['weighted_per_s']:10.3e} weighted events/s, {m['unweighted_per_s']:10.3e} unweighted "
        f"events/s (efficiency {m['efficiency']:.3f}); numpy reference path {m['numpy_weighted_per_s']:10.3e} "
        "weighted events/s"
    )
    print(
        f"  Pythia 8 : {p['batch_per_s']:10.3e} events/s nextBatch + numpy, {p['loop_per_s']:10.3e} events/s "
        f"bare next() loop (hit-or-miss efficiency {p['efficiency']:.3f}; init {p['init_s']:.2f} s)"
    )
    print(
        f"  ratio mcpgen / Pythia 8: {m['weighted_per_s'] / p['batch_per_s']:.0f}x weighted, "
        f"{m['unweighted_per_s'] / p['batch_per_s']:.0f}x unweighted (against nextBatch); "
        f"{m['unweighted_per_s'] / p['loop_per_s']:.0f}x unweighted against the bare loop"
    )


if __name__ == "__main__":
    main()
