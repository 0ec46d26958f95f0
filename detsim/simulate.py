"""Detector stage entry point: events in, per-event detector record out (awkward).

:func:`simulate` runs the tracker (:mod:`detsim.tracker`), both finder hypotheses
(:mod:`detsim.finder`) and the paper-faithful criteria (:mod:`detsim.paper`) on a chunk of
generator events and returns one record per event:

``hit`` (jagged: layer, x, y, z [cm], source 0 noise / 1 chi / 2 chibar, mech 0 noise /
1 ionization / 2 delta / 3 both), ``n_hits``, ``found_line``, ``found_circle``, ``hits_line``,
``hits_circle``, ``paper_ionization``, ``paper_delta``, and per MCP (``chi_*``, ``chibar_*``):
``status`` (see :data:`detsim.tracker.STATUS`), ``r_end`` [cm], ``n_hits``, ``n_delta``,
``beta_min``, ``out_of_validity``, ``path_gas`` [cm], ``sagitta`` [cm], ``radius`` (of curvature
at production, [cm]).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from .finder import fake_rate_analytic, find_pairs
from .geometry import Tracker
from .paper import paper_event_pass
from .tracker import STAGE_DETSIM, build_tables, noise_hits, numpy_source, simulate_tracker

__all__ = ["simulate", "random_trigger", "MCP_FIELDS", "build_tables"]

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


def simulate(events, tracker: Tracker, source=None, tables: dict | None = None) -> ak.Array:
    """Detector record per event (see module docstring). ``source(stage, rows, n)`` supplies
    uniforms; default: a fresh numpy Generator (use the pipeline for chunk-independent streams)."""
    source = source or numpy_source()
    n = len(events)
    out = simulate_tracker(events, tracker, source, tables)
    pairs = find_pairs(
        out["hit_event"],
        out["hit_r"],
        out["hit_phi"],
        n,
        tracker.road_half_bin_rad,
        tracker.finder_min_hits,
        tracker.outer_radius_cm,
        tracker.circle_min_radius_cm,
    )
    eps = float(np.abs(ak.to_numpy(events["chi"]["charge"])).max()) if n else 0.0
    mass = float(np.asarray(events["chi"].mass)[0]) if n else 1.0
    paper = paper_event_pass(out["beta"][:n], out["beta"][n:], eps, mass, tracker.gas, tracker.paper)
    counts = np.bincount(out["hit_event"], minlength=n)
    hit = ak.zip(
        {
            "layer": out["hit_layer"].astype(np.int8 if tracker.n_layers < 128 else np.int16),
            "x": out["hit_x"].astype(np.float32),
            "y": out["hit_y"].astype(np.float32),
            "z": out["hit_z"].astype(np.float32),
            "source": out["hit_source"],
            "mech": out["hit_mech"],
        }
    )
    fields = {"hit": ak.unflatten(hit, counts), "n_hits": counts.astype(np.int32)}
    fields.update(pairs)
    fields["paper_ionization"] = paper["ionization"]
    fields["paper_delta"] = paper["delta"]
    for prefix, part in (("chi", slice(0, n)), ("chibar", slice(n, 2 * n))):
        for name, key in MCP_FIELDS.items():
            fields[f"{prefix}_{name}"] = out[key][part]
    return ak.zip(fields, depth_limit=1)


def random_trigger(tracker: Tracker, n_events: int, source, chunk: int = 200_000) -> dict:
    """Noise-only events through the finder: fake rates per 1e6 events, with the analytic
    straight-road estimate (:func:`detsim.finder.fake_rate_analytic`) beside the MC.

    ``source(stage, rows, start, stop)`` returns uniforms for events start..stop-1 of a stream."""
    mu = tracker.cells_per_layer * tracker.noise_occupancy
    n_line = n_circle = 0
    for start in range(0, n_events, chunk):
        n = min(chunk, n_events - start)

        def chunk_source(stage, rows, _n, start=start, n=n):
            return source(stage, rows, start, start + n)

        hits = noise_hits(tracker, chunk_source, n, STAGE_RANDOM_TRIGGER)
        order = np.argsort(hits["hit_event"], kind="stable")
        pairs = find_pairs(
            hits["hit_event"][order],
            hits["hit_r"][order],
            hits["hit_phi"][order],
            n,
            tracker.road_half_bin_rad,
            tracker.finder_min_hits,
            tracker.outer_radius_cm,
            tracker.circle_min_radius_cm,
        )
        n_line += int(pairs["found_line"].sum())
        n_circle += int(pairs["found_circle"].sum())
    analytic = fake_rate_analytic(float(mu.sum()), tracker.road_half_bin_rad, tracker.finder_min_hits)
    per = 1e6 / max(n_events, 1)
    return {
        "n_events": n_events,
        "mean_noise_hits": float(mu.sum()),
        "fake_line": n_line,
        "fake_circle": n_circle,
        "fake_rate_line_per_1e6": n_line * per,
        "fake_rate_line_err_per_1e6": np.sqrt(n_line) * per,
        "fake_rate_circle_per_1e6": n_circle * per,
        "fake_rate_circle_err_per_1e6": np.sqrt(n_circle) * per,
        "fake_rate_line_analytic_per_1e6": analytic * 1e6,
    }
