"""The paper-faithful detection criteria of G §4, per MCP, from its velocity at production.

Ionization: dE/dx (G eq. 6, the ``bethe_frozen`` model by default) >= I_min and a kinetic energy
that lasts for L_min at that loss, i.e. beta above :func:`detsim.eloss.beta_floor_ionization`
(G: beta > 6e-4). delta-electrons: N_delta of G eq. (11) over the tracker radius L >= n_delta,
which needs T_max > T_min, i.e. beta above :func:`detsim.eloss.beta_floor_delta` (G: 3e-2).
An event passes a signature when both its MCPs do ("at least one hit from each MCP").

beta is each MCP's lab velocity at production. G assumes head-on beams (beta = beta* of the
pair); with a crossing angle the lab velocities beta_cm +- beta* include the CM motion
(``docs/physics.md`` §10): |v+|^2 + |v-|^2 = 2 (beta_cm^2 + beta*^2) (non-relativistic), so the
faster MCP moves at >= sqrt(beta_x^2 + beta*^2) >= 0.030 at 60 mrad and is dimmer than head-on.
epsilon and the mass are the process's, passed in by the caller (:func:`detsim.simulate.simulate`).
"""

from __future__ import annotations

import numpy as np

from .eloss import beta_floor_delta, beta_floor_ionization, dedx_gev_per_cm, delta_rate_per_cm
from .geometry import PaperCriteria
from .materials import Material

__all__ = ["paper_mcp_pass", "paper_event_pass"]


def paper_mcp_pass(beta, eps: float, mass_gev: float, gas: Material, crit: PaperCriteria) -> dict:
    """Per-MCP booleans ``ionization`` and ``delta`` and the expected ``n_delta`` (G eq. 11)."""
    beta = np.asarray(beta, dtype=float)
    dedx = dedx_gev_per_cm(beta, eps, mass_gev, gas, crit.dedx_model)
    ion = (dedx >= crit.i_min_gev_per_cm) & (
        beta >= beta_floor_ionization(mass_gev, crit.i_min_gev_per_cm, crit.l_min_cm)
    )
    n_delta = delta_rate_per_cm(beta, eps, mass_gev, gas, crit.t_min_gev) * crit.track_length_cm
    delta = (n_delta >= crit.n_delta) & (beta >= beta_floor_delta(mass_gev, crit.t_min_gev))
    return {"ionization": ion, "delta": delta, "n_delta": n_delta}


def paper_event_pass(beta_chi, beta_chibar, eps, mass_gev, gas, crit) -> dict:
    """Event booleans: both MCPs pass the ionization (delta) criteria."""
    a = paper_mcp_pass(beta_chi, eps, mass_gev, gas, crit)
    b = paper_mcp_pass(beta_chibar, eps, mass_gev, gas, crit)
    return {"ionization": a["ionization"] & b["ionization"], "delta": a["delta"] & b["delta"]}
