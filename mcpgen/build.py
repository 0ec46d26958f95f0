"""From a checked card to typed physics objects: one builder per card kind.

:func:`build_card` turns a :class:`~mcpgen.card.CardSpec` into a :class:`ChiPairCard` (beams,
the chi_pair process, an optional tracker, luminosity) or a :class:`MonophotonCard` (calorimeter,
datasets = energy point x process, the experiment's selection). Checks that need the physics
objects (pair threshold against the beams' reach, known materials) raise
:class:`~mcpgen.errors.CardError` here. Nothing downstream reads the card dict again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.bbg import lab_to_cm_theta
from analysis.scan import ScanGrid
from analysis.selections import MonophotonSelection, Polygon, belle2_high_mass_polygon, belle2_low_mass_polygon
from detsim import ecl
from detsim.geometry import BeamPipe, PaperCriteria, Tracker
from detsim.materials import gas_mixture, material
from generator.bbg_processes import EEGamma, ThreePhoton
from generator.beams import Beams
from generator.chipair import ChiPair
from generator.machines import machine
from generator.monophoton import ChiChiGamma, NuNuGamma
from generator.processes import BeamProcess
from generator.two_photon import TwoPhoton

from .card import CardSpec, check_card, read_card
from .cardlimits import check_semantics
from .errors import CardError
from .rng import Stream, Streams
from .units import parse_quantity

__all__ = [
    "REACH_SIGMAS",
    "RunOptions",
    "OutputOptions",
    "ScanPoint",
    "ScanSpec",
    "ChiPairCard",
    "Dataset",
    "MonophotonCard",
    "acceptance_edges_cm",
    "build_card",
    "card_from_dict",
    "load_card",
]

#: Beam-energy reach used by the threshold check: sqrt(s0) + REACH_SIGMAS x spread.
REACH_SIGMAS = 5.0


@dataclass(frozen=True)
class RunOptions:
    """``run`` section: master seed (None = fresh entropy), trials, chunking, workers, unweighting;
    where the chunks run (``executor``: 'local' or 'dask'; ``scheduler``: a dask scheduler address,
    None to start a local dask cluster of ``workers`` processes)."""

    seed: int | None
    n_events: int
    chunk_size: int
    workers: int
    unweighted: bool
    pilot_events: int
    executor: str = "local"
    scheduler: str | None = None


@dataclass(frozen=True)
class OutputOptions:
    """``output`` section: directory and ROOT compression ('none' or 'ALG:LEVEL'); event files
    beside events.root (``formats``: 'lhe', 'hepmc3', 'hepmc2', each optionally '.gz'; 'root' is
    always written), their weighting ('unweighted' or 'weighted') and the PDG id of chi (None: the
    default of ``generator.final_state``); ``hits``: the tracker hits written to events.root --
    'all' events', the 'found' events' (a finder hypothesis or a paper criterion found the pair)
    or 'none' (no hit branches)."""

    dir: str
    compression: str
    formats: tuple[str, ...] = ()
    event_weights: str = "unweighted"
    chi_pdg: int | None = None
    hits: str = "all"


@dataclass(frozen=True)
class ScanPoint:
    """One collider point of a scan: beams, luminosity [pb^-1] and its (m, eps) grid."""

    beams: Beams
    luminosity_pb: float
    grid: ScanGrid


@dataclass(frozen=True)
class ScanSpec:
    """``scan`` section: the points (chi_pair) or the grid (monophoton), sample sizes."""

    grid: ScanGrid
    points: tuple[ScanPoint, ...]
    events_per_mass: int
    background_events: int
    log_mass: bool
    cl: float = 0.95  # confidence level of the limits (0.90 or 0.95)
    workspaces: str = "all"  # pyhf workspaces behind the CLs limits: 'all' or 'none'


class _Card:
    """What both card kinds share: the checked card, run and output options."""

    spec: CardSpec

    @property
    def data(self) -> dict:
        """The resolved card (defaults filled in), as recorded in the outputs."""
        return self.spec.data

    @property
    def source(self) -> str:
        return self.spec.source

    @property
    def name(self) -> str:
        return self.spec.data.get("name") or "mcpgen"

    def to_yaml(self) -> str:
        return self.spec.to_yaml()


@dataclass(frozen=True)
class ChiPairCard(_Card):
    """e+e- -> chi chibar (gamma_ISR) at one collider point, optionally through a tracker
    (``random_trigger_events`` noise-only events measure the finder's fake rate)."""

    spec: CardSpec
    beams: Beams
    process: ChiPair
    luminosity_pb: float
    tracker: Tracker | None
    random_trigger_events: int
    run: RunOptions
    output: OutputOptions
    scan: ScanSpec | None = None
    kind = "chi_pair"


@dataclass(frozen=True)
class Dataset:
    """One (energy point, process) sample of a monophoton card; its tree is ``label``."""

    label: str
    point: str
    process_name: str
    process: BeamProcess
    luminosity_pb: float
    streams: tuple[Stream, Stream]
    index: tuple[int, int] | None = None  # (point, process) numbers of the dataset's streams


@dataclass(frozen=True)
class MonophotonCard(_Card):
    """Several processes at several energy points through a toy calorimeter (L).

    ``datasets``: one per (energy point, process), each with its random streams; ``selection``:
    the experiment's selection chains; ``mass_gev``, ``epsilon``, ``spin``: the signal model;
    ``e_gamma_min_gev``, ``cos_theta_max``: generation cuts (CM); ``gbg_events``, ``f_ng``,
    ``chain_points``: the limit inputs per selection chain (docs/cards.md)."""

    spec: CardSpec
    experiment: str
    calorimeter: ecl.Calorimeter
    selection: MonophotonSelection
    datasets: tuple[Dataset, ...]
    mass_gev: float
    epsilon: float
    spin: str
    e_gamma_min_gev: float
    cos_theta_max: float
    run: RunOptions
    output: OutputOptions
    gbg_events: dict = field(default_factory=dict)
    gbg: str = "rescaled"
    f_ng: dict = field(default_factory=dict)
    chain_points: dict = field(default_factory=dict)
    scan: ScanSpec | None = None
    kind = "monophoton"

    @property
    def cos_theta_b(self) -> float:
        return self.selection.cos_theta_b

    def acceptance_edges_cm(self, beams: Beams) -> tuple[float, float]:
        """CM polar edges [rad] of the acceptance at ``beams`` (see :func:`acceptance_edges_cm`)."""
        return acceptance_edges_cm(self.calorimeter, self.cos_theta_b, beams)

    def signal(self, beams: Beams, mass_gev: float, epsilon: float) -> BeamProcess:
        """The chi_pair_gamma process at ``beams`` for another (m, eps) (scans); ValueError if the
        generator cannot make it (e.g. no phase space)."""
        inner = ChiChiGamma(
            mass_gev, epsilon, self.spin, e_gamma_min_gev=self.e_gamma_min_gev, cos_theta_max=self.cos_theta_max
        )
        return BeamProcess(beams, inner, "chi_pair_gamma")

    def describe(self) -> dict:
        return {
            "experiment": self.experiment,
            "calorimeter": self.calorimeter.source,
            "datasets": [d.label for d in self.datasets],
            "cos_theta_b": self.cos_theta_b,
        }


# --- shared pieces ----------------------------------------------------------------------------


def acceptance_edges_cm(calorimeter: ecl.Calorimeter, cos_theta_b: float, beams: Beams) -> tuple[float, float]:
    """CM polar edges [rad] of the veto acceptance: theta_b and pi - theta_b for symmetric
    machines; otherwise the ECL's outer lab edges transformed to the CM (L eq. 2, footnote 1)."""
    if abs(beams.beta_z0) < 1e-12:
        tb = float(np.arccos(cos_theta_b))
        return tb, np.pi - tb
    t1, t2 = calorimeter.theta_min, calorimeter.theta_max
    return float(lab_to_cm_theta(t1, beams.beta_z0)), float(lab_to_cm_theta(t2, beams.beta_z0))


def _options(spec: CardSpec) -> tuple[RunOptions, OutputOptions]:
    r, o = spec.data["run"], spec.data["output"]
    run = RunOptions(
        r["seed"],
        int(r["n_events"]),
        int(r["chunk_size"]),
        int(r["workers"]),
        bool(r["unweighted"]),
        r["pilot_events"],
        r.get("executor", "local"),
        r.get("scheduler"),
    )
    formats = tuple(dict.fromkeys(f for f in o.get("formats", ()) if f != "root"))
    chi_pdg = o.get("chi_pdg")
    output = OutputOptions(
        o["dir"],
        o["compression"],
        formats,
        o.get("event_weights", "unweighted"),
        None if chi_pdg is None else int(chi_pdg),
        o.get("hits", "all"),
    )
    return run, output


def _beams(spec: CardSpec, where: str) -> Beams:
    """Beams of the point at ``where`` ('beams' or 'beams.points.i') with the card's spread.

    ``beams.machine`` names a preset (:mod:`generator.machines`) that supplies the crossing angle,
    the beam-energy ratio and the per-beam relative spreads; ``beams.crossing_angle`` and the
    spread fields override it. ``sqrt_s`` is the nominal CM energy whatever the crossing angle:
    E2 = sqrt(s0) / (2 cos(theta_c/2) sqrt(E1/E2)), E1 = (E1/E2) E2 (``docs/physics.md`` §10).
    """
    node = spec.get(where)
    top = spec.data["beams"]
    preset = machine(top["machine"]) if "machine" in top else None
    if "crossing_angle" in top:
        angle = spec.quantity("beams.crossing_angle", "angle")
        if not angle < 0.5:
            raise spec.error(
                "beams.crossing_angle", "allowed: a full crossing angle below 0.5 rad (the factories use 0-83 mrad)"
            )
    else:
        angle = preset.crossing_angle_rad if preset is not None else 0.0
    if "sqrt_s" in node:
        sqrt_s0 = spec.quantity(f"{where}.sqrt_s", "energy")
        ratio = preset.energy_ratio if preset is not None else 1.0
        if ratio == 1.0 and angle == 0.0:
            e1 = e2 = sqrt_s0 / 2.0
        else:
            e2 = sqrt_s0 / (2.0 * np.cos(0.5 * angle) * np.sqrt(ratio))
            e1 = ratio * e2
    elif "electron_energy" in node:
        e1 = spec.quantity(f"{where}.electron_energy", "energy")
        e2 = spec.quantity(f"{where}.positron_energy", "energy")
    else:
        e1, e2 = preset.electron_energy_gev, preset.positron_energy_gev
    spread = spec.data["beams"]["spread"]
    model = spread["model"]
    rel = None
    if "relative" in spread:
        rel = (float(spread["relative"]), float(spread["relative"]))
    elif preset is not None:
        rel = (preset.relative_spread_electron, preset.relative_spread_positron)
    kwargs: dict[str, float] = {}
    if model == "gaussian_sqrt_s":
        if "sigma_sqrt_s" in spread:
            kwargs["sigma_sqrt_s_gev"] = spec.quantity("beams.spread.sigma_sqrt_s", "energy")
        elif rel is not None:
            kwargs["sigma_sqrt_s_gev"] = float(np.sqrt(e1 * e2) * np.cos(0.5 * angle) * np.hypot(*rel))
        else:
            raise spec.error("beams.spread", "model gaussian_sqrt_s needs sigma_sqrt_s (or relative, or a machine)")
    elif model == "gaussian_per_beam":
        if "sigma_electron" in spread or "sigma_positron" in spread:
            kwargs["sigma_electron_gev"] = spec.quantity("beams.spread.sigma_electron", "energy")
            kwargs["sigma_positron_gev"] = spec.quantity("beams.spread.sigma_positron", "energy")
        elif rel is not None:
            kwargs["sigma_electron_gev"], kwargs["sigma_positron_gev"] = rel[0] * e1, rel[1] * e2
        else:
            raise spec.error(
                "beams.spread",
                "model gaussian_per_beam needs relative, or sigma_electron and sigma_positron, or a machine",
            )
    return Beams(e1, e2, model, crossing_angle_rad=float(angle), **kwargs)


def _grid(spec: CardSpec, center_gev: float | None = None) -> ScanGrid:
    m, e = spec.data["scan"]["mass"], spec.data["scan"]["epsilon"]
    lo, hi = spec.quantity("scan.mass.from", "energy"), spec.quantity("scan.mass.to", "energy")
    if m.get("relative_to_threshold", False):
        lo, hi = center_gev + lo, center_gev + hi
    masses = np.geomspace(lo, hi, m["n"]) if m.get("log", False) else np.linspace(lo, hi, m["n"])
    return ScanGrid(masses, np.geomspace(float(e["from"]), float(e["to"]), e["n"]))


def _scan(spec: CardSpec, beams: Beams | None = None, luminosity_pb: float = 0.0) -> ScanSpec | None:
    scan = spec.data.get("scan")
    if scan is None:
        return None
    log_mass = bool(scan["mass"].get("log", False))
    events, background = int(scan["events_per_mass"]), int(scan.get("background_events", 0))
    extra = {"cl": float(scan.get("cl", 95)) / 100.0, "workspaces": scan.get("workspaces", "all")}
    if beams is None:  # monophoton: one grid, the card's energy points
        return ScanSpec(_grid(spec), (), events, background, log_mass, **extra)
    if not scan.get("points"):
        points = (ScanPoint(beams, luminosity_pb, _grid(spec, beams.sqrt_s0_gev / 2)),)
    else:
        points = []
        for i in range(len(scan["points"])):
            rs = spec.quantity(f"scan.points.{i}.sqrt_s", "energy")
            at = Beams(
                rs / 2,
                rs / 2,
                beams.spread_model,
                sigma_sqrt_s_gev=beams.sigma_sqrt_s_gev,
                sigma_electron_gev=beams.sigma_electron_gev,
                sigma_positron_gev=beams.sigma_positron_gev,
            )
            points.append(
                ScanPoint(at, spec.quantity(f"scan.points.{i}.luminosity", "luminosity"), _grid(spec, rs / 2))
            )
        points = tuple(points)
    return ScanSpec(points[0].grid, points, events, background, log_mass, **extra)


# --- chi_pair cards -----------------------------------------------------------------------------


def _chi_pair_process(spec: CardSpec, beams: Beams) -> ChiPair:
    mass = spec.quantity("mcp.mass", "energy")
    reach = beams.reach_gev(REACH_SIGMAS)
    if 2.0 * mass >= reach:
        raise spec.error(
            "mcp.mass",
            f"the pair threshold 2m = {2 * mass:.6g} GeV is above the beam energy reach "
            f"sqrt(s0) + {REACH_SIGMAS:g} sigma = {reach:.6g} GeV, so no pairs can be produced; "
            f"allowed: m < {reach / 2:.6g} GeV",
        )
    isr = spec.data["isr"]
    x_max = isr["x_max"]
    kwargs: dict[str, Any] = {}
    if isinstance(x_max, str) and x_max != "kinematic":
        kwargs["x_max_energy_gev"] = spec.quantity("isr.x_max", "energy")
    elif not isinstance(x_max, str):
        kwargs["x_max"] = float(x_max)
    mcp = spec.data["mcp"]
    return ChiPair(beams, mass, float(mcp["epsilon"]), mcp["spin"], isr["kernel"], **kwargs)


def _tracker(spec: CardSpec) -> Tracker | None:
    det = spec.data["detector"]
    if "tracker" not in det:
        return None
    t = det["tracker"]

    def q(path, dim):
        return spec.quantity(f"detector.{path}", dim)

    try:
        gas = gas_mixture(dict(t["gas"]), by="volume", pressure_atm=t["pressure_atm"])
    except ValueError as exc:
        raise spec.error("detector.tracker.gas", str(exc)) from None
    pipe = None
    if det["beam_pipe"] is not None:
        try:
            pipe_material = material(det["beam_pipe"]["material"])
        except ValueError as exc:
            raise spec.error("detector.beam_pipe.material", str(exc)) from None
        pipe = BeamPipe(pipe_material, q("beam_pipe.radius", "length"), q("beam_pipe.thickness", "length"))
    r_in, r_out = q("tracker.inner_radius", "length"), q("tracker.outer_radius", "length")
    if "layers" in t:
        edges = np.linspace(r_in, r_out, t["layers"] + 1)
        radii = tuple(0.5 * (edges[1:] + edges[:-1]))
    else:
        radii = tuple(q(f"tracker.layer_radii.{i}", "length") for i in range(len(t["layer_radii"])))
    if t["time_window"] is not None and not q("tracker.time_window", "time") > 0:
        raise spec.error("detector.tracker.time_window", "allowed: a positive time (e.g. '500 ns') or null")
    f, pp = det["finder"], det["paper"]
    paper = PaperCriteria(
        i_min_gev_per_cm=q("paper.i_min", "energy_per_length") * 1e-9,
        l_min_cm=q("paper.l_min", "length"),
        t_min_gev=q("paper.t_min", "energy"),
        n_delta=float(pp["n_delta"]),
        track_length_cm=q("paper.track_length", "length"),
        dedx_model=pp["dedx_model"],
    )
    return Tracker(
        gas=gas,
        inner_radius_cm=r_in,
        outer_radius_cm=r_out,
        half_length_cm=q("tracker.half_length", "length"),
        layer_radii_cm=radii,
        cell_size_cm=q("tracker.cell_size", "length"),
        field_t=q("field", "field"),
        resolution_rphi_cm=q("tracker.resolution_rphi", "length"),
        resolution_z_cm=q("tracker.resolution_z", "length"),
        noise_occupancy=float(t["noise_occupancy"]),
        threshold_electrons=int(t["threshold_electrons"]),
        delta_t_min_gev=q("tracker.delta_t_min", "energy"),
        eloss_model=t["energy_loss"],
        nuclear_stopping=bool(t["nuclear_stopping"]),
        multiple_scattering=bool(t["multiple_scattering"]),
        time_window_ns=None if t["time_window"] is None else q("tracker.time_window", "time"),
        beam_pipe=pipe,
        finder_tolerance_sigmas=float(f["tolerance_sigmas"]),
        finder_min_hits=int(f["min_hits"]),
        circle_min_radius_cm=q("finder.circle_min_radius", "length"),
        finder_min_hits_per_ray=int(f["min_hits_per_ray"]),
        finder_ray_inner_radius_cm=None if f["ray_inner_radius"] is None else q("finder.ray_inner_radius", "length"),
        paper=paper,
    )


def _chi_pair_card(spec: CardSpec) -> ChiPairCard:
    beams = _beams(spec, "beams")
    process = _chi_pair_process(spec, beams)
    luminosity = spec.quantity("analysis.luminosity", "luminosity")
    tracker = _tracker(spec)
    n_rt = int(spec.data["detector"]["finder"]["random_trigger_events"]) if tracker is not None else 0
    run, output = _options(spec)
    return ChiPairCard(spec, beams, process, luminosity, tracker, n_rt, run, output, _scan(spec, beams, luminosity))


# --- monophoton cards ---------------------------------------------------------------------------


def _regions(spec: CardSpec) -> dict[str, Polygon]:
    shifts = spec.data["analysis"].get("belle2_regions", {})
    path = "analysis.belle2_regions"
    polygons = {}
    for name, default in (("low_mass", belle2_low_mass_polygon()), ("high_mass", belle2_high_mass_polygon())):
        poly = default
        if f"{name}_polygon" in shifts:
            try:
                poly = Polygon.from_degrees(shifts[f"{name}_polygon"], name=name)
            except ValueError as exc:
                raise spec.error(f"{path}.{name}_polygon", str(exc)) from None
        shift = spec.quantity(f"{path}.{name}_shift", "energy") if f"{name}_shift" in shifts else 0.0
        polygons[name] = poly.shift_energy(shift) if shift else poly
    return polygons


def _monophoton_process(physics: dict, name: str, process: dict, beams: Beams, cal, cos_theta_b: float):
    e_min, cos_max = physics["e_gamma_min_gev"], physics["cos_theta_max"]
    if name == "chi_pair_gamma":
        m, eps, spin = physics["mass_gev"], physics["epsilon"], physics["spin"]
        return ChiChiGamma(m, eps, spin, e_gamma_min_gev=e_min, cos_theta_max=cos_max)
    if name == "nunu_gamma":
        return NuNuGamma(e_gamma_min_gev=e_min, cos_theta_max=cos_max, z_propagator=bool(process.get("z_propagator")))
    if name == "gg":  # e+e- -> gamma gamma, the partner lost (outside the acceptance or missed)
        return TwoPhoton(e_min, cos_max, photon_loss=float(process.get("photon_loss", 0.0)))
    # beam-escape processes: tagged photon inside the acceptance, the rest along the beams
    lo, hi = acceptance_edges_cm(cal, cos_theta_b, beams)
    if name == "ggg":
        e_escape = parse_quantity(process["e_escape_min"], "energy") if "e_escape_min" in process else None
        kw = {"e_escape_min_gev": e_escape} if e_escape is not None else {}
        if physics.get("gbg") == "computed":  # gaps, and e+e- -> gamma gamma with the partner lost
            kw |= {"gaps_cm": gap_edges_cm(cal, beams), "two_body": True}
        return ThreePhoton(e_min, lo, hi, (lo, hi), **kw)
    return EEGamma(e_min, lo, hi, (lo, hi))


def gap_edges_cm(calorimeter: ecl.Calorimeter, beams: Beams) -> tuple[tuple[float, float], ...]:
    """CM polar ranges [rad] of the calorimeter's non-instrumented gaps (``Calorimeter.gaps``, lab),
    exact for massless particles (L footnote 1); the gap background of ``analysis.gbg: computed``
    lets the escaping photons of ggg through them (docs/physics.md §8). e+e- gamma is not given
    gaps: a lepton there crosses the tracker (Belle II CDC 17-150 deg) and vetoes the event."""
    return tuple(
        (float(lab_to_cm_theta(g.theta_lo, beams.beta_z0)), float(lab_to_cm_theta(g.theta_hi, beams.beta_z0)))
        for g in calorimeter.gaps
    )


def _gap_image_cut(spec: CardSpec, calorimeter: ecl.Calorimeter) -> dict:
    """Selection arguments of ``analysis.gap_image_cut`` (the margin angle; absent = no cut): the
    calorimeter's lab gaps and the margin in rad (docs/physics.md §8)."""
    if "gap_image_cut" not in spec.data["analysis"]:
        return {}
    margin = spec.quantity("analysis.gap_image_cut", "angle")
    return {"gap_images": tuple((g.theta_lo, g.theta_hi) for g in calorimeter.gaps), "gap_image_margin_rad": margin}


def _monophoton_card(spec: CardSpec) -> MonophotonCard:
    data = spec.data
    experiment = data["experiment"]
    settings = data["detector"]["ecl"]
    overrides = {"efficiency": float(settings["efficiency"])} if "efficiency" in settings else {}
    if "gap_veto_efficiency" in settings:
        overrides["gap_veto_efficiency"] = float(settings["gap_veto_efficiency"])
    calorimeter = ecl.PRESETS[settings["preset"]](**overrides)
    analysis = data["analysis"]
    cos_theta_b = float(analysis["cos_theta_b"])
    regions = _regions(spec) if experiment == "belle2" else {}
    selection = MonophotonSelection(
        experiment,
        cos_theta_b,
        (calorimeter.theta_min, calorimeter.theta_max),
        regions,
        bbg_margin_sigma=float(analysis.get("bbg_margin_sigma", 0.0)),
        resolution=calorimeter.resolution,
        **_gap_image_cut(spec, calorimeter),
    )
    mcp = data["mcp"]
    physics = {
        "mass_gev": spec.quantity("mcp.mass", "energy"),
        "epsilon": float(mcp["epsilon"]),
        "spin": mcp["spin"],
        "e_gamma_min_gev": spec.quantity("generation.e_gamma_min", "energy"),
        "cos_theta_max": float(data["generation"]["cos_theta_max"]),
    }
    gbg = str(analysis.get("gbg", "rescaled"))
    datasets = []
    for i, point in enumerate(data["beams"]["points"]):
        beams = _beams(spec, f"beams.points.{i}")
        lumi = spec.quantity(f"beams.points.{i}.luminosity", "luminosity")
        for j, process in enumerate(data["processes"]):
            name = process["name"]
            try:
                inner = _monophoton_process({**physics, "gbg": gbg}, name, process, beams, calorimeter, cos_theta_b)
            except ValueError as exc:
                raise CardError(
                    f"Invalid card {spec.source}: process '{name}' at point '{point['label']}': {exc}.",
                    source=spec.source,
                    field=f"processes.{j}",
                ) from None
            label = f"{point['label']}_{name}"
            process_obj = BeamProcess(beams, inner, name)
            datasets.append(Dataset(label, point["label"], name, process_obj, lumi, Streams.dataset(i, j), (i, j)))
    run, output = _options(spec)
    return MonophotonCard(
        spec,
        experiment,
        calorimeter,
        selection,
        tuple(datasets),
        gbg_events=dict(analysis["gbg_events"]),
        gbg=gbg,
        f_ng=dict(analysis["f_ng"]),
        chain_points=dict(analysis["chain_points"]),
        run=run,
        output=output,
        scan=_scan(spec),
        **physics,
    )


def build_card(spec: CardSpec) -> ChiPairCard | MonophotonCard:
    """The typed card of a checked card (one builder per kind), after the bounds of
    :func:`mcpgen.cardlimits.check_semantics`."""
    check_semantics(spec)
    return _monophoton_card(spec) if spec.kind == "monophoton" else _chi_pair_card(spec)


def card_from_dict(raw: Any, source: str = "<card>", overrides=()) -> ChiPairCard | MonophotonCard:
    """Check and build a card given as a dict (as read from YAML), with ``--set`` overrides."""
    return build_card(check_card(raw, source, overrides))


def load_card(card: str | Path, overrides=()) -> ChiPairCard | MonophotonCard:
    """Read, check and build the card at path ``card`` or the bundled card of that name
    (``overrides``: 'a.b=value' strings)."""
    return build_card(read_card(card, overrides))
