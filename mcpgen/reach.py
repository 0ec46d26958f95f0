"""Reach of the tracker channel from the full detector simulation, for any collider and detector.

The ε-reweighting scan (:mod:`mcpgen.scan`, :class:`analysis.scan.Reweighter`) is exact for the
paper's idealisation: straight tracks through the IP, hit probabilities ∝ ε², no multiple scattering.
With a crossing angle, realistic stopping, multiple scattering (θ₀ ∝ ε) and a readout window the
detector response is no longer a closed function of ε, so here every ε of the grid is simulated:

* the generator runs once per mass at ε_ref = 1 (kinematics do not depend on ε; weights ∝ ε²);
* the detector stage (tracker, every finder hypothesis, the paper criteria) runs at each ε with the
  same uniforms (common random numbers, so N(ε) is smooth and differences between ε are not noise);
* N(ε) = L Σ w(ε) × flag for each signal flag; the reach is the smallest ε with N ≥ 3 (zero
  background, G §4), interpolated log-linearly between grid points (:func:`analysis.scan.eps_reach`).

:data:`COLLIDER_EFFECTS` lists the cumulative steps from the paper's idealisation (``cards/sct_3gev``)
to the realistic collider (``cards/sct_3gev_realistic``) as card overrides, so each effect can be
switched on its own with ``--set`` as well.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from analysis.scan import eps_reach
from analysis.selections import tracker_flags
from detsim.simulate import build_tables, random_trigger, simulate

from .build import ChiPairCard, card_from_dict, load_card
from .pipeline import generate_events
from .results import Result
from .rng import Streams, block_source, resolve_seed, uniforms

__all__ = ["COLLIDER_EFFECTS", "EPS_REF", "SimulatedReach", "simulated_reach", "collider_effects", "effect_ladder"]

EPS_REF = 1.0  #: charge at which the generator runs; weights scale as (eps / EPS_REF)^2

#: Cumulative card overrides from the paper's idealisation to the realistic SCT collider
#: (``docs/physics.md`` §10-§14): (label, overrides added at this step).
COLLIDER_EFFECTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("paper idealisation", ()),
    ("+ crossing angle, per-beam spread", ("beams.machine=sct", "beams.spread={model: gaussian_per_beam}")),
    (
        "+ realistic stopping (ICRU 49, PDG propane)",
        (
            "detector.tracker.gas={propane_pdg: 1.0}",
            "detector.tracker.energy_loss=icru49",
            "detector.tracker.nuclear_stopping=true",
        ),
    ),
    (
        "+ multiple scattering, 500 ns window",
        ("detector.tracker.multiple_scattering=true", "detector.tracker.time_window=500 ns"),
    ),
)


@dataclass(frozen=True, eq=False)
class SimulatedReach(Result):
    """Expected signal N(ε) per flag at one mass, the ε reach and the efficiencies at the card's ε."""

    label: str
    mass_gev: float
    epsilons: np.ndarray
    luminosity_pb: float
    expected: dict  # flag -> N(eps) array
    efficiency: dict  # flag -> efficiency (found / produced) at the card's eps
    card_epsilon: float
    fake_rates: dict  # random trigger: per 1e6 noise-only events, MC and analytic

    def reach(self, n_required: float = 3.0) -> dict:
        """Smallest ε with N ≥ ``n_required`` per flag (NaN if none on the grid)."""
        return {
            flag: float(eps_reach([self.mass_gev], self.epsilons, n[None, :], n_required)[0])
            for flag, n in self.expected.items()
        }

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "mass_gev": self.mass_gev,
            "luminosity_pb_inv": self.luminosity_pb,
            "epsilons": self.epsilons,
            "expected_events": self.expected,
            "eps_reach_3_events": self.reach(),
            "efficiency_at_card_eps": {"epsilon": self.card_epsilon, **self.efficiency},
            "random_trigger": self.fake_rates,
        }

    def format(self) -> str:
        reach = self.reach()
        cells = ", ".join(f"{flag.removeprefix('found_')} {reach[flag]:.3g}" for flag in self.expected)
        eff = ", ".join(f"{flag.removeprefix('found_')} {e:.3f}" for flag, e in self.efficiency.items())
        return f"{self.label}: eps reach (N >= 3) {cells}; efficiency at eps = {self.card_epsilon:g}: {eff}"


def _detect(events, card: ChiPairCard, mass_gev: float, eps: float, source) -> dict:
    """Signal flags of the detector stage at charge ``eps``."""
    tracker = card.tracker
    tables = build_tables(tracker, eps, mass_gev)
    detector = simulate(events, tracker, source, tables, epsilon=eps, mass_gev=mass_gev)
    return {name: np.asarray(mask) for name, mask in tracker_flags(detector).items()}


