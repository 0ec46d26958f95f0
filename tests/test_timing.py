"""Hit times and the readout window: straight constant-velocity tracks against path / (beta c),
slowing-down MCPs against an independent integral of dE/dx, the window's bookkeeping and the
noise-hit times."""

from __future__ import annotations

import dataclasses
import math

import awkward as ak
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import detsim.tracker as tracker_mod
from detsim.eloss import dedx_gev_per_cm
from detsim.geometry import Tracker
from detsim.tracker import STATUS, simulate_tracker
from generator.kinematics import momentum4d
from mcpgen.rng import uniforms

C_CM_PER_NS = 29.9792458


def keyed_source(seed):
    """``source(stage, rows, n)`` with one stream per key (as the pipeline): adding a stream
    leaves the others' numbers unchanged."""

    def source(stage, rows, n):
        return uniforms(seed, stage, 0, n, rows)

    return source


def pairs(beta, mass, eps, n, seed=0, cos_max=0.0):
    """n back-to-back pairs at velocity beta, random azimuth, cos(theta) uniform in +-cos_max."""
    rng = np.random.default_rng(seed)
    phi = rng.uniform(0, 2 * np.pi, n)
    c = rng.uniform(-cos_max, cos_max, n)
    s = np.sqrt(1 - c**2)
    gamma = 1 / math.sqrt(1 - beta**2)
    p, e = mass * beta * gamma, mass * gamma
    q = np.full(n, eps)
    px, py, pz = p * s * np.cos(phi), p * s * np.sin(phi), p * c
    return ak.zip(
        {
            "chi": momentum4d(px, py, pz, np.full(n, e), charge=-q),
            "chibar": momentum4d(-px, -py, -pz, np.full(n, e), charge=q),
        },
        depth_limit=1,
    )


def tracker(**kw):
    base = dict(half_length_cm=1000.0, cell_size_cm=1.0, field_t=0.0, eloss_model="bethe")
    base.update(kw)
    return Tracker.equally_spaced("propane", 5.0, 100.0, 48, **base)


def run(events, trk, compiled, seed=2, **kw):
    tracker_mod.USE_COMPILED_KERNEL = compiled
    try:
        return simulate_tracker(events, trk, keyed_source(seed), **kw)
    finally:
        tracker_mod.USE_COMPILED_KERNEL = True


def mcp_of_hits(out, n):
    """Global MCP index (chi 0..n-1, chibar n..2n-1) of every non-noise hit, and the mask."""
    src = out["hit_source"].astype(np.int64)
    mcp = out["hit_event"] + n * (src - 1)
    return mcp, src > 0


@pytest.mark.parametrize("compiled", [False, True])
def test_straight_tracks_hit_time_is_path_over_beta_c(compiled):
    """A heavy MCP (m = 1 TeV, beta = 0.05, eps = 0.01): R = 33 km in 0.5 T (the arc exceeds
    the chord by < 1e-10), energy loss 6e-6 of T over the gas (constant velocity): every hit --
    ionization and delta-electron alike -- at t = (r_k / sin theta) / (beta c) to 1e-9."""
    beta, mass, eps, n = 0.05, 1000.0, 1e-2, 500
    ev = pairs(beta, mass, eps, n, seed=1, cos_max=0.6)
    trk = tracker(field_t=0.5)
    out = run(ev, trk, compiled)
    mcp, real = mcp_of_hits(out, n)
    chi = ev["chi"]
    sin_theta = np.tile(np.hypot(ak.to_numpy(chi.px), ak.to_numpy(chi.py)) / ak.to_numpy(chi.p), 2)
    b = np.tile(ak.to_numpy(chi.p) / ak.to_numpy(chi.E), 2)
    expected = trk.radii[out["hit_layer"][real]] / sin_theta[mcp[real]] / (b[mcp[real]] * C_CM_PER_NS)
    assert real.sum() > 5_000
    assert (out["hit_mech"][real] & 2).astype(bool).sum() > 100  # delta-electron hits: the parent's time
    np.testing.assert_allclose(out["hit_t"][real], expected, rtol=1e-9)
    escaped = out["status"] == STATUS["escaped"]
    t_out = 100.0 / sin_theta / (b * C_CM_PER_NS)
    np.testing.assert_allclose(out["t_end"][escaped], t_out[escaped], rtol=1e-9)


