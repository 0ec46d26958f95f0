"""Detector stage entry point: events in, per-event detector record out (awkward).

:func:`simulate` runs the tracker (:mod:`detsim.tracker`), every finder hypothesis of
:data:`detsim.finder.HYPOTHESES` (:mod:`detsim.finder`) and the paper-faithful criteria
(:mod:`detsim.paper`) on a chunk of generator events and returns one record per event:

``hit`` (jagged: layer, x, y, z [cm], source 0 noise / 1 chi / 2 chibar, mech 0 noise /
1 ionization / 2 delta / 3 both, and ``t`` [ns since the collision, float32] when the tracker
records hit times), ``n_hits``, ``found_<h>`` and ``hits_<h>`` for h in line, circle, boosted,
``paper_ionization``, ``paper_delta``, and per MCP (``chi_*``, ``chibar_*``): ``status`` (see
:data:`detsim.tracker.STATUS`), ``r_end`` [cm], ``n_hits``, ``n_delta``, ``beta_min``,
``out_of_validity``, ``path_gas`` [cm], ``sagitta`` [cm], ``radius`` (of curvature at production,
[cm]), plus those of :data:`OPTIONAL_MCP_FIELDS` the tracker provides (late hits, end time,
multiple-scattering record).

:func:`random_trigger` runs the same hypotheses on noise-only events: fake rates per 10^6 events,
with the exact analytic estimates of the line and boosted hypotheses beside the MC.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from .finder import (
    HYPOTHESES,
    RAY_SEPARATION,
    fake_rate_analytic,
    fake_rate_boosted_analytic,
    find_pairs_grouped,
)
from .geometry import Tracker
from .paper import paper_event_pass
from .tracker import STAGE_DETSIM, build_tables, noise_hits, numpy_source, simulate_tracker

__all__ = [
    "simulate",
    "random_trigger",
    "infer_mcp",
    "inner_noise_fraction",
    "MCP_FIELDS",
    "OPTIONAL_MCP_FIELDS",
    "build_tables",
]

STAGE_RANDOM_TRIGGER = (STAGE_DETSIM, 9)  #: noise stream of the random trigger

MCP_FIELDS = {
    "status": "status",
    "r_end": "r_end",
    "n_hits": "n_hits",
    "n_delta": "n_delta",
    "beta_min": "beta_min",
    "out_of_validity": "out_of_validity",
    "path_gas": "path_gas",
    "sagitta": "sagitta",
    "radius": "radius_of_curvature",
}

#: per-MCP record fields written when the tracker provides them (record name: tracker key)
OPTIONAL_MCP_FIELDS = {
    "n_hits_late": "n_hits_late",
    "t_end": "t_end",
    "ms_omega": "ms_omega",
    "ms_theta0": "ms_theta0",
    "ms_kick_bend": "ms_kick_bend",
    "ms_kick_polar": "ms_kick_polar",
}


def _min_hits_per_ray(tracker: Tracker) -> int:
    """Hits per ray of the boosted hypothesis: the tracker's setting if it has one."""
    return int(tracker.finder_min_hits_per_ray)


def _ray_inner_radius_cm(tracker: Tracker) -> float | None:
    """Radius [cm] below which each boosted ray needs a hit: the tracker's setting if it has
    one, else none (see :mod:`detsim.finder`)."""
    return tracker.finder_ray_inner_radius_cm


def inner_noise_fraction(tracker: Tracker) -> float:
    """Fraction of the noise hits (Poisson per cell) on layers inside the rays' inner radius."""
    cut = _ray_inner_radius_cm(tracker)
    cells = tracker.cells_per_layer
    return 1.0 if cut is None else float(cells[tracker.radii < cut].sum() / cells.sum())


def _pairs(hits: dict, counts, tracker: Tracker) -> dict:
    """Every finder hypothesis on the hit arrays, grouped by event (``counts`` per event)."""
    return find_pairs_grouped(
        counts,
        hits["hit_r"],
        hits["hit_phi"],
        tracker.road_half_bin_rad,
        tracker.finder_min_hits,
        tracker.outer_radius_cm,
        tracker.circle_min_radius_cm,
        min_hits_per_ray=_min_hits_per_ray(tracker),
        ray_inner_radius_cm=_ray_inner_radius_cm(tracker),
        hit_layer=hits.get("hit_layer"),
        layer_radii_cm=tracker.radii,
    )


def infer_mcp(events) -> tuple[float, float]:
    """(epsilon, mass [GeV]) read from the events (largest |charge| of chi, mass of the first
    chi); (0, 1) for no events. Only a fallback: the caller knows both."""
    if len(events) == 0:
        return 0.0, 1.0
    eps = float(np.abs(ak.to_numpy(events["chi"]["charge"])).max())
    return eps, float(np.asarray(events["chi"].mass)[0])


