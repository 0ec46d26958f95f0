"""e+e- -> chi chibar (gamma_ISR) near threshold: the event sampler.

Physics: Born cross section and angular law (``docs/physics.md`` §1, G eq. 1), Gaussian beam
spread (§2, G eqs. 2-3) and collinear ISR (§3, G eq. 12). The expected number of pairs is
N = L x sum(weights) (G eq. 3; eq. 12 with ISR).

Event layout (all energies in GeV, lab frame unless said):
``sqrt_s0`` nominal CM energy, ``sqrt_s`` after spread, ``sqrt_s_prime`` after ISR,
``x`` = 1 - s'/s, ``beta_z`` and ``beta_x`` velocity of the beam CM in the lab, ``isr`` collinear
ISR photon, ``chi`` and ``chibar`` Momentum4D records with ``charge`` (units of e; chi carries
-eps like the electron), ``chi_beta``/``chibar_beta`` lab velocities, ``weight`` in pb.

Frames (``docs/physics.md`` §10, :mod:`generator.kinematics`). Everything is built in the beam CM
frame in beam-axis coordinates, whose z' axis is the e- direction there: the ISR photon runs along
+z' (radiated by the e-) or -z' (by the e+) with E = x sqrt(s)/2; the pair moves along z' with
rapidity artanh(-p_gamma/(sqrt(s) - E_gamma)); in the pair rest frame, reached from the CM by that
boost along z', the polar angle of chi is measured from z' -- the direction of the e- beam in the
pair rest frame, which is the axis of the Born angular law (``docs/physics.md`` §1). With a crossing
angle the CM beam axis is not the lab z axis: it is found by boosting the lab e- beam into the CM
(:func:`generator.kinematics.cm_beam_axis_angle`), the beam-axis coordinates are rotated onto it and
everything is boosted to the lab with the full CM velocity (beta_x, 0, beta_z)
(:func:`generator.kinematics.cm_to_lab`). Head-on beams keep the single combined z boost (pair and
CM rapidities added), bit for bit as before crossing angles existed.

Two implementations of the same chain from the same uniforms: the compiled kernel
:func:`generator._kernels.chipair_events` (the default; one loop per chunk, no temporaries) and the
numpy code below, the reference (``USE_COMPILED_KERNEL = False``). They agree to ~1e-12 relative;
the last bits differ (gamma and gamma beta instead of cosh and sinh of rapidities, sqrt instead of
hypot, libm instead of numpy's loops: :mod:`generator._kernels`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import awkward as ak
import numpy as np

from .beams import Beams
from .born import SPINS, pair_beta, sample_cos_theta, sigma_born_pb
from .isr import KERNELS, sample_isr_x
from .kinematics import boost_z, cm_to_lab, momentum4d, records

__all__ = ["ChiPair", "USE_COMPILED_KERNEL"]

#: generate through the compiled kernel (:func:`generator._kernels.chipair_events`) when numba is
#: there; False selects the numpy path, the reference (the two agree to ~1e-12 relative)
USE_COMPILED_KERNEL = True


@dataclass(frozen=True)
class ChiPair:
    """Sampler of e+e- -> chi chibar with beam spread and ISR.

    Parameters: ``beams``; ``mass_gev``, ``epsilon``, ``spin`` ('dirac' | 'scalar');
    ``isr`` kernel ('kuraev_fadin' | 'gorbunov' | 'off'); ISR cut-off ``x_max`` (a fraction of
    s; None = kinematic limit 1 - 4m^2/s) or ``x_max_energy_gev`` (G eq. 12: x_max = E^2/s).
    """

    beams: Beams
    mass_gev: float
    epsilon: float
    spin: str = "dirac"
    isr: str = "kuraev_fadin"
    x_max: float | None = None
    x_max_energy_gev: float | None = None

    name = "chi_pair"
    #: uniforms per event: 2 beams, ISR x, ISR side, cos(theta*), phi*
    n_uniforms = 6

    def __post_init__(self):
        if self.isr not in KERNELS:
            raise ValueError(f"unknown ISR kernel {self.isr!r}; allowed: {', '.join(KERNELS)}")

    @property
    def threshold_gev(self) -> float:
        """Pair threshold 2m [GeV]."""
        return 2.0 * self.mass_gev

    def x_limit(self, s_gev2):
        """Upper end of the ISR x range: min(configured x_max, 1 - 4m^2/s)."""
        kinematic = np.clip(1.0 - self.threshold_gev**2 / s_gev2, 0.0, None)
        if self.x_max_energy_gev is not None:
            return np.minimum(kinematic, self.x_max_energy_gev**2 / s_gev2)
        if self.x_max is not None:
            return np.minimum(kinematic, self.x_max)
        return kinematic

    def describe(self) -> dict:
        """Physics model choices, for the run metadata."""
        return {
            "process": self.name,
            "mass_gev": self.mass_gev,
            "epsilon": self.epsilon,
            "spin": self.spin,
            "isr_kernel": self.isr,
            "isr_x_max": "kinematic" if self.x_max is None else self.x_max,
            "isr_x_max_energy_gev": self.x_max_energy_gev,
            "beam_spread_model": self.beams.spread_model,
            "sqrt_s0_gev": self.beams.sqrt_s0_gev,
            "beta_z0": self.beams.beta_z0,
            "beta_x0": self.beams.beta_x0,
            "crossing_angle_rad": self.beams.crossing_angle_rad,
            "coulomb_factor": "neglected (< 1e-4, docs/physics.md §1)",
            "isr_photon": "collinear, emitted by e- or e+ with equal probability",
        }

    def generate(self, u) -> ak.Array:
        """Events from uniforms ``u`` of shape (6, n); ``weight`` is the per-trial estimator
        in pb (its mean over trials is the cross section; divide by the number of trials to
        make weights sum to it)."""
        head_on = self.beams.crossing_angle_rad == 0.0
        kernels = _compiled_kernels()
        if kernels is not None:
            return self._events_compiled(u, head_on, kernels)
        return self._events(u, head_on=head_on)

    def _events_compiled(self, u, head_on: bool, _kernels) -> ak.Array:
        """:meth:`_events` through :func:`generator._kernels.chipair_events` (beams drawn by
        :meth:`Beams.sample_frame` as there): the same events from the same uniforms, up to the
        last bits (see :mod:`generator._kernels`)."""
        if self.spin not in SPINS:
            raise ValueError(f"spin must be one of {SPINS}, got {self.spin!r}")
        u = np.ascontiguousarray(u, dtype=float)
        n = u.shape[1]
        if self.beams.spread_model == "none":
            # monochromatic beams: every event has the frame of one (no uniform read); the kernel
            # reads the beam weight and CM beam-axis angle through 0-stride views, the event
            # columns are arrays
            one = self.beams.sample_frame(u[0:2, :1] if n else np.zeros((2, 1)), self.threshold_gev)
            sqrt_s, beta_z, beta_x = (np.full(n, a[0]) for a in (one.sqrt_s_gev, one.beta_z, one.beta_x))
            axis_angle = np.broadcast_to(_float_array(one.cm_axis_angle_rad), (n,))
            w_beam = np.broadcast_to(_float_array(one.weight), (n,))
        else:
            frame = self.beams.sample_frame(u[0:2], self.threshold_gev)
            sqrt_s, beta_z, beta_x = (_float_array(a) for a in (frame.sqrt_s_gev, frame.beta_z, frame.beta_x))
            axis_angle, w_beam = _float_array(frame.cm_axis_angle_rad), _float_array(frame.weight)
        if self.x_max_energy_gev is not None:
            cap_code, cap_value = _kernels.CAP_CODES["energy"], float(self.x_max_energy_gev)
        elif self.x_max is not None:
            cap_code, cap_value = _kernels.CAP_CODES["fraction"], float(self.x_max)
        else:
            cap_code, cap_value = _kernels.CAP_CODES["kinematic"], 0.0
        out = _kernels.empty_output(n)
        _kernels.chipair_events(
            u,
            sqrt_s,
            beta_z,
            beta_x,
            axis_angle,
            w_beam,
            float(self.mass_gev),
            float(self.epsilon),
            self.spin == "scalar",
            _kernels.ISR_CODES[self.isr],
            cap_code,
            cap_value,
            head_on,
            out,
        )
        col = dict(zip(_kernels.OUT_ROWS, out, strict=True))
        return records(
            {
                "sqrt_s0": np.full(n, self.beams.sqrt_s0_gev),
                "sqrt_s": sqrt_s,
                "sqrt_s_prime": col["sqrt_s_prime"],
                "x": col["x"],
                "beta_z": beta_z,
                "beta_x": beta_x,
                "isr": momentum4d(col["isr_px"], col["isr_py"], col["isr_pz"], col["isr_E"]),
                "chi": momentum4d(
                    col["chi_px"], col["chi_py"], col["chi_pz"], col["chi_E"], charge=np.full(n, -float(self.epsilon))
                ),
                "chibar": momentum4d(
                    col["chibar_px"],
                    col["chibar_py"],
                    col["chibar_pz"],
                    col["chibar_E"],
                    charge=np.full(n, float(self.epsilon)),
                ),
                "chi_beta": col["chi_beta"],
                "chibar_beta": col["chibar_beta"],
                "weight": col["weight"],
            }
        )

    def _events(self, u, head_on: bool) -> ak.Array:
        """:meth:`generate`; ``head_on`` picks the combined z boost (exact for head-on beams only)
        instead of the general rotation + boost (valid for any crossing angle)."""
        u = np.asarray(u, dtype=float)
        frame = self.beams.sample_frame(u[0:2], self.threshold_gev)
        sqrt_s, beta_z, w_beam = frame.sqrt_s_gev, frame.beta_z, frame.weight
        s = sqrt_s**2
        x, w_isr = sample_isr_x(u[2], s, self.x_limit(s), self.isr)
        s_prime = s * (1.0 - x)
        sqrt_s_prime = np.sqrt(s_prime)
        weight = w_beam * w_isr * sigma_born_pb(s_prime, self.mass_gev, self.epsilon, self.spin)

        # collinear ISR photon in the beam CM: E = x sqrt(s)/2 along the radiating beam (z')
        e_gamma = 0.5 * x * sqrt_s
        side = np.where(u[3] < 0.5, 1.0, -1.0)
        pz_gamma = side * e_gamma
        rapidity_pair = np.arctanh(-pz_gamma / (sqrt_s - e_gamma))

        # chi chibar in the pair rest frame (docs/physics.md §1 angular law w.r.t. the beam axis z')
        beta_star = pair_beta(s_prime, self.mass_gev)
        p_star = 0.5 * sqrt_s_prime * beta_star
        e_star = 0.5 * sqrt_s_prime
        cos_t = sample_cos_theta(u[4], beta_star, self.spin)
        sin_t = np.sqrt(np.clip(1.0 - cos_t**2, 0.0, None))
        phi = 2.0 * np.pi * u[5]
        px = p_star * sin_t * np.cos(phi)
        py = p_star * sin_t * np.sin(phi)
        pz = p_star * cos_t
        zero = np.zeros(len(weight))
        if head_on:
            # pair and CM boosts are both along z: one boost by the summed rapidity
            rapidity_lab = np.arctanh(beta_z)
            y = rapidity_pair + rapidity_lab
            ch, sh = np.cosh(y), np.sinh(y)  # boost_z of chi and chibar, sharing cosh and sinh
            e_cosh, pz_sinh, pz_cosh, e_sinh = e_star * ch, pz * sh, pz * ch, e_star * sh
            e_chi, pz_chi = e_cosh + pz_sinh, pz_cosh + e_sinh
            e_bar, pz_bar = e_cosh - pz_sinh, e_sinh - pz_cosh
            e_isr, pz_isr = boost_z(e_gamma, pz_gamma, rapidity_lab)
            chi = (px, py, pz_chi, e_chi)
            chibar = (-px, -py, pz_bar, e_bar)
            isr = (zero, zero, pz_isr, e_isr)
        else:
            # pair frame -> CM (beam-axis coordinates) -> lab (rotation onto the CM beam axis, boost)
            e_chi, pz_chi = boost_z(e_star, pz, rapidity_pair)
            e_bar, pz_bar = boost_z(e_star, -pz, rapidity_pair)
            to_lab = (frame.beta_x, beta_z, frame.cm_axis_angle_rad)
            e, qx, qy, qz = cm_to_lab(e_chi, px, py, pz_chi, *to_lab)
            chi = (qx, qy, qz, e)
            e, qx, qy, qz = cm_to_lab(e_bar, -px, -py, pz_bar, *to_lab)
            chibar = (qx, qy, qz, e)
            e, qx, qy, qz = cm_to_lab(e_gamma, zero, zero, pz_gamma, *to_lab)
            isr = (qx, qy, qz, e)

        charge = np.full(len(weight), self.epsilon)
        return records(
            {
                "sqrt_s0": np.full(len(weight), self.beams.sqrt_s0_gev),
                "sqrt_s": sqrt_s,
                "sqrt_s_prime": sqrt_s_prime,
                "x": x,
                "beta_z": beta_z,
                "beta_x": frame.beta_x,
                "isr": momentum4d(*isr),
                "chi": momentum4d(*chi, charge=-charge),
                "chibar": momentum4d(*chibar, charge=charge),
                "chi_beta": _speed(chi),
                "chibar_beta": _speed(chibar),
                "weight": weight,
            }
        )


def _compiled_kernels():
    """:mod:`generator._kernels` if the compiled path is on (:data:`USE_COMPILED_KERNEL`) and numba
    is installed, else None; imported on first use, so that importing the generator loads no numba."""
    if not USE_COMPILED_KERNEL:
        return None
    kernels = importlib.import_module("generator._kernels")
    return kernels if kernels.HAVE_NUMBA else None


def _float_array(a) -> np.ndarray:
    """A float64 array (no copy when it is one already)."""
    return np.asarray(a, dtype=np.float64)


def _speed(p):
    """|p|/E of (px, py, pz, E); np.hypot(np.hypot(px, py), pz) / E as before."""
    px, py, pz, e = p
    return np.hypot(np.hypot(px, py), pz) / e
