"""What a checked card may ask for: the semantic limits that keep every accepted card finite,
physical and cheap enough to run (docs/cards.md, "Bounds"); :mod:`mcpgen.build` applies
:func:`check_semantics` before it builds a card.

The limits of the YAML reader and of single values (aliases, nesting, duplicate keys, finite
numbers, bounded strings and quantities) are in :mod:`mcpgen.card`; here: sizes and resolutions
positive, grids increasing, processes unique, keys naming selection chains that exist, masses
below the pair threshold of every energy point, generation windows that are not kinematically
empty, costs (noise hits, cells, finder hits, local workers) bounded, names that are plain file
names. Messages never render a large value (:func:`mcpgen.card.short`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from analysis.selections import MonophotonSelection

from .card import short
from .options import max_local_workers

__all__ = [
    "MAX_CELLS_PER_LAYER",
    "MAX_EVENTS",
    "MAX_NOISE_HITS",
    "MIN_MASS_GEV",
    "NAME_PATTERN",
    "POSITIVE",
    "check_semantics",
]

#: Events of one run, one scan sample or a random trigger: 1e10 events are about a day at
#: 10^5 events/s on one core; more is a typo.
MAX_EVENTS = 10**10
#: Expected noise hits per event (occupancy x cells over all layers): the finder's cost grows
#: with their square.
MAX_NOISE_HITS = 2_000
#: Cells of one layer (2 pi r / cell_size): 1e5 cells of a 1 m layer are 63 um wide.
MAX_CELLS_PER_LAYER = 100_000


# --- semantics -------------------------------------------------------------------------------

#: Quantities that must be > 0 where they appear (dotted paths; ``*`` for a list index).
POSITIVE = (
    "beams.sqrt_s",
    "beams.electron_energy",
    "beams.positron_energy",
    "beams.points.*.sqrt_s",
    "beams.points.*.electron_energy",
    "beams.points.*.positron_energy",
    "beams.spread.sigma_sqrt_s",
    "beams.spread.sigma_electron",
    "beams.spread.sigma_positron",
    "mcp.mass",
    "detector.field",
    "detector.tracker.inner_radius",
    "detector.tracker.outer_radius",
    "detector.tracker.half_length",
    "detector.tracker.cell_size",
    "detector.tracker.resolution_rphi",
    "detector.tracker.resolution_z",
    "detector.tracker.delta_t_min",
    "detector.finder.circle_min_radius",
    "detector.paper.i_min",
    "detector.paper.l_min",
    "detector.paper.t_min",
    "detector.paper.track_length",
    "scan.points.*.sqrt_s",
    "generation.e_gamma_min",
)

#: The lightest MCP a card may ask for [GeV]: below 1 keV the generators' m^2/s terms underflow
#: against 1 in double precision at any collider energy (and no stopping table reaches there).
MIN_MASS_GEV = 1e-6


def _expand(data: dict, pattern: str) -> list[tuple[str, Any]]:
    nodes = [("", data)]
    for part in pattern.split("."):
        nxt = []
        for where, node in nodes:
            if part == "*" and isinstance(node, list):
                nxt.extend((f"{where}.{i}".lstrip("."), v) for i, v in enumerate(node))
            elif isinstance(node, dict) and part in node:
                nxt.append((f"{where}.{part}".lstrip("."), node[part]))
        nodes = nxt
    return nodes


def _sqrt_s_points(spec) -> list[tuple[str, float]]:
    """(field, nominal sqrt(s) [GeV]) of every energy point of the card (head-on beams)."""
    out = []
    beams = spec.data.get("beams", {})
    entries = [("beams", beams)] + [(f"beams.points.{i}", p) for i, p in enumerate(beams.get("points", []) or [])]
    for where, node in entries:
        if not isinstance(node, dict):
            continue
        if "sqrt_s" in node:
            out.append((f"{where}.sqrt_s", spec.quantity(f"{where}.sqrt_s", "energy")))
        elif "electron_energy" in node and "positron_energy" in node:
            e1 = spec.quantity(f"{where}.electron_energy", "energy")
            e2 = spec.quantity(f"{where}.positron_energy", "energy")
            out.append((f"{where}.electron_energy", 2.0 * math.sqrt(e1 * e2)))
    return out


def _check_positive(spec) -> None:
    for pattern in POSITIVE:
        for where, value in _expand(spec.data, pattern):
            if isinstance(value, str) and parse_quantity_or_none(value) is not None:
                if not parse_quantity_or_none(value) > 0:
                    raise spec.error(where, "must be positive (a size, resolution or energy of zero means nothing)")


def parse_quantity_or_none(text: str) -> float | None:
    """The number of a quantity string (its own unit), or None if it is not one."""
    match = _QUANTITY_RE.match(text)
    return None if match is None else float(match["value"])


def _check_grids(spec) -> None:
    scan = spec.data.get("scan")
    if not isinstance(scan, dict):
        return
    eps = scan.get("epsilon", {})
    if isinstance(eps, dict) and "from" in eps and "to" in eps and eps.get("n", 2) > 1:
        if not eps["from"] < eps["to"]:
            raise spec.error("scan.epsilon.to", f"must exceed scan.epsilon.from = {eps['from']!r} (grids increase)")
    mass = scan.get("mass", {})
    if isinstance(mass, dict) and "from" in mass and "to" in mass and mass.get("n", 2) > 1:
        lo, hi = spec.quantity("scan.mass.from", "energy"), spec.quantity("scan.mass.to", "energy")
        if not lo < hi:
            raise spec.error("scan.mass.to", f"must exceed scan.mass.from = {mass['from']!r} (grids increase)")


def _check_tracker_cost(spec) -> None:
    det = spec.data.get("detector", {})
    t = det.get("tracker") if isinstance(det, dict) else None
    if not isinstance(t, dict):
        return
    r_in = spec.quantity("detector.tracker.inner_radius", "length")
    r_out = spec.quantity("detector.tracker.outer_radius", "length")
    if "layer_radii" in t:
        radii = [spec.quantity(f"detector.tracker.layer_radii.{i}", "length") for i in range(len(t["layer_radii"]))]
    elif "layers" in t:
        n = int(t["layers"])
        radii = [r_in + (r_out - r_in) * (i + 0.5) / n for i in range(n)]
    else:
        return
    n_layers = len(radii)
    if "cell_size" in t:
        cell = spec.quantity("detector.tracker.cell_size", "length")
        cells = [2 * math.pi * r / cell for r in radii]
        if max(cells) > MAX_CELLS_PER_LAYER:
            raise spec.error(
                "detector.tracker.cell_size",
                f"gives {max(cells):.3g} cells in a layer; at most {MAX_CELLS_PER_LAYER} (cost bound)",
            )
        noise = float(t.get("noise_occupancy", 0.0)) * sum(cells)
        if noise > MAX_NOISE_HITS:
            raise spec.error(
                "detector.tracker.noise_occupancy",
                f"gives {noise:.3g} noise hits per event; at most {MAX_NOISE_HITS} (cost bound)",
            )
    finder = det.get("finder", {})
    if isinstance(finder, dict) and "min_hits" in finder and finder["min_hits"] > n_layers:
        raise spec.error("detector.finder.min_hits", f"exceeds the tracker's {n_layers} layers")
    per_ray = finder.get("min_hits_per_ray") if isinstance(finder, dict) else None
    if isinstance(per_ray, int) and per_ray > n_layers:
        raise spec.error("detector.finder.min_hits_per_ray", f"exceeds the tracker's {n_layers} layers")


def _check_monophoton(spec) -> None:
    names = [p.get("name") for p in spec.data.get("processes", []) if isinstance(p, dict)]
    repeated = sorted({n for n in names if names.count(n) > 1}, key=str)
    if repeated:
        raise spec.error("processes", f"process {short(repeated[0])} is listed twice; each process once", "[...]")
    chains = MonophotonSelection(spec.data["experiment"]).chain_names
    analysis = spec.data.get("analysis", {})
    for section in ("gbg_events", "f_ng", "chain_points"):
        for key in analysis.get(section, {}) or {}:
            if key not in chains:
                raise spec.error(
                    f"analysis.{section}.{key}",
                    f"is not a selection chain of experiment '{spec.data['experiment']}' (chains: {', '.join(chains)})",
                )
    points = {p.get("label") for p in spec.data["beams"].get("points", [])}
    for chain, labels in (analysis.get("chain_points", {}) or {}).items():
        for i, label in enumerate(labels if isinstance(labels, list) else []):
            if label not in points:
                raise spec.error(f"analysis.chain_points.{chain}.{i}", "is not the label of an energy point")
    if "chi_pair_gamma" in names:
        mass = spec.quantity("mcp.mass", "energy")
        e_min = spec.quantity("generation.e_gamma_min", "energy")
        for where, sqrt_s in _sqrt_s_points(spec):
            if not 2 * mass < sqrt_s:
                threshold = f"the pair threshold sqrt(s)/2 = {sqrt_s / 2:.6g} GeV of {where}"
                raise spec.error("mcp.mass", f"is at or above {threshold}")
            e_max = (sqrt_s**2 - 4 * mass**2) / (2 * sqrt_s)  # photon recoiling against the pair at rest
            if not e_min < e_max:
                raise spec.error(
                    "generation.e_gamma_min",
                    f"leaves no photon energy: the largest at {where} is {e_max:.6g} GeV (pair threshold)",
                )


_QUANTITY_RE = re.compile(r"^\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>\S+)\s*$")

#: Card names and energy-point labels become file names: one plain name each.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


def _check_names(spec) -> None:
    name = spec.data.get("name")
    if name and not NAME_PATTERN.match(str(name)):
        raise spec.error("name", "must be a plain file name: letters, digits, _ . + -, at most 64, no path")
    for i, point in enumerate(spec.data.get("beams", {}).get("points", []) or []):
        label = point.get("label") if isinstance(point, dict) else None
        if label is not None and not NAME_PATTERN.match(str(label)):
            raise spec.error(
                f"beams.points.{i}.label", "must be a plain file name: letters, digits, _ . + -, at most 64, no path"
            )
    run = spec.data.get("run", {})
    workers = run.get("workers", 1)
    if run.get("executor", "local") == "local" and isinstance(workers, int) and workers > max_local_workers():
        raise spec.error("run.workers", f"is more than this machine's {max_local_workers()} local workers")


def _check_hits(spec) -> None:
    hits = spec.data.get("output", {}).get("hits", "all")
    det = spec.data.get("detector", {})
    tracker = det.get("tracker") if spec.kind != "monophoton" and isinstance(det, dict) else None
    if hits == "found" and not isinstance(tracker, dict):
        raise spec.error(
            "output.hits", "'found' selects events by the tracker's finder: the card has no detector.tracker"
        )


def check_semantics(spec) -> None:
    """The checks of the module docstring that need the resolved card (a :class:`CardSpec`)."""
    _check_names(spec)
    _check_positive(spec)
    if spec.data.get("mcp") and "mass" in spec.data["mcp"]:
        if spec.quantity("mcp.mass", "energy") < MIN_MASS_GEV:
            raise spec.error("mcp.mass", f"must be at least {MIN_MASS_GEV * 1e9:g} eV")
    _check_grids(spec)
    _check_hits(spec)
    if spec.kind == "monophoton":
        _check_monophoton(spec)
    else:
        _check_tracker_cost(spec)
