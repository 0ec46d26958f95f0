"""Run cards: YAML -> defaults -> JSON Schema (shipped, versioned) -> semantic checks.

This module only reads and checks; :mod:`mcpgen.build` turns a checked card into physics objects.
A bad card raises :class:`~mcpgen.errors.CardError` with a one-paragraph message naming the card
file, the field path, the offending value and what is allowed; the CLI prints it without a
traceback. Quantities carry their units in the card (``"3.0 GeV"``, ``"2.1 MeV"``,
``"100 fb^-1"``) and are converted to GeV / cm / pb^-1 by :meth:`CardSpec.quantity`.

Two kinds of card share one schema with a discriminator: a card with ``processes`` (or
``experiment``) is a ``monophoton`` card, any other a ``chi_pair`` card. Every default lives in
:data:`DEFAULTS`. A card is named by a path or, for the cards shipped with mcpgen, by its name
(``sct_3gev``): see :func:`bundled_cards`.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import CardError
from .units import CANONICAL, DIMENSIONS, parse_quantity

__all__ = [
    "CARD_VERSION",
    "DEFAULTS",
    "KINDS",
    "CardSpec",
    "LimitedComposer",
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "MAX_SET_DEPTH",
    "MAX_STRING",
    "QUANTITY_LIMITS",
    "check_values",
    "short",
    "bundled_cards",
    "card_kind",
    "check_card",
    "parse_yaml",
    "read_card",
    "schema",
]

CARD_VERSION = 1
KINDS = ("chi_pair", "monophoton")
#: Size of a card file: the largest bundled card is a few kB.
MAX_CARD_BYTES = 1_000_000

#: Every value used where a card is silent (documented in docs/cards.md). ``common`` applies to
#: both kinds; ``tracker`` / ``finder`` / ``paper`` inside ``detector`` when a tracker is given;
#: ``scan`` when the card has a scan section. Two defaults follow other fields: a monophoton
#: card's ``generation.cos_theta_max`` is its ``analysis.cos_theta_b`` and ``detector.ecl.preset``
#: its ``experiment``. ``validate`` holds the sample sizes of ``mcpgen validate``.
DEFAULTS: dict[str, Any] = {
    "common": {
        "name": "",
        "beams": {"spread": {"model": "none"}},
        "mcp": {"spin": "dirac"},
        "run": {
            "seed": None,
            "n_events": 100_000,
            "chunk_size": 100_000,
            "workers": 1,
            "unweighted": False,
            "pilot_events": 65_536,
            "executor": "local",
            "scheduler": None,
        },
        "output": {
            "dir": "out",
            "compression": "lz4:1",
            "formats": ["root"],
            "event_weights": "unweighted",
            "hits": "all",
        },
    },
    "chi_pair": {
        "isr": {"kernel": "kuraev_fadin", "x_max": "kinematic"},
        "detector": {},
        "scan": {"events_per_mass": 20_000, "cl": 95, "workspaces": "all"},
    },
    "monophoton": {
        "generation": {"e_gamma_min": "25 MeV"},
        "analysis": {"cos_theta_b": 0.95, "gbg_events": {}, "f_ng": {}, "chain_points": {}},
        "detector": {"ecl": {}},
        "scan": {"events_per_mass": 20_000, "background_events": 200_000, "cl": 95, "workspaces": "all"},
    },
    "tracker": {
        "pressure_atm": 1.0,
        "resolution_rphi": "130 um",
        "resolution_z": "2 mm",
        "noise_occupancy": 0.0,
        "threshold_electrons": 1,
        "delta_t_min": "1 keV",
        "energy_loss": "bethe",
        "nuclear_stopping": False,
        "multiple_scattering": False,
        "time_window": None,
    },
    "finder": {
        "tolerance_sigmas": 3.0,
        "min_hits": 4,
        "circle_min_radius": "3 m",
        "random_trigger_events": 100_000,
        "min_hits_per_ray": 2,
        "ray_inner_radius": None,
    },
    "paper": {
        "i_min": "25 eV/cm",
        "l_min": "10 cm",
        "t_min": "1 keV",
        "n_delta": 2,
        "track_length": "1 m",
        "dedx_model": "bethe_frozen",
    },
    "validate": {"events": {"chi_pair": 200_000, "monophoton": 400_000}},
}

#: Width fields each beam-spread model uses.
SPREAD_FIELDS = {
    "none": set(),
    "gaussian_sqrt_s": {"sigma_sqrt_s"},
    "gaussian_per_beam": {"relative", "sigma_electron", "sigma_positron"},
}


# --- limits of the YAML reader and of the values (docs/cards.md, "Bounds") -------------------

#: Aliases (``*name``) a card may use: cards need none; a few are harmless, thousands are a bomb.
MAX_ALIASES = 64
#: Values of a card with its aliases expanded (the largest bundled card has a few hundred).
MAX_NODES = 100_000
#: Nesting depth of a card (the deepest bundled card nests 5 levels).
MAX_DEPTH = 24
#: Dotted components of a ``--set`` path.
MAX_SET_DEPTH = 12
#: Characters of any string in a card (names, labels, quantities).
MAX_STRING = 256
#: Digits of any integer in a card (|n| < 10**18 fits an int64).
MAX_INT_DIGITS = 18
#: Characters of a value shown in an error message.
MAX_SHOWN = 80
#: |value| allowed for a quantity, in the canonical unit of its dimension (GeV, cm, pb^-1, T,
#: g/cm3, eV/cm, 1/cm, rad, ns): beyond any e+e- collider (100 TeV), detector (1 km), luminosity
#: (10^6 ab^-1), magnet (100 T), ...
QUANTITY_LIMITS = {
    "energy": 1e5,
    "length": 1e5,
    "luminosity": 1e12,
    "field": 100.0,
    "density": 100.0,
    "energy_per_length": 1e12,
    "inverse_length": 1e8,
    "angle": 2 * math.pi,
    "time": 1e9,
}

_UNIT_DIMENSION = {unit: dim for dim, units in DIMENSIONS.items() for unit in units}
_QUANTITY_RE = re.compile(r"^\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>\S+)\s*$")


def short(value: Any) -> str:
    """``repr(value)`` cut to :data:`MAX_SHOWN` characters (never a huge rendering)."""
    if isinstance(value, (dict, list)) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)} entries>"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_INT_DIGITS:
        return f"<integer of about {int(value.bit_length() * 0.30103)} digits>"
    if isinstance(value, str) and len(value) > MAX_SHOWN:
        return repr(value[: MAX_SHOWN - 20]) + f"... ({len(value)} characters)"
    try:
        text = repr(value)
    except (RecursionError, ValueError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _error(source: str, path: str, value: Any, why: str) -> CardError:
    return CardError(f"Invalid card {source}: field '{path}' = {short(value)}: {why}.", source=source, field=path)


# --- YAML ------------------------------------------------------------------------------------


def _expanded_size(node, memo: dict) -> int:
    """Values of ``node`` once every alias is expanded (each shared node counted per use)."""
    key = id(node)
    if key not in memo:
        if isinstance(node, yaml.SequenceNode):
            memo[key] = 1 + sum(_expanded_size(child, memo) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            memo[key] = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
        else:
            memo[key] = 1
    return memo[key]


class LimitedComposer:
    """Mix-in for a PyYAML loader: bounded aliases and depth, no duplicate keys, no base 60.

    Put it before the loader class in the bases (``class L(LimitedComposer, yaml.SafeLoader)``).
    Violations raise :class:`yaml.YAMLError` subclasses with the line, which the card reader turns
    into a :class:`CardError`.
    """

    def compose_document(self):
        self._aliases = 0
        self._depth = 0
        node = super().compose_document()
        if node is not None and _expanded_size(node, {}) > MAX_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"expands to more than {MAX_NODES} values through its aliases", node.start_mark
            )
        return node

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases = getattr(self, "_aliases", 0) + 1
            if self._aliases > MAX_ALIASES:
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} aliases (a card needs none)", event.start_mark
                )
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = key_node.value
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None,
                            None,
                            f"duplicate key {short(key)} (first at line {seen[key] + 1})",
                            key_node.start_mark,
                        )
                    seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        text = str(node.value)
        if ":" in text:  # YAML 1.1 base 60 ("1:30" = 90): kept as the string written
            return text
        if len(text.replace("_", "").lstrip("+-0")) > MAX_INT_DIGITS:  # kept as written: the
            return text  # value checks then name the field (no 4300-digit conversion either)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        text = str(node.value)
        if ":" in text:
            return text
        return super().construct_yaml_float(node)


# --- values ----------------------------------------------------------------------------------


def _quantity_limit(text: str, path: str, source: str) -> None:
    match = _QUANTITY_RE.match(text)
    if match is None or match["unit"] not in _UNIT_DIMENSION:
        return
    dim = _UNIT_DIMENSION[match["unit"]]
    number = float(match["value"])
    if not math.isfinite(number):
        raise _error(source, path, text, "the number is not finite")
    value = parse_quantity(text, dim)
    limit = QUANTITY_LIMITS[dim]
    if not abs(value) <= limit:
        raise _error(source, path, text, f"out of range; |value| must be <= {limit:g} {CANONICAL[dim]}")


def check_values(data: Any, source: str, path: str = "") -> None:
    """Every key a string, every number finite (integers at most :data:`MAX_INT_DIGITS` digits),
    every string at most :data:`MAX_STRING` characters, quantities finite and within
    :data:`QUANTITY_LIMITS` (iterative, so no depth can overflow the stack)."""
    stack = [(path, data)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    raise _error(source, where or "<top level>", key, "keys must be names (strings)")
                if not key.isprintable() or not 0 < len(key) <= 64:
                    raise _error(source, where or "<top level>", key, "keys must be printable names of 1-64 characters")
                stack.append((f"{where}.{key}" if where else key, value))
        elif isinstance(node, list):
            stack.extend((f"{where}.{i}", v) for i, v in enumerate(node))
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int):
            if abs(node) >= 10**MAX_INT_DIGITS:
                raise _error(source, where, node, f"integers must have at most {MAX_INT_DIGITS} digits")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise _error(source, where, node, "numbers must be finite")
        elif isinstance(node, str):
            if len(node) > MAX_STRING:
                raise _error(source, where, node, f"strings must have at most {MAX_STRING} characters")
            _quantity_limit(node, where, source)
        else:
            raise _error(source, where, node, "not a number, string, list or section")


class _CardLoader(LimitedComposer, yaml.SafeLoader):
    """YAML 1.2-style scalars: ``1e-3`` is a float and ``off``/``yes`` stay strings.

    PyYAML follows YAML 1.1, where ``1e-3`` is a string and ``off`` is false -- both surprise
    physicists writing cards (``epsilon: 1e-3``, ``kernel: off``). Bounded aliases and nesting,
    no duplicate keys and no base-60 numbers (:class:`mcpgen.cardlimits.LimitedComposer`).
    """


_CardLoader.add_constructor("tag:yaml.org,2002:int", LimitedComposer.construct_yaml_int)
_CardLoader.add_constructor("tag:yaml.org,2002:float", LimitedComposer.construct_yaml_float)


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


def schema(version: int = CARD_VERSION) -> dict:
    """The JSON Schema of card ``version`` shipped in ``mcpgen/schema`` (both kinds)."""
    text = resources.files("mcpgen").joinpath(f"schema/card-v{version}.json").read_text()
    return json.loads(text)


def bundled_cards() -> dict[str, Path]:
    """The cards shipped with mcpgen (package data ``mcpgen.cards``), by name (file stem)."""
    try:
        folder = resources.files("mcpgen.cards")
    except ModuleNotFoundError:
        return {}
    return {Path(entry.name).stem: Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".yaml")}


@dataclass(frozen=True)
class CardSpec:
    """A checked card: ``kind``, the resolved ``data`` (defaults filled in) and its ``source``."""

    kind: str
    data: dict
    source: str = "<card>"

    def get(self, path: str, default: Any = None) -> Any:
        """The value at dotted ``path`` (list indices as numbers), or ``default``."""
        node: Any = self.data
        for key in path.split("."):
            if isinstance(node, list):
                if not key.isdigit():
                    return default
                index = int(key)
                if index >= len(node):
                    return default
                node = node[index]
            elif isinstance(node, dict) and key in node:
                node = node[key]
            else:
                return default
        return node

    def quantity(self, path: str, dimension: str) -> float:
        """The quantity at ``path`` in the canonical unit of ``dimension`` (GeV, cm, pb^-1, ...)."""
        value = self.get(path)
        try:
            return parse_quantity(value, dimension)
        except ValueError as exc:  # the schema checked the form; keep a clear message
            raise self.error(path, str(exc)) from None
        if not math.isfinite(value):
            raise self.error(path, "the number is not finite")

    def error(self, path: str, why: str, value: Any = ...) -> CardError:
        """A :class:`CardError` for the field at ``path`` (value looked up unless given)."""
        value = self.get(path) if value is ... else value
        return CardError(
            f"Invalid card {self.source}: field '{path}' = {short(value)}: {why}.",
            source=self.source,
            field=path,
            value=value,
        )

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.data, sort_keys=False)


def card_kind(data: dict) -> str:
    """``monophoton`` for a card with ``processes`` or ``experiment``, else ``chi_pair``."""
    return "monophoton" if ("processes" in data or "experiment" in data) else "chi_pair"


def _merge(data: Any, defaults: Any) -> Any:
    """``data`` with the missing entries of ``defaults`` filled in (recursively for mappings)."""
    if not isinstance(data, dict) or not isinstance(defaults, dict):
        return data
    merged = copy.deepcopy(defaults)
    for key, value in data.items():
        merged[key] = _merge(value, defaults.get(key)) if key in defaults else value
    return merged


def _with_defaults(data: dict, kind: str) -> dict:
    has_scan = "scan" in data
    data = _merge(_merge(data, DEFAULTS[kind]), DEFAULTS["common"])
    if not has_scan:
        del data["scan"]
    det = data.get("detector")
    if kind == "chi_pair" and isinstance(det, dict) and isinstance(det.get("tracker"), dict):
        det["tracker"] = _merge(det["tracker"], DEFAULTS["tracker"])
        det["finder"] = _merge(det.get("finder", {}), DEFAULTS["finder"])
        det["paper"] = _merge(det.get("paper", {}), DEFAULTS["paper"])
        det.setdefault("beam_pipe", None)
    if kind == "monophoton":
        generation, analysis = data.get("generation"), data.get("analysis")
        if isinstance(generation, dict) and isinstance(analysis, dict):
            generation.setdefault("cos_theta_max", analysis.get("cos_theta_b"))
        ecl = data["detector"].get("ecl") if isinstance(data.get("detector"), dict) else None
        if isinstance(ecl, dict) and isinstance(data.get("experiment"), str):
            ecl.setdefault("preset", data["experiment"])
    return data


def _path(parts) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    """What is allowed, in words, for one schema violation."""
    sch = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "required":
        return "is missing (required)"
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
        extra = sorted(set(error.instance) - set(known), key=str)
        where = _path(parts + [extra[0]])
        allowed = ", ".join(sorted(known)) or "none in this version"
        return (
            f"field '{where}' = {short(error.instance[extra[0]])} is not a known field; "
            f"allowed fields in '{_path(parts)}': {allowed}"
        )
    return f"field '{_path(parts)}' = {short(error.instance)} {_describe(error)}"


_STRICT = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda checker, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)


def _whole_numbers_as_int(data: dict) -> None:
    """Where the schema wants an integer, a whole float (``events_per_mass: 2e4``, ``layers:
    48.0``) becomes that integer in ``data``, so the code downstream never sees a float count."""
    for _ in range(64):
        fixed = False
        for error in _STRICT(schema(CARD_VERSION)).iter_errors(data):
            wanted = error.validator_value if error.validator == "type" else None
            wanted = wanted if isinstance(wanted, list) else [wanted]
            value = error.instance
            if "integer" in wanted and isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
                parts = list(error.absolute_path)
                node = data
                for part in parts[:-1]:
                    node = node[part]
                if parts:
                    node[parts[-1]] = int(value)
                    fixed = True
        if not fixed:
            return


def _validate_schema(data: dict, source: str) -> None:
    version = data.get("version")
    if version != CARD_VERSION:
        raise CardError(
            f"Invalid card {source}: field 'version' = {short(version)} is not supported; "
            f"this mcpgen reads 'version: {CARD_VERSION}'.",
            source=source,
            field="version",
            value=version,
        )
    validator = jsonschema.Draft202012Validator(schema(CARD_VERSION))
    _whole_numbers_as_int(data)
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        lines = "; ".join(_error_text(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        first = errors[0]
        raise CardError(
            f"Invalid card {source}: {lines}{more}.",
            source=source,
            field=_path(first.absolute_path),
            value=first.instance,
        )


# --- semantic checks (those that need no physics objects) ------------------------------------


def _check_spread(spec: CardSpec) -> None:
    spread = spec.data["beams"]["spread"]
    model = spread["model"]
    stray = sorted(set(spread) - {"model"} - SPREAD_FIELDS[model])
    if stray:
        uses = ", ".join(sorted(SPREAD_FIELDS[model])) or "nothing"
        raise spec.error(f"beams.spread.{stray[0]}", f"does not apply to spread model '{model}' (it uses: {uses})")
    preset = "machine" in spec.data["beams"]  # a machine preset supplies the widths it needs
    if model == "gaussian_sqrt_s" and "sigma_sqrt_s" not in spread and not preset:
        raise spec.error(
            "beams.spread.sigma_sqrt_s", "is required by spread model 'gaussian_sqrt_s' (e.g. '2.1 MeV')", None
        )
    if model == "gaussian_per_beam":
        if "relative" in spread and ("sigma_electron" in spread or "sigma_positron" in spread):
            raise spec.error(
                "beams.spread.relative", "give either 'relative' or 'sigma_electron' and 'sigma_positron', not both"
            )
        widths = "relative" in spread or ("sigma_electron" in spread and "sigma_positron" in spread)
        if not widths and not preset:
            raise spec.error(
                "beams.spread",
                "model 'gaussian_per_beam' needs 'relative', both 'sigma_electron' and 'sigma_positron', "
                "or a beams.machine preset",
            )


def _check_tracker(spec: CardSpec) -> None:
    det = spec.data["detector"]
    if "tracker" not in det:
        return
    if "field" not in det:
        raise spec.error("detector.field", "is required with a tracker (e.g. '1.5 T')", None)
    t = det["tracker"]
    r_in = spec.quantity("detector.tracker.inner_radius", "length")
    r_out = spec.quantity("detector.tracker.outer_radius", "length")
    if not r_out > r_in:
        raise spec.error("detector.tracker.outer_radius", "must exceed inner_radius")
    if det["beam_pipe"] is not None:
        pipe = spec.quantity("detector.beam_pipe.radius", "length") + spec.quantity(
            "detector.beam_pipe.thickness", "length"
        )
        if pipe > r_in:
            raise spec.error(
                "detector.beam_pipe.radius", "the pipe (radius + thickness) must lie inside the tracker's inner radius"
            )
    if ("layers" in t) == ("layer_radii" in t):
        raise spec.error("detector.tracker", "give exactly one of 'layers' or 'layer_radii'", "layers/layer_radii")
    if "layer_radii" in t:
        radii = [spec.quantity(f"detector.tracker.layer_radii.{i}", "length") for i in range(len(t["layer_radii"]))]
        if any(b <= a for a, b in zip(radii, radii[1:], strict=False)) or radii[0] < r_in or radii[-1] > r_out:
            raise spec.error(
                "detector.tracker.layer_radii", "must increase and lie between inner_radius and outer_radius"
            )


def _check_chi_pair(spec: CardSpec) -> None:
    _check_spread(spec)
    if spec.quantity("analysis.luminosity", "luminosity") <= 0:
        raise spec.error("analysis.luminosity", "must be positive")
    _check_tracker(spec)


def _check_monophoton(spec: CardSpec) -> None:
    _check_spread(spec)
    points = spec.data["beams"]["points"]
    labels = [p["label"] for p in points]
    if len(set(labels)) != len(labels):
        raise spec.error("beams.points", f"repeated labels {labels}; labels must be unique", "[...]")
    for i in range(len(points)):
        if spec.quantity(f"beams.points.{i}.luminosity", "luminosity") <= 0:
            raise spec.error(f"beams.points.{i}.luminosity", "must be positive")


def _check_run(spec: CardSpec) -> None:
    run = spec.data["run"]
    if run.get("scheduler") is not None and run.get("executor") != "dask":
        raise spec.error("run.scheduler", "a scheduler address needs run.executor: dask")


def _apply_override(data: dict, item: str, source: str) -> None:
    """Apply ``path.to.field=value`` (value parsed as YAML) to ``data`` in place."""
    if "=" not in item:
        raise CardError(
            f"Invalid --set '{item}' for card {source}: expected path.to.field=value, e.g. mcp.epsilon=1e-3.",
            source=source,
        )
    path, text = item.split("=", 1)
    keys = [k for k in path.strip().split(".") if k]
    shown = short(item)
    if not keys:
        raise CardError(f"Invalid --set {shown} for card {source}: the field path is empty.", source=source)
    if len(keys) > MAX_SET_DEPTH:
        raise CardError(
            f"Invalid --set {shown} for card {source}: the field path has {len(keys)} parts (at most {MAX_SET_DEPTH}).",
            source=source,
        )
    try:
        value = parse_yaml(text)
    except (yaml.YAMLError, ValueError) as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise CardError(
            f"Invalid --set {shown} for card {source}: the value is not valid YAML ({short(problem)}).",
            source=source,
        ) from None
    check_values(value, source, path.strip())
    node = data
    for depth, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise CardError(
                f"Invalid --set {shown} for card {source}: field '{where}' = {short(child)} is not a section.",
                source=source,
                field=where,
                value=child,
            )
        node = child
    node[keys[-1]] = value


def check_card(raw: Any, source: str = "<card>", overrides=()) -> CardSpec:
    """Apply ``--set`` overrides and defaults to a card read from YAML, validate it, check it."""
    if not isinstance(raw, dict):
        raise CardError(
            f"Invalid card {source}: the top level must be a mapping of sections, got {type(raw).__name__}.",
            source=source,
        )
    check_values(raw, source)
    data = copy.deepcopy(raw)
    for item in overrides:
        _apply_override(data, item, source)
    check_values(data, source)
    kind = card_kind(data)
    if kind == "monophoton" and "process" in data:
        raise CardError(
            f"Invalid card {source}: field 'process' = {short(data['process'])}: "
            "a monophoton card uses 'processes' (a list).",
            source=source,
            field="process",
            value=data["process"],
        )
    data = _with_defaults(data, kind)
    _validate_schema(data, source)
    spec = CardSpec(kind, data, source)
    (_check_monophoton if kind == "monophoton" else _check_chi_pair)(spec)
    _check_run(spec)
    return spec


def _locate(card: str | Path) -> Path:
    path = Path(card)
    if path.exists() or path.parent != Path(".") or path.suffix not in ("", ".yaml"):
        return path
    bundled = bundled_cards()
    return bundled.get(path.stem, path)


def read_card(card: str | Path, overrides=()) -> CardSpec:
    """Read and check the card at path ``card``, or the bundled card of that name (``sct_3gev``)."""
    path = _locate(card)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_CARD_BYTES:
            raise CardError(
                f"Invalid card {source}: {size} bytes; a card has at most {MAX_CARD_BYTES} bytes.", source=source
            )
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardError(
            f"Invalid card {source}: not UTF-8 text (byte {exc.start}: {exc.reason}); save the card as UTF-8.",
            source=source,
        ) from None
    except FileNotFoundError:
        names = ", ".join(sorted(bundled_cards()))
        hint = f" (bundled cards: {names})" if names else ""
        raise CardError(f"Card {card} not found{hint}.", source=str(card)) from None
    except OSError as exc:
        raise CardError(f"Card {source} cannot be read: {exc.strerror}.", source=source) from None
    try:
        raw = parse_yaml(text)
    except (yaml.YAMLError, ValueError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise CardError(f"Invalid card {source}: not valid YAML{where} ({short(problem)}).", source=source) from None
    return check_card(raw, source, overrides)