def _reference_times(beta0, mass, eps, model, s_eval):
    """t(s) = s_vac/(beta0 c) + integral ds / (beta(s) c) along a radial path in the gas, by
    integrating dT/ds = -dE/dx(beta(T)) and dt/ds = 1/(beta c) with scipy (independent of the
    tracker's tables and stepping)."""

    def beta_of(t):
        return math.sqrt(max(t * (t + 2 * mass), 0.0)) / (t + mass)

    def rhs(_s, y):
        b = beta_of(y[0])
        return [-float(dedx_gev_per_cm(b, eps, mass, "propane", model)), 1.0 / (b * C_CM_PER_NS)]

    def stopped(_s, y):
        return y[0] - 1e-4 * t0

    stopped.terminal = True
    t0 = mass * (1 / math.sqrt(1 - beta0**2) - 1)
    sol = solve_ivp(rhs, (0.0, s_eval.max()), [t0, 0.0], rtol=1e-10, atol=1e-14, dense_output=True, events=stopped)
    reach = sol.t[-1]
    return 5.0 / (beta0 * C_CM_PER_NS) + np.where(s_eval <= reach, sol.sol(np.minimum(s_eval, reach))[1], np.nan)


@pytest.mark.parametrize(
    ("model", "beta", "eps"),
    [("lindhard", 0.003, 1e-2), ("bethe", 0.01, 3e-3), ("bethe", 0.006, 6e-3)],
)
def test_slowing_down_hit_times_match_integral(model, beta, eps):
    """Radial MCPs (B = 0, theta = 90 deg, no pipe) slowing down in the gas: the time at each
    sense wire crossed is longer than r_k/(beta_0 c) and equals the independent integral of
    ds / (beta(s) c) within 1 % (midpoint rule and time-of-flight table alike). The lindhard
    case stops after ~ 20 cm (range-table branch), bethe at beta = 0.01 loses ~ 5 % (midpoint)."""
    mass, n = 1.5, 200
    trk = tracker(eloss_model=model)
    ev = pairs(beta, mass, eps, n, seed=3)
    out = run(ev, trk, compiled=True)
    _, real = mcp_of_hits(out, n)
    layer = out["hit_layer"][real]
    at_wire = out["hit_r"][real] == trk.radii[layer].astype(np.float32)
    r_k = trk.radii[layer][at_wire]
    t = out["hit_t"][real][at_wire]
    ref = _reference_times(beta, mass, eps, model, r_k - 5.0)
    ok = np.isfinite(ref)
    dev = t[ok] / ref[ok] - 1
    print(f"{model} beta={beta}: {ok.sum()} hits, t/t_ref - 1 in [{dev.min():.2e}, {dev.max():.2e}]")
    assert ok.sum() > 0.5 * n
    assert np.all(t > r_k / (beta * C_CM_PER_NS))
    np.testing.assert_allclose(t[ok], ref[ok], rtol=0.01)
    slowed = t[ok] / (r_k[ok] / (beta * C_CM_PER_NS)) - 1
    assert slowed.max() > 0.02  # the test does probe the slowing down


@pytest.mark.parametrize("compiled", [False, True])
def test_readout_window_drops_late_hits_and_counts_them(compiled):
    """With a window every kept hit is inside it, dropped ones are counted per MCP
    (n_hits + n_hits_late = the hits without a window), and nothing else changes."""
    n = 400
    ev = pairs(0.004, 1.5, 3e-3, n, seed=5, cos_max=0.5)
    trk = tracker(field_t=1.5, noise_occupancy=1e-4, eloss_model="lindhard")
    full = run(ev, trk, compiled)
    window = float(np.median(full["hit_t"][full["hit_source"] > 0]))
    cut = run(ev, dataclasses.replace(trk, time_window_ns=window), compiled)
    assert (cut["hit_t"] <= window).all()
    assert cut["n_hits_late"].sum() > 1000
    np.testing.assert_array_equal(cut["n_hits"] + cut["n_hits_late"], full["n_hits"])
    keep = (full["hit_t"] <= window) & (full["hit_source"] > 0)
    real = cut["hit_source"] > 0
    for key in ("hit_event", "hit_layer", "hit_phi", "hit_z", "hit_t", "hit_mech"):
        np.testing.assert_array_equal(cut[key][real], full[key][keep])
    for key in ("status", "r_end", "path_gas", "n_delta", "beta_min", "t_end"):
        np.testing.assert_array_equal(cut[key], full[key])


def test_noise_hit_times_uniform_in_window():
    """Noise hits: uniform in [0, window] (mean window/2, variance window^2/12, within 3 sigma),
    and in [0, NOISE_TIME_SPAN_NS] without a window."""
    n = 20_000
    ev = pairs(0.5, 1.5, 1e-6, n, seed=6)  # invisible MCPs: noise only
    for window in (300.0, None):
        trk = tracker(noise_occupancy=2e-4, time_window_ns=window)
        out = simulate_tracker(ev, trk, keyed_source(7))
        span = window if window is not None else tracker_mod.NOISE_TIME_SPAN_NS
        t = out["hit_t"][out["hit_source"] == 0] / span
        m = len(t)
        assert m > 10_000 and t.min() >= 0 and t.max() <= 1
        assert abs(t.mean() - 0.5) < 3 * math.sqrt(1 / 12 / m)
        assert abs(t.var() - 1 / 12) < 3 * math.sqrt(1 / 180 / m)  # Var of (u - 1/2)^2 is 1/180