def simulate(
    events,
    tracker: Tracker,
    source=None,
    tables: dict | None = None,
    *,
    epsilon: float | None = None,
    mass_gev: float | None = None,
) -> ak.Array:
    """Detector record per event (see module docstring).

    ``source(stage, rows, n)`` supplies uniforms; default: a fresh numpy Generator (use the
    pipeline for chunk-independent streams). ``epsilon`` (MCP charge [e]) and ``mass_gev`` [GeV]
    are the process's; they go to the tracker and the paper criteria and are inferred from the
    events (:func:`infer_mcp`) only when not given.
    """
    source = source or numpy_source()
    n = len(events)
    if epsilon is None or mass_gev is None:
        eps_data, mass_data = infer_mcp(events)
        epsilon = eps_data if epsilon is None else epsilon
        mass_gev = mass_data if mass_gev is None else mass_gev
    eps, mass = float(epsilon), float(mass_gev)
    out = simulate_tracker(events, tracker, source, tables, epsilon=eps, mass_gev=mass)
    counts = np.bincount(out["hit_event"], minlength=n)  # the tracker's hits are grouped by event
    pairs = _pairs(out, counts, tracker)
    paper = paper_event_pass(out["beta"][:n], out["beta"][n:], eps, mass, tracker.gas, tracker.paper)
    hit_fields = {
        "layer": out["hit_layer"].astype(np.int8 if tracker.n_layers < 128 else np.int16),
        "x": out["hit_x"].astype(np.float32),
        "y": out["hit_y"].astype(np.float32),
        "z": out["hit_z"].astype(np.float32),
        "source": out["hit_source"],
        "mech": out["hit_mech"],
    }
    if "hit_t" in out:
        hit_fields["t"] = np.asarray(out["hit_t"]).astype(np.float32)
    fields = {"hit": ak.unflatten(ak.zip(hit_fields), counts), "n_hits": counts.astype(np.int32)}
    fields.update(pairs)
    fields["paper_ionization"] = paper["ionization"]
    fields["paper_delta"] = paper["delta"]
    mcp = dict(MCP_FIELDS)
    mcp.update({name: key for name, key in OPTIONAL_MCP_FIELDS.items() if key in out})
    for prefix, part in (("chi", slice(0, n)), ("chibar", slice(n, 2 * n))):
        for name, key in mcp.items():
            fields[f"{prefix}_{name}"] = out[key][part]
    return ak.zip(fields, depth_limit=1)


def random_trigger(tracker: Tracker, n_events: int, source, chunk: int = 200_000) -> dict:
    """Noise-only events through every finder hypothesis: fake counts and rates per 10^6 events
    (``fake_<h>``, ``fake_rate_<h>_per_1e6``, ``fake_rate_<h>_err_per_1e6`` for h in
    :data:`detsim.finder.HYPOTHESES`), with the exact analytic rates of the line
    (:func:`detsim.finder.fake_rate_analytic`) and boosted
    (:func:`detsim.finder.fake_rate_boosted_analytic`) hypotheses; the circle scan has no closed
    form (its curvatures overlap).

    ``source(stage, rows, start, stop)`` returns uniforms for events start..stop-1 of a stream."""
    mu = float((tracker.cells_per_layer * tracker.noise_occupancy).sum())
    fakes = dict.fromkeys(HYPOTHESES, 0)
    for start in range(0, n_events, chunk):
        n = min(chunk, n_events - start)

        def chunk_source(stage, rows, _n, start=start, n=n):
            return source(stage, rows, start, start + n)

        hits = noise_hits(tracker, chunk_source, n, STAGE_RANDOM_TRIGGER)
        order = np.argsort(hits["hit_event"], kind="stable")
        counts = np.bincount(hits["hit_event"], minlength=n)
        pairs = _pairs({key: hits[key][order] for key in ("hit_r", "hit_phi", "hit_layer")}, counts, tracker)
        for h in HYPOTHESES:
            fakes[h] += int(pairs[f"found_{h}"].sum())
    h_rad, n_min = tracker.road_half_bin_rad, tracker.finder_min_hits
    analytic = {
        "line": fake_rate_analytic(mu, h_rad, n_min),
        "boosted": fake_rate_boosted_analytic(
            mu, h_rad, n_min, _min_hits_per_ray(tracker), RAY_SEPARATION, inner_noise_fraction(tracker)
        ),
    }
    per = 1e6 / max(n_events, 1)
    out = {"n_events": n_events, "mean_noise_hits": mu}
    for h in HYPOTHESES:
        out[f"fake_{h}"] = fakes[h]
    for h in HYPOTHESES:
        out[f"fake_rate_{h}_per_1e6"] = fakes[h] * per
        out[f"fake_rate_{h}_err_per_1e6"] = np.sqrt(fakes[h]) * per
        if h in analytic:
            out[f"fake_rate_{h}_analytic_per_1e6"] = analytic[h] * 1e6
    return out
