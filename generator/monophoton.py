"""Monophoton processes e+e- -> chi chibar gamma and e+e- -> nu nubar gamma.

Physics: docs/physics.md sections 1, 4 and 5 (Liang et al., "L", and its ref. [14]).
The photon is radiated from the e+/e- only (radiation off chi is O(eps^4)). In the e+e- CM
frame, with x = 2 E_gamma / sqrt(s), s' = s (1 - x) and theta the photon polar angle,

    d2sigma/dx dcos(theta) = W(x, theta) * sigma0(s'),
    W = alpha/(pi x) * [(2 - 2x + x^2)/sin^2(theta) - x^2/2],

where 1/sin^2(theta) is replaced by 1/(1 - beta_e^2 cos^2(theta)) (collinear regulator,
beta_e the electron velocity in the CM frame) and sigma0 is the Born cross section of the
invisible system at s'.

Sampling (fixed number of uniforms per event, no rejection, so results do not depend on
chunking):

* x in [x_lo, x_hi], x_lo = 2 E_min / sqrt(s), x_hi = min(2 E_max / sqrt(s), x_kin),
  x_kin = 1 - 4 m^2 / s (L: E_gamma <= (s - 4 m^2) / (2 sqrt(s))). nu nubar gamma: proposal
  1/x (log-uniform). chi chibar gamma: proposal proportional to 2/x + 1/(1 + delta - x),
  delta = 4 m^2 / s (partial fractions of W/s'), the component chosen by splitting u[0]
  (still one uniform). The second term follows the 1/s' rise of sigma0 near the endpoint,
  which with 1/x alone gives huge weights for light chi (m = 1 MeV at 4 GeV, |cos| < 0.92:
  relative weight spread 64 -> 0.19; 0.1-0.26 for all m at 4 GeV);
* cos(theta) has the proposal 1/(1 - beta_e^2 cos^2) on [-c_max, c_max] (inverse CDF via
  tanh/artanh);
* phi_gamma is uniform.

The weight is (true density / proposal density) in pb, so that mean(weight) over all trials
is the cross section inside the generation cuts. Trials with an empty x range (sqrt(s) too low)
get weight 0 and a zero-energy photon.

For chi chibar gamma the recoil system (virtual photon of mass sqrt(s'), momentum -k_gamma) is
decayed to chi chibar in its rest frame with the Born angular law of docs/physics.md section 1
(Dirac: 1 + cos^2 + (1 - beta^2) sin^2, scalar: sin^2). The polar angle theta* is measured
from the +z axis (e- beam direction) in the recoil rest frame reached from the CM frame by a
pure, rotation-free boost along -k_gamma. This is exact for soft photons and an approximation
for hard ones (the true law refers to the e+e- directions seen in the recoil frame). The cubic
inverse CDFs are solved in closed form (generator.born.sample_cos_theta).

All generation cuts are in the e+e- CM frame (``frame="cm"``, the only supported option); the
photon polar angle and every "+z" above refer to the CM beam axis (the e- direction in the CM).
Finally every four-vector goes to the lab (``docs/physics.md`` §10): for head-on beams a boost
along +z by ``beta_z``; with a crossing angle the beam-axis coordinates are first rotated about y
by the CM beam-axis angle ``cm_axis_angle_rad`` and then boosted by (``beta_x``, 0, ``beta_z``)
(:func:`generator.kinematics.cm_to_lab`, bit for bit the z boost when both are 0).
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

from .born import sample_cos_theta, sigma_born_pb
from .constants import ALPHA, G_FERMI_GEV2, GEV2_TO_PB, M_E_GEV, SIN2_THETA_W
from .kinematics import cm_to_lab
from .processes import checked_trials

vector.register_awkward()

__all__ = [
    "M_Z_GEV",
    "GAMMA_Z_GEV",
    "nunu_sigma_factor",
    "sigma_nunu_pb",
    "radiator",
    "ChiChiGamma",
    "NuNuGamma",
]

M_Z_GEV = 91.1876
"""Z mass [GeV] (PDG), only used with ``z_propagator=True``."""
GAMMA_Z_GEV = 2.4952
"""Z width [GeV] (PDG), only used with ``z_propagator=True``."""

_G_V = -0.5 + 2.0 * SIN2_THETA_W
_G_A = -0.5


# --------------------------------------------------------------------------------------------
# Cross-section building blocks (chi chibar Born: generator.born.sigma_born_pb, docs/physics.md §1)
# --------------------------------------------------------------------------------------------
def nunu_sigma_factor(s_gev2, z_propagator: bool = False):
    """Flavour/coupling factor Sigma of docs/physics.md section 5 (dimensionless).

    Contact limit: Sigma = 3(gV^2 + gA^2) + 2(gV + gA) + 2 = 1.679 (three flavours, W exchange
    Fierzed into nu_e). With ``z_propagator`` the Z part is multiplied by
    P_Z = M_Z^2 / (M_Z^2 - s - i M_Z Gamma_Z) (the W stays a contact interaction).
    """
    s = np.asarray(s_gev2, dtype=float)
    gg = 3.0 * (_G_V**2 + _G_A**2)
    gl = 2.0 * (_G_V + _G_A)
    if not z_propagator:
        return np.full_like(s, gg + gl + 2.0)
    pz = M_Z_GEV**2 / (M_Z_GEV**2 - s - 1j * M_Z_GEV * GAMMA_Z_GEV)
    return gg * np.abs(pz) ** 2 + gl * pz.real + 2.0


def sigma_nunu_pb(s_gev2, z_propagator: bool = False):
    """sigma(e+e- -> nu nubar), three flavours, in pb: G_F^2 s Sigma / (12 pi) (docs/physics.md §5)."""
    s = np.clip(np.asarray(s_gev2, dtype=float), 0.0, None)
    return G_FERMI_GEV2**2 * s * nunu_sigma_factor(s, z_propagator) / (12.0 * np.pi) * GEV2_TO_PB


def radiator(x, cos_theta, beta_e=1.0):
    """Radiator W(x, theta) of docs/physics.md section 4 (dimensionless, per unit x and cos theta).

    W = alpha/(pi x) [(2 - 2x + x^2)/(1 - beta_e^2 cos^2) - x^2/2]; beta_e = 1 gives the
    massless form with 1/sin^2(theta).
    """
    x = np.asarray(x, dtype=float)
    c = np.asarray(cos_theta, dtype=float)
    return ALPHA / (np.pi * x) * ((2.0 - 2.0 * x + x * x) / (1.0 - beta_e**2 * c * c) - 0.5 * x * x)


# --------------------------------------------------------------------------------------------
# Kinematics helpers
# --------------------------------------------------------------------------------------------
def _momentum4d(e, px, py, pz):
    return ak.zip({"px": px, "py": py, "pz": pz, "E": e}, with_name="Momentum4D")


def _to_lab(e, px, py, pz, frame):
    """CM (beam-axis coordinates) -> lab for frame = (beta_x, beta_z, cm_axis_angle_rad); returns
    (E, px, py, pz) like the former z boost gamma (E + beta_z pz), gamma (pz + beta_z E)."""
    return cm_to_lab(e, px, py, pz, *frame)


class _MonophotonBase:
    """Shared photon sampling (3 uniforms: x, cos theta, phi) and weights."""

    name = "monophoton"
    n_uniforms = 3
    mass_gev = None  # no MCP in the final state unless a subclass says so
    epsilon = None
    _endpoint_term = False  # add the 1/(1 + delta - x) component to the x proposal

    def __init__(
        self,
        *,
        e_gamma_min_gev: float,
        cos_theta_max: float,
        e_gamma_max_gev: float | None = None,
        frame: str = "cm",
    ):
        if frame != "cm":
            raise ValueError("only frame='cm' generation cuts are supported")
        if not e_gamma_min_gev > 0.0:
            raise ValueError("e_gamma_min_gev must be > 0 (1/x importance sampling)")
        if not 0.0 < cos_theta_max <= 1.0:
            raise ValueError("cos_theta_max must be in (0, 1]")
        if e_gamma_max_gev is not None and e_gamma_max_gev <= e_gamma_min_gev:
            raise ValueError("e_gamma_max_gev must exceed e_gamma_min_gev")
        self.e_gamma_min_gev = float(e_gamma_min_gev)
        self.e_gamma_max_gev = None if e_gamma_max_gev is None else float(e_gamma_max_gev)
        self.cos_theta_max = float(cos_theta_max)
        self.frame = frame

    # -- to be provided by subclasses --------------------------------------------------------
    def _x_kin(self, s):
        raise NotImplementedError

    def _sigma0_pb(self, sp):
        raise NotImplementedError

    def _delta(self, s):
        return np.zeros_like(s)

    # ----------------------------------------------------------------------------------------
    def _check(self, u, sqrt_s_gev, beta_z, beta_x=0.0, cm_axis_angle_rad=0.0):
        """Validate ``u``; broadcast sqrt(s) and the CM frame (beta_z, beta_x, axis angle) to n."""
        u, rs, bx, bz, axis = checked_trials(self, u, sqrt_s_gev, beta_x, beta_z, cm_axis_angle_rad)
        return u, rs, (bx, bz, axis)

    def _common_description(self) -> dict:
        return {
            "process": self.name,
            "e_gamma_min_gev": self.e_gamma_min_gev,
            "e_gamma_max_gev": self.e_gamma_max_gev,
            "cos_theta_max": self.cos_theta_max,
            "cuts_frame": "CM, angles from the CM beam axis",
        }

    def _sample_x(self, u0, x_lo, x_hi, s, valid):
        """x from a proposal proportional to 2/x [+ 1/(1 + delta - x)]; returns x, 1/(x q(x)).

        With r1 = ln(x_hi/x_lo) and r2 = ln((1 + delta - x_lo)/(1 + delta - x_hi)) the
        normalised proposal is q = [2/x + 1/(1 + delta - x)]/(2 r1 + r2), following
        (2 - 2x + x^2)/(x (1 - x)) = 2/x + 1/(1 - x) - 1 of W sigma0 ~ W/s'; u0 is split at
        2 r1/(2 r1 + r2) to pick the component. Without the endpoint term (nu nubar, whose
        sigma0 ~ s' vanishes at x = 1) q = 1/(x r1). Invalid trials (empty x range) get x = 0
        and 1/(xq) = 0.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            r1 = np.where(valid, np.log(x_hi / x_lo), 1.0)
            if self._endpoint_term:
                delta = self._delta(s)
                a_hi = 1.0 + delta - x_lo
                r2 = np.where(valid, np.log(a_hi / (1.0 + delta - x_hi)), 1.0)
                g = 2.0 * r1 / (2.0 * r1 + r2)  # probability of the 1/x component
                x1 = x_lo * np.exp(u0 / g * r1)
                x2 = 1.0 + delta - a_hi * np.exp(-(u0 - g) / (1.0 - g) * r2)
                x = np.clip(np.where(u0 < g, x1, x2), x_lo, x_hi)
                xq = (2.0 + x / (1.0 + delta - x)) / (2.0 * r1 + r2)
            else:
                x = np.clip(x_lo * np.exp(u0 * r1), x_lo, x_hi)
                xq = 1.0 / r1
            return np.where(valid, x, 0.0), np.where(valid, 1.0 / xq, 0.0)

    def _photon(self, u, rs):
        """Sample the photon in the CM frame; returns dict of arrays incl. weight [pb]."""
        s = rs * rs
        x_lo = 2.0 * self.e_gamma_min_gev / rs
        x_hi = self._x_kin(s)
        if self.e_gamma_max_gev is not None:
            x_hi = np.minimum(x_hi, 2.0 * self.e_gamma_max_gev / rs)
        valid = x_hi > x_lo
        x, inv_xq = self._sample_x(u[0], x_lo, x_hi, s, valid)

        beta_e = np.sqrt(1.0 - 4.0 * M_E_GEV**2 / s)
        at = np.arctanh(beta_e * self.cos_theta_max)
        c = np.tanh((2.0 * u[1] - 1.0) * at) / beta_e
        c = np.clip(c, -1.0, 1.0)
        phi = 2.0 * np.pi * u[2]

        sp = s * (1.0 - x)
        # weight = W(x,c) sigma0(s') / (q_x q_c), 1/q_x = x * inv_xq,
        # q_c = beta_e / (2 artanh(beta_e c_max) (1 - beta_e^2 c^2)); the 1/x and the
        # regulator cancel analytically.
        dens = (ALPHA / np.pi) * ((2.0 - 2.0 * x + x * x) - 0.5 * x * x * (1.0 - beta_e**2 * c * c))
        jac = inv_xq * 2.0 * at / beta_e
        weight = np.where(valid, dens * jac * self._sigma0_pb(sp), 0.0)

        e = 0.5 * x * rs
        sin_t = np.sqrt(np.clip(1.0 - c * c, 0.0, 1.0))
        return {
            "s": s,
            "sp": sp,
            "e": e,
            "px": e * sin_t * np.cos(phi),
            "py": e * sin_t * np.sin(phi),
            "pz": e * c,
            "cos": c,
            "weight": weight,
        }

    def _common_fields(self, g, rs, frame):
        ge, gx, gy, gz = _to_lab(g["e"], g["px"], g["py"], g["pz"], frame)
        return {
            "gamma": _momentum4d(ge, gx, gy, gz),
            "sqrt_s": rs,
            "e_gamma_cm": g["e"],
            "cos_theta_gamma_cm": g["cos"],
            "weight": g["weight"],
        }


class ChiChiGamma(_MonophotonBase):
    """e+e- -> chi chibar gamma (docs/physics.md section 4; L Fig. 1 left).

    Parameters: ``mass_gev`` [GeV], ``epsilon`` (charge in units of e), ``spin`` ('dirac' or
    'scalar'); generation cuts (CM frame) ``e_gamma_min_gev`` [GeV] (> 0), ``cos_theta_max``
    (|cos theta_gamma| <= this), optional ``e_gamma_max_gev`` [GeV], ``frame`` ('cm').

    ``generate(u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0)`` takes ``u`` of
    shape (5, n): u[0] -> x, u[1] -> cos theta_gamma, u[2] -> phi_gamma, u[3] -> cos theta*,
    u[4] -> phi*; the CM frame (scalars or per event) as drawn by
    :meth:`generator.beams.Beams.sample_frame`. Output fields: gamma, chi, chibar (Momentum4D, lab
    frame, GeV), sqrt_s, e_gamma_cm, cos_theta_gamma_cm (from the CM beam axis), weight [pb per
    trial].
    """

    name = "chichigamma"
    n_uniforms = 5
    _endpoint_term = True

    def __init__(
        self,
        mass_gev: float,
        epsilon: float,
        spin: str = "dirac",
        *,
        e_gamma_min_gev: float,
        cos_theta_max: float,
        e_gamma_max_gev: float | None = None,
        frame: str = "cm",
    ):
        super().__init__(
            e_gamma_min_gev=e_gamma_min_gev,
            cos_theta_max=cos_theta_max,
            e_gamma_max_gev=e_gamma_max_gev,
            frame=frame,
        )
        if spin not in ("dirac", "scalar"):
            raise ValueError(f"spin must be 'dirac' or 'scalar', got {spin!r}")
        if not mass_gev > 0.0:
            raise ValueError("mass_gev must be > 0 (sigma diverges like ln(1/m) as m -> 0)")
        self.mass_gev = float(mass_gev)
        self.epsilon = float(epsilon)
        self.spin = spin

    def _x_kin(self, s):
        return 1.0 - 4.0 * self.mass_gev**2 / s

    def _delta(self, s):
        return 4.0 * self.mass_gev**2 / s

    def _sigma0_pb(self, sp):
        return sigma_born_pb(sp, self.mass_gev, self.epsilon, self.spin)

    def describe(self) -> dict:
        """Physics model choices, for the run metadata."""
        return {**self._common_description(), "mass_gev": self.mass_gev, "epsilon": self.epsilon, "spin": self.spin}

    def generate(self, u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0) -> ak.Array:
        """Generate len(u[0]) weighted trials; see the class docstring for the layout."""
        u, rs, frame = self._check(u, sqrt_s_gev, beta_z, beta_x, cm_axis_angle_rad)
        g = self._photon(u, rs)
        m = self.mass_gev

        # recoil system Q = (sqrt(s) - E, -k) in the CM frame
        q0 = rs - g["e"]
        qx, qy, qz = -g["px"], -g["py"], -g["pz"]
        mq = np.sqrt(np.clip(g["sp"], 0.0, None))
        beta_chi = np.sqrt(np.clip(1.0 - 4.0 * m * m / np.maximum(g["sp"], 1e-300), 0.0, 1.0))

        # chi direction in the recoil rest frame, polar axis = +z
        ct = np.clip(sample_cos_theta(u[3], beta_chi, self.spin), -1.0, 1.0)
        st = np.sqrt(np.clip(1.0 - ct * ct, 0.0, 1.0))
        ph = 2.0 * np.pi * u[4]
        pstar = 0.5 * mq * beta_chi
        kx, ky, kz = pstar * st * np.cos(ph), pstar * st * np.sin(ph), pstar * ct

        # boost the pure 3-vector (0, k) with velocity b = Q/Q0: chi = Q/2 + L(0,k),
        # chibar = Q/2 - L(0,k) (exact momentum conservation by construction)
        gam = q0 / np.maximum(mq, 1e-300)
        bx, by, bzq = qx / q0, qy / q0, qz / q0
        bdotk = bx * kx + by * ky + bzq * kz
        f = gam * gam / (gam + 1.0) * bdotk
        de, dx, dy, dz = gam * bdotk, kx + f * bx, ky + f * by, kz + f * bzq

        out = self._common_fields(g, rs, frame)
        chi = _to_lab(0.5 * q0 + de, 0.5 * qx + dx, 0.5 * qy + dy, 0.5 * qz + dz, frame)
        chibar = _to_lab(0.5 * q0 - de, 0.5 * qx - dx, 0.5 * qy - dy, 0.5 * qz - dz, frame)
        out["chi"] = _momentum4d(*chi)
        out["chibar"] = _momentum4d(*chibar)
        return ak.zip(out, depth_limit=1)


class NuNuGamma(_MonophotonBase):
    """e+e- -> nu nubar gamma, three flavours (docs/physics.md section 5; L Fig. 1 right).

    Contact interaction by default (sqrt(s) << M_Z); ``z_propagator=True`` uses the full Z
    propagator at s'. Generation cuts as for :class:`ChiChiGamma`.

    ``generate(u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0)`` takes ``u`` of
    shape (3, n) (x, cos theta, phi); CM frame as for :class:`ChiChiGamma`. The neutrinos are not
    generated individually: the field ``missing`` is the total nu nubar four-momentum
    (p_e+ + p_e- - k_gamma, lab frame). Other fields: gamma, sqrt_s, e_gamma_cm,
    cos_theta_gamma_cm, weight [pb per trial].
    """

    name = "nunugamma"
    n_uniforms = 3

    def __init__(
        self,
        *,
        e_gamma_min_gev: float,
        cos_theta_max: float,
        e_gamma_max_gev: float | None = None,
        frame: str = "cm",
        z_propagator: bool = False,
    ):
        super().__init__(
            e_gamma_min_gev=e_gamma_min_gev,
            cos_theta_max=cos_theta_max,
            e_gamma_max_gev=e_gamma_max_gev,
            frame=frame,
        )
        self.z_propagator = bool(z_propagator)

    def _x_kin(self, s):
        return np.ones_like(s)

    def _sigma0_pb(self, sp):
        return sigma_nunu_pb(sp, self.z_propagator)

    def describe(self) -> dict:
        """Physics model choices, for the run metadata."""
        return {**self._common_description(), "z_propagator": self.z_propagator}

    def generate(self, u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0) -> ak.Array:
        """Generate len(u[0]) weighted trials; see the class docstring for the layout."""
        u, rs, frame = self._check(u, sqrt_s_gev, beta_z, beta_x, cm_axis_angle_rad)
        g = self._photon(u, rs)
        out = self._common_fields(g, rs, frame)
        miss = _to_lab(rs - g["e"], -g["px"], -g["py"], -g["pz"], frame)
        out["missing"] = _momentum4d(*miss)
        return ak.zip(out, depth_limit=1)
