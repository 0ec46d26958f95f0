"""Full final states of every generator process, as flat particle tables for event files.

The processes of this package return only what the chains downstream need (the χ pair, the
tagged photon, the νν̄ system as one four-vector). An experiment's own full simulation needs the
complete event: both incoming beams, every outgoing particle with its PDG id, status, mass and
mother links, the event weight and the vertex. :func:`final_state` builds it for a chunk of events,
vectorised over the chunk (no per-event Python), as a :class:`FinalState`: numpy arrays of shape
(events, slots) with a ``present`` mask; the writers in :mod:`mcpgen.eventfiles` turn it into
Les Houches (LHE 3.0) or HepMC files.

Conventions (GeV, mm, lab frame; e- beam along +z):

* Slot 0 is the e- beam, slot 1 the e+ beam (status :data:`STATUS_BEAM`, -1 as in LHE; the HepMC
  writer maps it to 4), then the outgoing particles (status :data:`STATUS_FINAL`). Mother links
  are 1-based positions in the event (LHE convention, 0 = none): every outgoing particle has the
  mothers (1, 2) -- the hard process of both beams -- except the collinear ISR photon of
  ``chi_pair``, which is radiated by one beam: mothers (k, 0) with k = 1 (e-) or 2 (e+).
  The ISR slot is the last one, so dropping it where x = 0 shifts no other index.
* Beams. The events store √s and the CM velocity, and every process conserves four-momentum
  exactly, so the beams are reconstructed from the summed outgoing four-momentum P (invariant
  mass √s, velocity β⃗ = P⃗/E): in the CM frame the beams are back to back with E* = √s/2 and
  |p*| = (E*² - m_e²)^½ along the CM beam axis n̂*, then boosted to the lab with β⃗. n̂* is the
  e- beam direction boosted into the CM frame (docs/physics.md §10). The lab beam directions follow
  the collider convention of §10: the detector axis z bisects the crossing angle θ_c,
  d(e∓) = (sin(θ_c/2), 0, ±cos(θ_c/2)), so the CM moves along +x with β_x = sin(θ_c/2) exactly,
  whatever the beam energies (β_x = 0 for head-on beams: n̂* = ẑ). The crossing half-angle is
  therefore read off the event as arcsin(β_x) and events without a ``beta_x`` field need no special
  case. Beams stored with the events can be passed instead (``beams=``).
* Masses written to the files are the model masses (m_e from ``generator.constants``, 0 for γ
  and ν, the process's χ mass), not sqrt(E² - p²), which loses digits for light fast particles.
* χ: PDG id ``+chi_pdg`` for χ (charge -ε, like the electron, docs/physics.md §1) and
  ``-chi_pdg`` for χ̄ (+ε). Default :data:`DEFAULT_CHI_PDG`: 52 (spin-½) or 51 (spin-0), the
  PDG Monte Carlo numbering scheme's codes for spin-½ and spin-0 dark-sector (dark-matter)
  particles (Review of Particle Physics, "Monte Carlo particle numbering scheme", since 2020;
  listed as the special DM particles 51/52/53 by the ``particle`` package). The scheme has no code
  for a fractional charge below 0.1 e (its Q-ball form ±100XXXY0 resolves 0.1 e), so no standard
  id carries ε: downstream tools must define the particle themselves with charge -ε and mass m
  (Geant4: a ``G4ParticleDefinition`` with that PDG encoding; basf2:
  ``pdg.add_particle(name, pdgCode, mass, width, charge, spin)``). The writers put ε, m, spin and
  the id into the file header. Choose another id with ``chi_pdg`` if a downstream table already
  uses 51/52.

Process by process (event fields as returned by each process's ``generate``):

* ``chi_pair`` (χχ̄ + collinear ISR, fields ``isr``, ``chi``, ``chibar``): the ISR photon is
  written where it carries energy (x > 0) and is radiated by the beam it travels along (in the lab
  it is collinear with that beam; the side is the sign of k⃗·(d(e-) - d(e+))).
* ``chi_pair_gamma`` (``gamma``, ``chi``, ``chibar``), ``ggg`` (``gamma1`` tagged, ``gamma2``,
  ``gamma3``), ``eeg`` (``gamma``, ``positron``, ``electron``): as generated.
* ``nunu_gamma`` (``gamma``, ``missing``): the generator samples the photon and the total νν̄
  four-momentum Q only, summed over three flavours (docs/physics.md §5: Σ = 3(g_V² + g_A²) + 2(g_V + g_A)
  + 2, with W exchange, Fierzed, adding +1 to g_V and g_A of ν_e). The flavour and the ν direction
  are drawn here from three uniforms handed in by the caller (``u``, shape (3, n); no random
  numbers are drawn in this module): in chiral couplings g_L = (g_V + g_A)/2, g_R = (g_V - g_A)/2
  the flavour amplitudes are A_L = g_L P_Z (+1 for ν_e), A_R = g_R P_Z (P_Z = 1 in the contact
  limit, the Z propagator of docs/physics.md §5 at s' = Q² with ``z_propagator``), and flavour f has
  probability 2(|A_L|² + |A_R|²)/Σ (the three sum to Σ exactly: ν_e 70.1 %, ν_μ and ν_τ
  15.0 % each in the contact limit) -- u[0] picks it. Helicity conservation of the V-A current
  gives dN/dcos θ ∝ |A_L|²(1 + cos θ)² + |A_R|²(1 - cos θ)² for the ν (left-handed) against the e-
  beam (e-_L e+_R → ν_L ν̄_R has J_z = -1 along both axes, d¹₋₁₋₁ = (1 + cos θ)/2; e-_R e+_L
  gives d¹₁₋₁ = (1 - cos θ)/2); u[1] gives cos θ by the closed-form inverse of that cubic CDF,
  u[2] the azimuth. θ is measured in the νν̄ rest frame, reached from the CM frame by a pure boost,
  from the CM beam axis n̂* -- the same construction and approximation (exact for soft photons)
  as the χχ̄ decay of ``ChiChiGamma``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import awkward as ak
import numpy as np

from .constants import M_E_GEV, SIN2_THETA_W
from .monophoton import GAMMA_Z_GEV, M_Z_GEV

__all__ = [
    "PROCESSES",
    "STATUS_BEAM",
    "STATUS_FINAL",
    "DEFAULT_CHI_PDG",
    "PDG_ELECTRON",
    "PDG_PHOTON",
    "PDG_NEUTRINOS",
    "FinalState",
    "final_state",
    "final_state_uniforms",
    "process_name",
    "reconstruct_beams",
    "neutrino_flavour_weights",
]

#: Process names (the card names) and the event fields that identify them
PROCESSES = {
    "chi_pair": ("isr", "chi", "chibar"),
    "chi_pair_gamma": ("gamma", "chi", "chibar"),
    "nunu_gamma": ("gamma", "missing"),
    "ggg": ("gamma1", "gamma2", "gamma3"),
    "eeg": ("gamma", "positron", "electron"),
    "gg": ("gamma1", "gamma2"),
}

STATUS_BEAM = -1  #: incoming beam (LHE ISTUP -1; HepMC status 4)
STATUS_FINAL = 1  #: outgoing final-state particle (LHE and HepMC status 1)

#: χ PDG id by spin: the PDG Monte Carlo numbering scheme's spin-½ / spin-0 dark-sector codes
DEFAULT_CHI_PDG = {"dirac": 52, "scalar": 51}

# Standard-model ids of the PDG Monte Carlo numbering scheme (PDG Review, "Monte Carlo particle
# numbering scheme"); tests/test_final_state.py checks them against the PDG tables of the ``particle``
# package (a name look-up there costs seconds at import, so the numbers are written here)
PDG_ELECTRON = 11  #: e-; the positron is -11
PDG_PHOTON = 22  #: gamma
PDG_NEUTRINOS = (12, 14, 16)  #: nu_e, nu_mu, nu_tau


@dataclass
class FinalState:
    """Flat particle table of a chunk: arrays (n_events, n_slots) plus per-event columns.

    ``pdg`` (int32), ``status`` (int8: :data:`STATUS_BEAM` / :data:`STATUS_FINAL`), ``mother1`` /
    ``mother2`` (int16, 1-based positions within the event, 0 = none), four-momentum ``px``,
    ``py``, ``pz``, ``e`` and ``mass`` [GeV, lab], ``present`` (bool: the slot holds a particle in
    this event); per event ``weight`` [pb, as given by the process], ``vertex_mm`` (n, 4: x, y, z,
    c t [mm]), ``scale_gev`` (invariant mass of the hard process, LHE SCALUP). ``info`` holds the
    run constants (process, χ id, mass, ε, spin). Slots 0 and 1 are the e- and e+ beams; absent
    slots are always trailing, so the positions of present particles are the slot index + 1.
    """

    pdg: np.ndarray
    status: np.ndarray
    mother1: np.ndarray
    mother2: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    mass: np.ndarray
    present: np.ndarray
    weight: np.ndarray
    vertex_mm: np.ndarray
    scale_gev: np.ndarray
    info: dict = field(default_factory=dict)

    _ROW_FIELDS = ("pdg", "status", "mother1", "mother2", "px", "py", "pz", "e", "mass", "present")
    _EVENT_FIELDS = ("weight", "vertex_mm", "scale_gev")

    def __len__(self) -> int:
        return len(self.weight)

    @property
    def n_slots(self) -> int:
        return self.pdg.shape[1]

    @property
    def n_particles(self) -> np.ndarray:
        """Number of particles (beams included) per event."""
        return self.present.sum(axis=1)

    def __getitem__(self, index) -> FinalState:
        """Select events (slice, integer array or boolean mask)."""
        arrays = {name: getattr(self, name)[index] for name in self._ROW_FIELDS + self._EVENT_FIELDS}
        return FinalState(**arrays, info=self.info)

    def with_weight(self, weight) -> FinalState:
        """A copy with the event weights replaced (e.g. normalised to sum to σ)."""
        weight = np.asarray(weight, dtype=float)
        if weight.shape != self.weight.shape:
            raise ValueError(f"weight must have shape {self.weight.shape}, got {weight.shape}")
        return replace(self, weight=weight)

    def momentum(self) -> np.ndarray:
        """Four-momenta as one array (4, n_events, n_slots): E, px, py, pz [GeV]."""
        return np.stack([self.e, self.px, self.py, self.pz])

    def to_awkward(self) -> ak.Array:
        """Jagged awkward view (one list of particles per event), absent slots dropped."""
        counts = self.n_particles
        mask = self.present
        particles = {name: getattr(self, name)[mask] for name in ("pdg", "status", "mother1", "mother2")}
        particles.update({name: getattr(self, name)[mask] for name in ("px", "py", "pz", "e", "mass")})
        return ak.Array(
            {
                "particles": ak.unflatten(ak.zip(particles), counts),
                "weight": self.weight,
                "scale_gev": self.scale_gev,
            }
        )


# ------------------------------------------------------------------------------------------
# Kinematics helpers: four-vectors as arrays (4, n) = (E, px, py, pz)
# ------------------------------------------------------------------------------------------
def _boost(p, b):
    """Boost four-vectors p (4, n) from the rest frame to a frame moving with velocity -b, i.e. a
    particle at rest acquires velocity b (3, n)."""
    bx, by, bz = b
    b2 = bx * bx + by * by + bz * bz
    gam = 1.0 / np.sqrt(1.0 - b2)
    bp = bx * p[1] + by * p[2] + bz * p[3]
    safe = np.where(b2 > 0.0, b2, 1.0)
    f = np.where(b2 > 0.0, (gam - 1.0) * bp / safe, 0.0) + gam * p[0]
    return np.stack([gam * (p[0] + bp), p[1] + f * bx, p[2] + f * by, p[3] + f * bz])


def _four(record) -> np.ndarray:
    """(4, n) array (E, px, py, pz) from a Momentum4D record array (any ``vector`` coordinate
    names, e.g. x/y/z/t after a boost; plain records need px/py/pz/E fields)."""
    try:
        return np.stack([np.asarray(getattr(record, c), dtype=float) for c in ("E", "px", "py", "pz")])
    except AttributeError:
        return np.stack([np.asarray(record[c], dtype=float) for c in ("E", "px", "py", "pz")])


def _unit(v):
    return v / np.sqrt(np.sum(v * v, axis=0))


def reconstruct_beams(p_total, electron_mass_gev: float = M_E_GEV):
    """Lab four-momenta of the e- and e+ beams whose sum is ``p_total`` (4, n) [GeV].

    Returns (p_electron, p_positron, axis_cm): (4, n), (4, n) and the CM beam axis n̂* (3, n) (unit
    vector along the e- beam in the CM frame). Convention and construction: module docstring
    (docs/physics.md §10): crossing half-angle arcsin(β_x), massless lab directions
    d(e∓) = (sin h, 0, ±cos h), n̂* = direction of d(e-) boosted into the CM frame, massive beams
    (√s/2, ±|p*| n̂*) in the CM boosted back with β⃗ = P⃗/E. The sum equals ``p_total`` to rounding.
    """
    p = np.asarray(p_total, dtype=float)
    e = p[0]
    beta = p[1:] / e
    sqrt_s = np.sqrt(np.clip(e * e - np.sum(p[1:] ** 2, axis=0), 0.0, None))
    sin_h = np.clip(beta[0], -1.0, 1.0)
    cos_h = np.sqrt(1.0 - sin_h * sin_h)
    d_electron = np.stack([np.ones_like(e), sin_h, np.zeros_like(e), cos_h])
    axis = _unit(_boost(d_electron, -beta)[1:])
    e_star = 0.5 * sqrt_s
    p_star = np.sqrt(np.clip(e_star * e_star - electron_mass_gev**2, 0.0, None))
    beam_cm = np.concatenate([e_star[None], p_star * axis])
    anti_cm = np.concatenate([e_star[None], -p_star * axis])
    return _boost(beam_cm, beta), _boost(anti_cm, beta), axis


# ------------------------------------------------------------------------------------------
# ν flavour and angle (docs/physics.md §5 couplings; helicity structure in the module docstring)
# ------------------------------------------------------------------------------------------
_G_L = -0.5 + SIN2_THETA_W  # (g_V + g_A)/2, g_V = -1/2 + 2 sin^2, g_A = -1/2
_G_R = SIN2_THETA_W  # (g_V - g_A)/2


def _chiral_amplitudes(s_prime_gev2, z_propagator: bool):
    """|A_L|², |A_R|² per flavour (3, n) each: e-_L and e-_R amplitudes of e+e- → ν_f ν̄_f."""
    s = np.asarray(s_prime_gev2, dtype=float)
    if z_propagator:
        pz = M_Z_GEV**2 / (M_Z_GEV**2 - s - 1j * M_Z_GEV * GAMMA_Z_GEV)
    else:
        pz = np.ones_like(s) + 0j
    a_l = _G_L * pz
    a_r = _G_R * pz
    left = np.stack([np.abs(a_l + 1.0) ** 2, np.abs(a_l) ** 2, np.abs(a_l) ** 2])
    right = np.stack([np.abs(a_r) ** 2] * 3)
    return left, right


def neutrino_flavour_weights(s_prime_gev2, z_propagator: bool = False) -> np.ndarray:
    """Weights (3, n) of ν_e, ν_μ, ν_τ in σ(e+e- → νν̄); they sum to Σ of docs/physics.md §5
    (generator.monophoton.nunu_sigma_factor)."""
    left, right = _chiral_amplitudes(s_prime_gev2, z_propagator)
    return 2.0 * (left + right)


def _sample_cos_helicity(u, a, b):
    """cos θ from dN/dc ∝ a (1 + c)² + b (1 - c)² on [-1, 1] by inverse CDF.

    The CDF [a (1 + c)³ + b (8 - (1 - c)³)] / (8 (a + b)) = u is the cubic
    c³ + 3k c² + 3c + k - R = 0, k = (a - b)/(a + b), R = 8u - 4(1 - k); with c = t - k it becomes
    t³ + p t + q = 0, p = 3(1 - k²) >= 0, q = 2k³ - 2k - R, whose single real root is
    t = -2 (p/3)^½ sinh(arsinh((3q/2p)(3/p)^½)/3) (p > 0) or t = -q^⅓ (p = 0).
    """
    k = (a - b) / (a + b)
    r = 8.0 * u - 4.0 * (1.0 - k)
    p = 3.0 * (1.0 - k * k)
    q = 2.0 * k**3 - 2.0 * k - r
    small = p < 1e-12
    ps = np.where(small, 1.0, p)
    root = np.sqrt(ps / 3.0)
    t = np.where(small, np.cbrt(-q), -2.0 * root * np.sinh(np.arcsinh(1.5 * q / (ps * root)) / 3.0))
    return np.clip(t - k, -1.0, 1.0)


def _perp_basis(n):
    """Two unit vectors orthogonal to the unit vectors n (3, m) (x̂, ŷ for n = ẑ)."""
    # e1 = normalise(ŷ × n) (= x̂ for n = ẑ), e2 = n × e1 (= ŷ)
    e1 = np.stack([n[2], np.zeros_like(n[0]), -n[0]])
    e1 = _unit(e1)
    e2 = np.stack([n[1] * e1[2] - n[2] * e1[1], n[2] * e1[0] - n[0] * e1[2], n[0] * e1[1] - n[1] * e1[0]])
    return e1, e2


def _split_neutrinos(q_lab, beta_cm, axis_cm, u, z_propagator):
    """ν and ν̄ (4, n) each and the flavour index (n,) from the νν̄ system q_lab (4, n)."""
    q_cm = _boost(q_lab, -beta_cm)
    m2 = np.clip(q_cm[0] ** 2 - np.sum(q_cm[1:] ** 2, axis=0), 0.0, None)
    mq = np.sqrt(m2)
    weights = neutrino_flavour_weights(m2, z_propagator)
    cum = np.cumsum(weights, axis=0)
    flavour = np.minimum(np.sum(u[0] * cum[-1] >= cum, axis=0), 2)
    left, right = _chiral_amplitudes(m2, z_propagator)
    a = np.take_along_axis(left, flavour[None], axis=0)[0]
    b = np.take_along_axis(right, flavour[None], axis=0)[0]
    c = _sample_cos_helicity(u[1], a, b)
    s = np.sqrt(np.clip(1.0 - c * c, 0.0, None))
    phi = 2.0 * np.pi * u[2]
    e1, e2 = _perp_basis(axis_cm)
    d = c * axis_cm + s * (np.cos(phi) * e1 + np.sin(phi) * e2)
    half = 0.5 * mq
    nu_rest = np.concatenate([half[None], half * d])
    nubar_rest = np.concatenate([half[None], -half * d])
    b_q = q_cm[1:] / np.where(q_cm[0] > 0.0, q_cm[0], 1.0)
    nu = _boost(_boost(nu_rest, b_q), beta_cm)
    nubar = _boost(_boost(nubar_rest, b_q), beta_cm)
    # exact masslessness after the boosts (round-off only)
    for v in (nu, nubar):
        v[0] = np.sqrt(np.sum(v[1:] ** 2, axis=0))
    return nu, nubar, flavour


# ------------------------------------------------------------------------------------------
# The builder
# ------------------------------------------------------------------------------------------
def process_name(events) -> str:
    """The process of a chunk, from its fields (:data:`PROCESSES`)."""
    fields = set(events.fields)
    for name in ("chi_pair", "chi_pair_gamma", "eeg", "ggg", "nunu_gamma", "gg"):
        if set(PROCESSES[name]) <= fields:
            return name
    raise ValueError(f"cannot tell the process from the event fields {sorted(fields)}")


def final_state_uniforms(name: str) -> int:
    """Number of uniforms per event :func:`final_state` needs for process ``name``."""
    return 3 if name == "nunu_gamma" else 0


def _parameter(process, name):
    for obj in (process, getattr(process, "inner", None)):
        if obj is not None and getattr(obj, name, None) is not None:
            return getattr(obj, name)
    return None


def final_state(
    events,
    process=None,
    *,
    u=None,
    chi_pdg: int | None = None,
    mass_gev: float | None = None,
    epsilon: float | None = None,
    spin: str | None = None,
    z_propagator: bool | None = None,
    vertex_mm=None,
    beams=None,
) -> FinalState:
    """Full final state of a chunk of ``events`` (the awkward output of a process's ``generate``).

    ``process``: the process object (its ``mass_gev``, ``epsilon``, ``spin``, ``z_propagator`` are
    used; a wrapper with ``inner`` is looked through) -- explicit keywords override it; the process
    itself is recognised from the event fields. ``u``: uniforms (3, n) for ``nunu_gamma`` (flavour,
    cos θ, φ of the ν; :func:`final_state_uniforms`), ignored otherwise. ``chi_pdg``: id of χ
    (default :data:`DEFAULT_CHI_PDG` by spin). ``vertex_mm``: (n, 4) or (4,) event vertex
    (x, y, z, c t) [mm], default the origin. ``beams``: optional lab beam four-momenta
    (p_e-, p_e+), each (4, n) as (E, px, py, pz) [GeV], instead of the reconstruction of
    :func:`reconstruct_beams`. Weights are copied as given (pb).
    """
    name = process_name(events)
    n = len(events)
    spin = spin or _parameter(process, "spin") or "dirac"
    chi_pdg = int(chi_pdg if chi_pdg is not None else DEFAULT_CHI_PDG[spin])
    zero = np.zeros(n)

    # outgoing particles: (four-momentum (4, n), pdg (n,), mass [GeV], present (n,) or None)
    outgoing = []
    info = {"process": name}
    if name in ("chi_pair", "chi_pair_gamma"):
        chi, chibar = _four(events["chi"]), _four(events["chibar"])
        m = mass_gev if mass_gev is not None else _parameter(process, "mass_gev")
        if m is None:
            m = float(np.median(np.sqrt(np.clip(chi[0] ** 2 - np.sum(chi[1:] ** 2, axis=0), 0.0, None))))
        eps = epsilon if epsilon is not None else _parameter(process, "epsilon")
        if eps is None and "charge" in events["chi"].fields:
            eps = -float(np.asarray(events["chi"]["charge"])[0]) if n else None
        eps = None if eps is None else float(eps)
        charge = None if eps is None else -eps
        info.update({"chi_pdg": chi_pdg, "mass_gev": float(m), "epsilon": eps, "chi_charge_e": charge, "spin": spin})
        if name == "chi_pair_gamma":
            outgoing.append((_four(events["gamma"]), PDG_PHOTON, 0.0, None))
        outgoing.append((chi, chi_pdg, float(m), None))
        outgoing.append((chibar, -chi_pdg, float(m), None))
        if name == "chi_pair":
            isr = _four(events["isr"])
            outgoing.append((isr, PDG_PHOTON, 0.0, isr[0] > 0.0))
    elif name == "nunu_gamma":
        outgoing.append((_four(events["gamma"]), PDG_PHOTON, 0.0, None))
    elif name in ("ggg", "gg"):
        outgoing.extend((_four(events[f]), PDG_PHOTON, 0.0, None) for f in PROCESSES[name])
    else:  # eeg
        outgoing.append((_four(events["gamma"]), PDG_PHOTON, 0.0, None))
        outgoing.append((_four(events["positron"]), -PDG_ELECTRON, M_E_GEV, None))
        outgoing.append((_four(events["electron"]), PDG_ELECTRON, M_E_GEV, None))

    # total four-momentum of the final state = sum of the beams
    p_total = sum(p for p, *_ in outgoing)
    if name == "nunu_gamma":
        p_total = p_total + _four(events["missing"])
    if beams is None:
        p_electron, p_positron, axis = reconstruct_beams(p_total)
    else:
        p_electron, p_positron = (np.asarray(b, dtype=float) for b in beams)
        beta = (p_electron[1:] + p_positron[1:]) / (p_electron[0] + p_positron[0])
        axis = _unit(_boost(p_electron, -beta)[1:])

    if name == "nunu_gamma":
        if u is None:
            raise ValueError("nunu_gamma needs uniforms u of shape (3, n) for the neutrino flavour and angle")
        u = np.asarray(u, dtype=float)
        if u.shape != (3, n):
            raise ValueError(f"nunu_gamma: u must have shape (3, {n}), got {u.shape}")
        zp = bool(z_propagator if z_propagator is not None else (_parameter(process, "z_propagator") or False))
        beta = p_total[1:] / p_total[0]
        nu, nubar, flavour = _split_neutrinos(_four(events["missing"]), beta, axis, u, zp)
        pdg_nu = np.asarray(PDG_NEUTRINOS)[flavour]
        outgoing.append((nu, pdg_nu, 0.0, None))
        outgoing.append((nubar, -pdg_nu, 0.0, None))
        info["z_propagator"] = zp

    k = 2 + len(outgoing)
    pdg = np.empty((n, k), dtype=np.int32)
    status = np.full((n, k), STATUS_FINAL, dtype=np.int8)
    mother1 = np.ones((n, k), dtype=np.int16)
    mother2 = np.full((n, k), 2, dtype=np.int16)
    mom = np.empty((4, n, k))
    mass = np.empty((n, k))
    present = np.ones((n, k), dtype=bool)

    pdg[:, 0], pdg[:, 1] = PDG_ELECTRON, -PDG_ELECTRON
    status[:, :2] = STATUS_BEAM
    mother1[:, :2] = mother2[:, :2] = 0
    mom[:, :, 0], mom[:, :, 1] = p_electron, p_positron
    mass[:, :2] = M_E_GEV
    for j, (p, ids, m, here) in enumerate(outgoing, start=2):
        mom[:, :, j] = p
        pdg[:, j] = ids
        mass[:, j] = m
        if here is not None:
            present[:, j] = here

    scale = np.sqrt(np.clip(p_total[0] ** 2 - np.sum(p_total[1:] ** 2, axis=0), 0.0, None))
    if name == "chi_pair":
        # the ISR photon is radiated by the beam it travels along (lab: collinear with it)
        isr = mom[:, :, k - 1]
        d_e = p_electron[1:] / np.sqrt(np.sum(p_electron[1:] ** 2, axis=0))
        d_p = p_positron[1:] / np.sqrt(np.sum(p_positron[1:] ** 2, axis=0))
        side = np.where(np.sum(isr[1:] * (d_e - d_p), axis=0) >= 0.0, 1, 2)
        mother1[:, k - 1] = side
        mother2[:, k - 1] = 0
        hard = p_total - isr
        scale = np.sqrt(np.clip(hard[0] ** 2 - np.sum(hard[1:] ** 2, axis=0), 0.0, None))
        # x = 0: the photon slot is absent; keep its columns tidy
        mom[:, ~present[:, k - 1], k - 1] = 0.0

    if vertex_mm is None:
        vertex = np.zeros((n, 4))
    else:
        vertex = np.broadcast_to(np.asarray(vertex_mm, dtype=float), (n, 4)).copy()
    weight = np.asarray(events["weight"], dtype=float) if "weight" in events.fields else np.ones(n)
    return FinalState(
        pdg=pdg,
        status=status,
        mother1=mother1,
        mother2=mother2,
        px=mom[1],
        py=mom[2],
        pz=mom[3],
        e=mom[0],
        mass=mass,
        present=present,
        weight=weight + zero,
        vertex_mm=vertex,
        scale_gev=scale,
        info=info,
    )
