"""Quantities with units in cards: ``"3.0 GeV"``, ``"2.1 MeV"``, ``"100 fb^-1"``, ``"1.5 T"``.

Units are multiplied on input and divided on output (the hepunits convention): a card string
is parsed into hepunits' internal system and converted to the unit a field documents
(:data:`CANONICAL`), e.g. energies in GeV, lengths in cm, luminosity in pb^-1.
"""

from __future__ import annotations

import re

import hepunits as u

__all__ = ["CANONICAL", "DIMENSIONS", "QuantityError", "parse_quantity", "format_quantity"]

#: Known units per dimension, as hepunits factors (internal system: MeV, mm, ns, ...).
DIMENSIONS: dict[str, dict[str, float]] = {
    "energy": {"eV": u.eV, "keV": u.keV, "MeV": u.MeV, "GeV": u.GeV, "TeV": u.TeV},
    "length": {"um": u.micrometer, "mm": u.mm, "cm": u.cm, "m": u.m},
    "luminosity": {
        "nb^-1": 1 / u.nb,
        "pb^-1": 1 / u.pb,
        "fb^-1": 1 / u.fb,
        "ab^-1": 1 / u.ab,
    },
    "field": {"T": u.tesla, "kG": 0.1 * u.tesla},
    "density": {"g/cm3": u.g / u.cm3, "mg/cm3": u.mg / u.cm3},
    "energy_per_length": {"eV/cm": u.eV / u.cm, "keV/cm": u.keV / u.cm, "MeV/cm": u.MeV / u.cm},
    "inverse_length": {"1/cm": 1 / u.cm, "1/mm": 1 / u.mm, "1/m": 1 / u.m},
    "angle": {"rad": u.rad, "mrad": u.mrad, "deg": u.degree},
    "time": {"ps": u.picosecond, "ns": u.ns, "us": u.microsecond, "ms": u.millisecond, "s": u.s},
}

#: The unit every dimension is converted to for use in the code.
CANONICAL = {
    "energy": "GeV",
    "length": "cm",
    "luminosity": "pb^-1",
    "field": "T",
    "density": "g/cm3",
    "energy_per_length": "eV/cm",
    "inverse_length": "1/cm",
    "angle": "rad",
    "time": "ns",
}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*(?P<value>{_NUMBER})\s*(?P<unit>\S+)\s*$")


class QuantityError(ValueError):
    """A string is not a number followed by a known unit of the expected dimension."""


def allowed_units(dimension: str) -> str:
    """Comma-separated list of units accepted for ``dimension``."""
    return ", ".join(DIMENSIONS[dimension])


def parse_quantity(text: str | float | int, dimension: str) -> float:
    """Parse ``"<number> <unit>"`` and return the value in the canonical unit of ``dimension``.

    >>> parse_quantity("2.1 MeV", "energy")
    0.0021
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise QuantityError(f"expected a string like '1.0 {CANONICAL[dimension]}'")
    if not isinstance(text, str):
        raise QuantityError(
            f"a bare number has no unit; write e.g. '{text} {CANONICAL[dimension]}' (units: {allowed_units(dimension)})"
        )
    match = _QUANTITY.match(text)
    if match is None:
        raise QuantityError(f"expected '<number> <unit>' with a unit of {dimension} ({allowed_units(dimension)})")
    unit = match["unit"]
    table = DIMENSIONS[dimension]
    if unit not in table:
        raise QuantityError(f"unit '{unit}' is not a unit of {dimension}; allowed: {allowed_units(dimension)}")
    return float(match["value"]) * table[unit] / table[CANONICAL[dimension]]


def format_quantity(value: float, dimension: str) -> str:
    """Inverse of :func:`parse_quantity` in the canonical unit: ``0.0021, 'energy'`` → ``'0.0021 GeV'``."""
    return f"{value:.12g} {CANONICAL[dimension]}"