def simulated_reach(
    card: ChiPairCard,
    epsilons,
    *,
    mass_gev: float | None = None,
    n_events: int = 20_000,
    seed=None,
    random_trigger_events: int | None = None,
    label: str = "",
    mass_index: int = 0,
) -> SimulatedReach:
    """Full-simulation N(ε) for ``card`` (which needs a tracker) at ``mass_gev`` (default: the
    card's), ``n_events`` generated pairs; ``seed`` None takes the card's. ``mass_index`` names the
    scan stream of this mass (:meth:`mcpgen.rng.Streams.scan`)."""
    if card.tracker is None:
        raise ValueError("a reach from the detector simulation needs a card with a tracker")
    seed = resolve_seed(card.run.seed if seed is None else seed)
    mass = float(card.process.mass_gev if mass_gev is None else mass_gev)
    epsilons = np.asarray(epsilons, dtype=float)
    gen_stream, det_stream = Streams.scan(0, mass_index)
    proc = replace(card.process, mass_gev=mass, epsilon=EPS_REF)
    events = generate_events(proc, n_events, seed=seed, stream=gen_stream)
    w_ref = np.asarray(events["weight"])
    source = block_source(seed, 0, len(events), prefix=det_stream.key)
    lumi = card.luminosity_pb
    expected: dict[str, np.ndarray] = {}
    for j, eps in enumerate(epsilons):
        w = w_ref * (eps / EPS_REF) ** 2
        for flag, mask in _detect(events, card, mass, float(eps), source).items():
            expected.setdefault(flag, np.zeros(len(epsilons)))[j] = lumi * float(w[mask].sum())
    eps_card = float(card.process.epsilon)
    flags = _detect(events, card, mass, eps_card, source)
    total = float(w_ref.sum())
    efficiency = {flag: float(w_ref[mask].sum()) / total if total > 0 else 0.0 for flag, mask in flags.items()}
    n_rt = card.random_trigger_events if random_trigger_events is None else random_trigger_events
    fakes = {}
    if n_rt:

        def rt_source(stage, rows, start, stop):  # the run's own random-trigger streams
            return uniforms(seed, stage, start, stop, rows)

        fakes = random_trigger(card.tracker, n_rt, rt_source)
    return SimulatedReach(label, mass, epsilons, lumi, expected, efficiency, eps_card, fakes)


def collider_effects(
    card: str = "sct_3gev", epsilons=None, *, n_events: int = 20_000, seed=None, random_trigger_events: int = 0
) -> list[SimulatedReach]:
    """:func:`simulated_reach` at the card's mass for each cumulative step of :data:`COLLIDER_EFFECTS`
    (the paper's idealisation first, the realistic collider last)."""
    epsilons = np.geomspace(3e-4, 3e-2, 25) if epsilons is None else epsilons
    out, overrides = [], []
    for label, extra in COLLIDER_EFFECTS:
        overrides += list(extra)
        step = load_card(card, overrides)
        out.append(
            simulated_reach(
                step, epsilons, n_events=n_events, seed=seed, random_trigger_events=random_trigger_events, label=label
            )
        )
    return out


def effect_ladder(card: ChiPairCard) -> list[tuple[str, ChiPairCard]]:
    """The card with its collider effects switched off one by one (``docs/physics.md`` §10-§14):
    head-on beams with a Gaussian sqrt(s) spread of the same width, the paper's dE/dx (G eq. 4 as
    printed) without nuclear stopping, no multiple scattering and no readout window; then each
    effect back on, in the order of :data:`COLLIDER_EFFECTS`, ending with the card itself. An empty
    list when the card is already the idealisation."""
    b, t = card.beams, card.tracker
    if t is None:
        return []
    beams = []
    if b.crossing_angle_rad != 0.0 or b.spread_model == "gaussian_per_beam":
        sigma = float(b.sigma_sqrt_s_effective_gev)
        beams = ["beams.crossing_angle=0 rad"]
        beams.append(
            f"beams.spread={{model: gaussian_sqrt_s, sigma_sqrt_s: '{sigma!r} GeV'}}"
            if sigma > 0
            else "beams.spread={model: none}"
        )
        if "machine" in card.data["beams"] and "sqrt_s" not in card.data["beams"]:
            beams.append(f"beams.sqrt_s={float(b.sqrt_s0_gev)!r} GeV")
    stopping = []
    if t.eloss_model != "bethe_paper" or t.nuclear_stopping:
        stopping = ["detector.tracker.energy_loss=bethe_paper", "detector.tracker.nuclear_stopping=false"]
    tracking = []
    if t.multiple_scattering or t.time_window_ns is not None:
        tracking = ["detector.tracker.multiple_scattering=false", "detector.tracker.time_window=null"]
    if not (beams or stopping or tracking):
        return []
    data = card.data
    steps = [
        ("idealised (head-on, G eq. 4, no scattering)", beams + stopping + tracking),
        ("+ crossing angle, per-beam spread", stopping + tracking),
        ("+ realistic stopping", tracking),
        ("+ multiple scattering, readout window (the card)", []),
    ]
    out, seen = [], set()
    for label, overrides in steps:
        key = tuple(overrides)
        if key in seen:
            continue
        seen.add(key)
        out.append((label, card_from_dict(data, card.source, overrides)))
    return out
