"""Run cards: YAML -> defaults -> JSON Schema (shipped, versioned) -> semantic checks.

A bad card raises :class:`CardError` with a one-paragraph message naming the card file, the
field path, the offending value and what is allowed; the CLI prints it without a traceback.
Quantities carry their units in the card (``"3.0 GeV"``, ``"2.1 MeV"``, ``"100 fb^-1"``) and are
converted to GeV / pb^-1 on load (:mod:`mcpgen.units`).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import yaml

from detsim.geometry import BeamPipe, PaperCriteria, Tracker
from detsim.materials import gas_mixture, material
from generator.beams import Beams
from generator.chipair import ChiPair

from .units import parse_quantity

__all__ = ["CARD_VERSION", "Card", "CardError", "load_card", "card_from_dict", "schema"]

CARD_VERSION = 1

#: Values used where a card is silent (documented in docs/cards.md).
DEFAULTS: dict[str, Any] = {
    "name": "",
    "beams": {"spread": {"model": "none"}},
    "mcp": {"spin": "dirac"},
    "isr": {"kernel": "kuraev_fadin", "x_max": "kinematic"},
    "detector": {},
    "run": {
        "seed": None,
        "n_events": 100_000,
        "chunk_size": 100_000,
        "workers": 1,
        "unweighted": False,
        "pilot_events": 65_536,
    },
    "output": {"dir": "out", "compression": "lz4:1"},
}

#: Beam-energy reach used by the threshold check: sqrt(s0) + REACH_SIGMAS x spread.
REACH_SIGMAS = 5.0


class _CardLoader(yaml.SafeLoader):
    """YAML 1.2-style scalars: ``1e-3`` is a float and ``off``/``yes`` stay strings.

    PyYAML follows YAML 1.1, where ``1e-3`` is a string and ``off`` is false -- both surprise
    physicists writing cards (``epsilon: 1e-3``, ``kernel: off``).
    """


_CardLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CardLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CardLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str):
    """Parse card YAML with :class:`_CardLoader` rules."""
    return yaml.load(text, Loader=_CardLoader)  # noqa: S506 - a SafeLoader subclass


class CardError(ValueError):
    """A card (or a --set override) is invalid; the message is meant for the user."""


def schema(version: int = CARD_VERSION) -> dict:
    """The JSON Schema of card ``version`` shipped in ``mcpgen/schema``."""
    text = resources.files("mcpgen").joinpath(f"schema/card-v{version}.json").read_text()
    return json.loads(text)


@dataclass
class Card:
    """A validated card: ``data`` holds the resolved YAML (defaults filled in)."""

    data: dict
    source: str = "<card>"
    luminosity_pb: float = 0.0
    beams: Beams | None = None
    process: ChiPair | None = None
    tracker: Tracker | None = None
    extras: dict = field(default_factory=dict)

    @property
    def run(self) -> dict:
        return self.data["run"]

    @property
    def output(self) -> dict:
        return self.data["output"]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.data, sort_keys=False)


def _merge_defaults(data: Any, defaults: Any) -> Any:
    if not isinstance(data, dict) or not isinstance(defaults, dict):
        return data
    merged = copy.deepcopy(defaults)
    for key, value in data.items():
        merged[key] = _merge_defaults(value, defaults.get(key)) if key in defaults else value
    return merged


def _path(parts) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    """What is allowed, in words, for one schema violation."""
    sch = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "required":
        return "is missing (required)"
    if kind == "additionalProperties":
        allowed = ", ".join(sorted(sch.get("properties", {}))) or "none yet"
        extra = sorted(set(error.instance) - set(sch.get("properties", {})))
        return f"has unknown field(s) {', '.join(extra)}; allowed fields: {allowed}"
    if kind == "enum":
        return "is not allowed; allowed values: " + ", ".join(map(str, error.validator_value))
    if kind == "const":
        return f"is not allowed; {sch.get('description', f'must be {error.validator_value!r}')}"
    if kind == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        hint = f": {sch['description']}" if "description" in sch else ""
        return f"has the wrong type ({type(error.instance).__name__}); expected {wanted}{hint}"
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        text = f"is out of range; must be {op[kind]} {error.validator_value}"
        return text + (f" ({sch['description']})" if "description" in sch else "")
    if "description" in sch:
        return f"is not allowed; expected {sch['description']}"
    return f"is not allowed ({error.message})"


def _error_text(error: jsonschema.ValidationError) -> str:
    parts = list(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        parts.append(missing)
        return f"field '{_path(parts)}' {_describe(error)}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        extra = sorted(set(error.instance) - set(known))
        where = _path(parts + [extra[0]])
        allowed = ", ".join(sorted(known)) or "none in this version"
        return (
            f"field '{where}' = {error.instance[extra[0]]!r} is not a known field; "
            f"allowed fields in '{_path(parts)}': {allowed}"
        )
    return f"field '{_path(parts)}' = {error.instance!r} {_describe(error)}"


def _validate_schema(data: dict, source: str) -> None:
    version = data.get("version") if isinstance(data, dict) else None
    if version != CARD_VERSION:
        raise CardError(
            f"Invalid card {source}: field 'version' = {version!r} is not supported; "
            f"this mcpgen reads 'version: {CARD_VERSION}'."
        )
    validator = jsonschema.Draft202012Validator(schema(CARD_VERSION))
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        lines = "; ".join(_error_text(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise CardError(f"Invalid card {source}: {lines}{more}.")


def _quantity(data: dict, path: str, dimension: str, source: str) -> float:
    node: Any = data
    for key in path.split("."):
        node = node[int(key)] if isinstance(node, list) else node[key]
    try:
        return parse_quantity(node, dimension)
    except ValueError as exc:  # the schema already checked the form; keep a clear message
        raise CardError(f"Invalid card {source}: field '{path}' = {node!r}: {exc}.") from None


def _semantic_error(source: str, path: str, value: Any, why: str) -> CardError:
    return CardError(f"Invalid card {source}: field '{path}' = {value!r}: {why}.")


def _build_beams(data: dict, source: str) -> Beams:
    b = data["beams"]
    spread = b["spread"]
    model = spread["model"]
    if "sqrt_s" in b:
        e1 = e2 = _quantity(data, "beams.sqrt_s", "energy", source) / 2.0
    else:
        e1 = _quantity(data, "beams.electron_energy", "energy", source)
        e2 = _quantity(data, "beams.positron_energy", "energy", source)
    keys = {
        "gaussian_sqrt_s": {"sigma_sqrt_s"},
        "gaussian_per_beam": {"relative", "sigma_electron", "sigma_positron"},
        "none": set(),
    }
    stray = sorted(set(spread) - {"model"} - keys[model])
    if stray:
        raise _semantic_error(
            source,
            f"beams.spread.{stray[0]}",
            spread[stray[0]],
            f"does not apply to spread model '{model}' (it uses: {', '.join(sorted(keys[model])) or 'nothing'})",
        )
    if model == "gaussian_sqrt_s":
        if "sigma_sqrt_s" not in spread:
            raise _semantic_error(
                source,
                "beams.spread.sigma_sqrt_s",
                None,
                "is required by spread model 'gaussian_sqrt_s' (e.g. '2.1 MeV')",
            )
        sigma = _quantity(data, "beams.spread.sigma_sqrt_s", "energy", source)
        return Beams(e1, e2, model, sigma_sqrt_s_gev=sigma)
    if model == "gaussian_per_beam":
        if "relative" in spread:
            if "sigma_electron" in spread or "sigma_positron" in spread:
                raise _semantic_error(
                    source,
                    "beams.spread.relative",
                    spread["relative"],
                    "give either 'relative' or 'sigma_electron' and 'sigma_positron', not both",
                )
            s1, s2 = spread["relative"] * e1, spread["relative"] * e2
        elif "sigma_electron" in spread and "sigma_positron" in spread:
            s1 = _quantity(data, "beams.spread.sigma_electron", "energy", source)
            s2 = _quantity(data, "beams.spread.sigma_positron", "energy", source)
        else:
            raise _semantic_error(
                source,
                "beams.spread",
                spread,
                "model 'gaussian_per_beam' needs 'relative' or both 'sigma_electron' and 'sigma_positron'",
            )
        return Beams(e1, e2, model, sigma_electron_gev=s1, sigma_positron_gev=s2)
    return Beams(e1, e2, "none")


def _build_process(data: dict, beams: Beams, source: str) -> ChiPair:
    mass = _quantity(data, "mcp.mass", "energy", source)
    reach = beams.reach_gev(REACH_SIGMAS)
    if 2.0 * mass >= reach:
        raise _semantic_error(
            source,
            "mcp.mass",
            data["mcp"]["mass"],
            f"the pair threshold 2m = {2 * mass:.6g} GeV is above the beam energy reach "
            f"sqrt(s0) + {REACH_SIGMAS:g} sigma = {reach:.6g} GeV, so no pairs can be produced; "
            f"allowed: m < {reach / 2:.6g} GeV",
        )
    isr = data["isr"]
    x_max = isr["x_max"]
    kwargs: dict[str, Any] = {}
    if isinstance(x_max, str) and x_max != "kinematic":
        kwargs["x_max_energy_gev"] = _quantity(data, "isr.x_max", "energy", source)
    elif not isinstance(x_max, str):
        kwargs["x_max"] = float(x_max)
    return ChiPair(beams, mass, float(data["mcp"]["epsilon"]), data["mcp"]["spin"], isr["kernel"], **kwargs)


def card_from_dict(raw: Any, source: str = "<card>", overrides=()) -> Card:
    """Validate a card given as a dict (as read from YAML), apply ``--set`` overrides, build it."""
    if not isinstance(raw, dict):
        raise CardError(
            f"Invalid card {source}: the top level must be a mapping of sections, got {type(raw).__name__}."
        )
    data = copy.deepcopy(raw)
    for item in overrides:
        _apply_override(data, item, source)
    data = _merge_defaults(data, DEFAULTS)
    _validate_schema(data, source)
    if "processes" in data or "experiment" in data:
        return _monophoton_card(data, source)
    for section, key in (("process", "name"), ("analysis", "luminosity")):
        if key not in data.get(section, {}):
            raise CardError(f"Invalid card {source}: field '{section}.{key}' is missing (required).")
    if "points" in data["beams"]:
        raise _semantic_error(source, "beams.points", "[...]", "energy points are for monophoton cards ('processes')")
    beams = _build_beams(data, source)
    process = _build_process(data, beams, source)
    luminosity = _quantity(data, "analysis.luminosity", "luminosity", source)
    if luminosity <= 0:
        raise _semantic_error(source, "analysis.luminosity", data["analysis"]["luminosity"], "must be positive")
    tracker = _build_tracker(data, source)
    return Card(data=data, source=source, luminosity_pb=luminosity, beams=beams, process=process, tracker=tracker)


#: Defaults inside ``detector`` when a tracker is given (documented in docs/cards.md).
TRACKER_DEFAULTS = {
    "pressure_atm": 1.0,
    "resolution_rphi": "130 um",
    "resolution_z": "2 mm",
    "noise_occupancy": 0.0,
    "threshold_electrons": 1,
    "delta_t_min": "1 keV",
    "energy_loss": "bethe",
}
FINDER_DEFAULTS = {"tolerance_sigmas": 3.0, "min_hits": 4, "circle_min_radius": "3 m", "random_trigger_events": 100_000}
PAPER_DEFAULTS = {
    "i_min": "25 eV/cm",
    "l_min": "10 cm",
    "t_min": "1 keV",
    "n_delta": 2,
    "track_length": "1 m",
    "dedx_model": "bethe_frozen",
}


def _monophoton_card(data: dict, source: str) -> Card:
    """A monophoton card: experiment preset, energy points, several processes."""
    from .monophoton import build_monophoton

    for key in ("experiment", "processes"):
        if key not in data:
            raise CardError(f"Invalid card {source}: field '{key}' is missing (required for monophoton cards).")
    if "points" not in data["beams"]:
        raise _semantic_error(source, "beams", data["beams"], "monophoton cards list energy points in 'beams.points'")
    if "process" in data:
        raise _semantic_error(source, "process", data["process"], "a monophoton card uses 'processes' (a list)")
    try:
        setup = build_monophoton(data, source)
    except ValueError as exc:
        raise CardError(f"Invalid card {source}: {exc}.") from None
    return Card(data=data, source=source, extras={"monophoton": setup})


def _build_tracker(data: dict, source: str) -> Tracker | None:
    det = data["detector"]
    if "tracker" not in det:
        return None
    if "field" not in det:
        raise _semantic_error(source, "detector.field", None, "is required with a tracker (e.g. '1.5 T')")
    det["tracker"] = {**TRACKER_DEFAULTS, **det["tracker"]}
    det["finder"] = {**FINDER_DEFAULTS, **det.get("finder", {})}
    det["paper"] = {**PAPER_DEFAULTS, **det.get("paper", {})}
    det.setdefault("beam_pipe", None)
    t = det["tracker"]

    def q(path, dim):
        return _quantity(data, f"detector.{path}", dim, source)

    try:
        gas = gas_mixture(dict(t["gas"]), by="volume", pressure_atm=t["pressure_atm"])
    except ValueError as exc:
        raise _semantic_error(source, "detector.tracker.gas", t["gas"], str(exc)) from None
    pipe = None
    if det["beam_pipe"] is not None:
        try:
            pipe_material = material(det["beam_pipe"]["material"])
        except ValueError as exc:
            raise _semantic_error(
                source, "detector.beam_pipe.material", det["beam_pipe"]["material"], str(exc)
            ) from None
        pipe = BeamPipe(pipe_material, q("beam_pipe.radius", "length"), q("beam_pipe.thickness", "length"))
    r_in, r_out = q("tracker.inner_radius", "length"), q("tracker.outer_radius", "length")
    if not r_out > r_in:
        raise _semantic_error(source, "detector.tracker.outer_radius", t["outer_radius"], "must exceed inner_radius")
    if pipe is not None and pipe.radius_cm + pipe.thickness_cm > r_in:
        raise _semantic_error(
            source,
            "detector.beam_pipe.radius",
            det["beam_pipe"]["radius"],
            "the pipe (radius + thickness) must lie inside the tracker's inner radius",
        )
    if ("layers" in t) == ("layer_radii" in t):
        raise _semantic_error(
            source, "detector.tracker", "layers/layer_radii", "give exactly one of 'layers' or 'layer_radii'"
        )
    if "layers" in t:
        edges = np.linspace(r_in, r_out, t["layers"] + 1)
        radii = tuple(0.5 * (edges[1:] + edges[:-1]))
    else:
        radii = tuple(q(f"tracker.layer_radii.{i}", "length") for i in range(len(t["layer_radii"])))
        if any(b <= a for a, b in zip(radii, radii[1:], strict=False)) or radii[0] < r_in or radii[-1] > r_out:
            raise _semantic_error(
                source,
                "detector.tracker.layer_radii",
                t["layer_radii"],
                "must increase and lie between inner_radius and outer_radius",
            )
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
        beam_pipe=pipe,
        finder_tolerance_sigmas=float(f["tolerance_sigmas"]),
        finder_min_hits=int(f["min_hits"]),
        circle_min_radius_cm=q("finder.circle_min_radius", "length"),
        paper=paper,
    )


def _apply_override(data: dict, item: str, source: str) -> None:
    """Apply ``path.to.field=value`` (value parsed as YAML) to ``data`` in place."""
    if "=" not in item:
        raise CardError(
            f"Invalid --set '{item}' for card {source}: expected path.to.field=value, e.g. mcp.epsilon=1e-3."
        )
    path, text = item.split("=", 1)
    keys = [k for k in path.strip().split(".") if k]
    if not keys:
        raise CardError(f"Invalid --set '{item}' for card {source}: the field path is empty.")
    try:
        value = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise CardError(f"Invalid --set '{item}' for card {source}: the value is not valid YAML ({exc}).") from None
    node = data
    for depth, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise CardError(f"Invalid --set '{item}' for card {source}: field '{where}' = {child!r} is not a section.")
        node = child
    node[keys[-1]] = value


def load_card(path: str | Path, overrides=()) -> Card:
    """Read, validate and build the card at ``path`` (``overrides``: 'a.b=value' strings)."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CardError(f"Card {source} not found.") from None
    except OSError as exc:
        raise CardError(f"Card {source} cannot be read: {exc.strerror}.") from None
    try:
        raw = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CardError(f"Invalid card {source}: not valid YAML{where} ({getattr(exc, 'problem', exc)}).") from None
    return card_from_dict(raw, source, overrides)
