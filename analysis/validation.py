"""The validation table and its analytic references (pure: no sampling, no files).

Each :class:`Row`: quantity, source (paper equation), MC value with its error, analytic value,
pull and a verdict (``agrees`` for |pull| < 3; otherwise the relative difference is quoted, and
``approximation`` marks a paper formula that is known to be an approximation of what the MC
does). The analytic references are scipy quadratures of the formulas of docs/physics.md §1-5
written here independently of the samplers. The MC side is produced by :mod:`mcpgen.validate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import integrate

from generator.constants import ALPHA, GEV2_TO_PB, M_E_GEV

__all__ = [
    "Row",
    "format_table",
    "born_exact_pb",
    "born_g_eq1_pb",
    "isr_integral_pb",
    "spread_average",
    "w_radiator",
    "region_integral",
    "spectrum_band_fb",
]


@dataclass
class Row:
    quantity: str
    source: str
    mc: float
    mc_err: float
    analytic: float
    note: str = ""

    @property
    def pull(self) -> float:
        return (self.mc - self.analytic) / self.mc_err if self.mc_err > 0 else float("nan")

    @property
    def rel_diff(self) -> float:
        return self.mc / self.analytic - 1.0 if self.analytic else float("nan")

    @property
    def verdict(self) -> str:
        if self.mc == self.analytic or (math.isfinite(self.pull) and abs(self.pull) < 3):
            return "agrees"
        return f"differs by {100 * self.rel_diff:+.1f} %"

    def as_dict(self) -> dict:
        return {
            "quantity": self.quantity,
            "source": self.source,
            "mc": self.mc,
            "mc_err": self.mc_err,
            "analytic": self.analytic,
            "pull": self.pull,
            "rel_diff": self.rel_diff,
            "verdict": self.verdict,
            "note": self.note,
        }


def format_table(rows) -> str:
    head = f"{'quantity':<54}{'source':<16}{'MC':>13}{'+-':>10}{'analytic':>13}{'pull':>8}  verdict"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.quantity:<54}{r.source:<16}{r.mc:>13.5g}{r.mc_err:>10.2g}{r.analytic:>13.5g}"
            f"{r.pull:>8.2f}  {r.verdict}" + (f"  ({r.note})" if r.note else "")
        )
    return "\n".join(lines)


# --- independent formulas (docs/physics.md §1-3, G eqs. 1-3, 12) -----------------------------------


def born_exact_pb(s, m, eps):
    """Dirac Born cross section [pb] with the exact beta (docs/physics.md §1): (4 pi a^2 eps^2/3s) b (3 - b^2)/2."""
    if s <= 4 * m * m:
        return 0.0
    b = math.sqrt(1 - 4 * m * m / s)
    return 4 * math.pi * ALPHA**2 * eps**2 / (3 * s) * b * (3 - b * b) / 2 * GEV2_TO_PB


def born_g_eq1_pb(s, m, eps):
    """G eq. (1): 2 pi alpha^2 eps^2 beta / s with beta = sqrt(sqrt(s)/m - 2)."""
    x = math.sqrt(s) / m - 2
    return 2 * math.pi * ALPHA**2 * eps**2 * math.sqrt(x) / s * GEV2_TO_PB if x > 0 else 0.0


def isr_integral_pb(s, m, eps, kernel, x_lim_user=None):
    """int_0^x_lim F(x, s) sigma_Born(s(1 - x)) dx [pb] (G eq. 12; Kuraev-Fadin, docs/physics.md §3),
    x_lim = min(1 - 4m^2/s, ``x_lim_user``)."""
    x_lim = 1 - 4 * m * m / s
    if x_lim_user is not None:
        x_lim = min(x_lim, x_lim_user)
    if x_lim <= 0:
        return 0.0
    if kernel == "off":
        return born_exact_pb(s, m, eps)
    L = math.log(s / M_E_GEV**2)
    b = 2 * ALPHA / math.pi * (L - 1)

    def smooth(x):
        if kernel == "gorbunov":
            return b * (1 - x ** (1 - b) * (1 - x / 2))
        c = 1 + ALPHA / math.pi * (math.pi**2 / 3 - 0.5) + 0.75 * b - b * b / 24 * (L / 3 + 2 * math.pi**2 - 37 / 4)
        hard = -b * (1 - x / 2)
        if x > 0:
            hard += (
                b * b / 8 * (4 * (2 - x) * math.log(1 / x) + (1 + 3 * (1 - x) ** 2) / x * math.log(1 / (1 - x)) - 6 + x)
            )
        return b * c + hard * x ** (1 - b)

    v, _ = integrate.quad(
        lambda x: smooth(x) * born_exact_pb(s * (1 - x), m, eps),
        0,
        x_lim,
        weight="alg",
        wvar=(b - 1, 0),
        epsrel=1e-8,
        limit=200,
    )
    return v


def spread_average(fn, rs0, sigma, lo):
    """Gaussian average of ``fn(s)`` over sqrt(s) (mean rs0, width sigma [GeV]) above ``lo`` (G eq. 3)."""

    def integrand(rs):
        return math.exp(-0.5 * ((rs - rs0) / sigma) ** 2) / (math.sqrt(2 * math.pi) * sigma) * fn(rs * rs)

    a, b = max(lo, rs0 - 9 * sigma), rs0 + 9 * sigma
    v, _ = integrate.quad(integrand, a, b, epsrel=1e-8, limit=400, points=[rs0] if a < rs0 < b else None)
    return v


# --- monophoton references (docs/physics.md §4-5, L) -------------------------------------------


def w_radiator(x, c):
    """Photon radiator W(x, cos theta) of the monophoton processes (docs/physics.md §4-5)."""
    return ALPHA / (math.pi * x) * ((2 - 2 * x + x * x) / (1 - c * c) - x * x / 2)


def region_integral(sqrt_s, sigma0, accept, e_min, cmax):
    """int dx dcos W(x, theta) sigma0(s(1-x)) over the accepted (E, cos theta) region (CM)."""
    s = sqrt_s**2

    def inner(x):
        e = x * sqrt_s / 2

        def f(c):
            return w_radiator(x, c) * sigma0(s * (1 - x)) * accept(e, c)

        v, _ = integrate.quad(f, -cmax, cmax, limit=200, points=[-0.92, -0.86, -0.8, 0.8, 0.86, 0.92], epsrel=1e-7)
        return v

    v, _ = integrate.quad(inner, 2 * e_min / sqrt_s, 1.0 - 1e-12, limit=400, epsrel=1e-7)
    return v


def spectrum_band_fb(sqrt_s: float, sigma0, e_lo: float, e_hi: float, cos_max: float) -> float:
    """int dx dcos W(x, theta) sigma0(s(1 - x)) over lo < E_gamma < hi [GeV], |cos theta| < cos_max
    (CM), in fb; ``sigma0(s')`` in pb (docs/physics.md §5)."""
    s = sqrt_s**2

    def inner(x):
        return integrate.quad(lambda c: w_radiator(x, c) * float(sigma0(s * (1 - x))), -cos_max, cos_max, epsrel=1e-7)[
            0
        ]

    return 1e3 * integrate.quad(inner, 2 * e_lo / sqrt_s, min(2 * e_hi / sqrt_s, 1 - 1e-12), epsrel=1e-7)[0]
