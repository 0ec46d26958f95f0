"""Tests of detsim.materials: table values (G, PDG) and gas mixing rules."""

from __future__ import annotations

import dataclasses
import math

import pytest

from detsim.materials import MATERIALS, Material, gas_mixture, material

EV = 1e-9  # GeV per eV, written out independently of the module


def test_propane_reproduces_gorbunov_numbers():
    # G section 3: Z = 26, A = 44.1 g/mol, I = 11 eV, rho = 1.864e-3 g/cm^3.
    p = material("propane")
    assert p.density_g_cm3 == pytest.approx(1.864e-3, rel=1e-12)
    assert p.z_over_a == pytest.approx(26.0 / 44.1, rel=1e-12)
    assert p.mean_excitation_gev == pytest.approx(11.0 * EV, rel=1e-12)
    # docs/physics.md section 7: W = 23.7 eV, n_p ~ 69/cm.
    assert p.w_value_gev == pytest.approx(23.7 * EV, rel=1e-12)
    assert p.primary_clusters_per_cm == pytest.approx(69.0)
    assert p.phase == "gas"


def test_pdg_propane_differs_in_i():
    p = material("propane_pdg")
    assert p.mean_excitation_gev == pytest.approx(47.1 * EV, rel=1e-12)
    assert p.z_over_a == pytest.approx(0.58962, rel=1e-5)


def test_isobutane_and_helium_table_35_5():
    ib = material("iC4H10")
    assert ib is material("isobutane")
    assert ib.primary_clusters_per_cm == 90.0
    assert ib.w_value_gev == pytest.approx(26.0 * EV)
    he = material("He")
    assert 3.5 <= he.primary_clusters_per_cm <= 5.9  # docs/physics.md section 7 range
    assert he.w_value_gev == pytest.approx(41.3 * EV)


@pytest.mark.parametrize(
    "name, x0_cm",
    # PDG atomic & nuclear properties: X0 in cm for the solids.
    [("beryllium", 35.28), ("aluminium", 8.897), ("carbon", 42.70 / 2.21)],
)
def test_radiation_length_solids(name, x0_cm):
    assert material(name).radiation_length_cm == pytest.approx(x0_cm, rel=2e-3)


def test_solids_have_no_gas_quantities():
    for name in ("beryllium", "aluminium", "carbon", "carbon_fibre"):
        m = material(name)
        assert m.phase == "solid"
        assert m.primary_clusters_per_cm is None


def test_material_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        material("propane").density_g_cm3 = 1.0  # type: ignore[misc]


def test_he_propane_60_40_mixture():
    he, c3 = material("helium"), material("propane")
    mix = gas_mixture({"helium": 0.6, "propane": 0.4})
    # docs/physics.md section 7: n_p = sum_i x_i n_p,i (volume fractions).
    n_ref = 0.6 * he.primary_clusters_per_cm + 0.4 * c3.primary_clusters_per_cm
    assert mix.primary_clusters_per_cm == pytest.approx(n_ref, rel=1e-12)
    # Ideal gases at the same P, T: rho = sum x_i rho_i, between the components.
    rho_ref = 0.6 * he.density_g_cm3 + 0.4 * c3.density_g_cm3
    assert mix.density_g_cm3 == pytest.approx(rho_ref, rel=1e-12)
    assert he.density_g_cm3 < mix.density_g_cm3 < c3.density_g_cm3
    # Mass fractions and the PDG (Bragg) rules, written out here.
    w_he = 0.6 * he.density_g_cm3 / rho_ref
    w_c3 = 1.0 - w_he
    za = w_he * he.z_over_a + w_c3 * c3.z_over_a
    assert mix.z_over_a == pytest.approx(za, rel=1e-12)
    ln_i = (
        w_he * he.z_over_a * math.log(he.mean_excitation_gev) + w_c3 * c3.z_over_a * math.log(c3.mean_excitation_gev)
    ) / za
    assert mix.mean_excitation_gev == pytest.approx(math.exp(ln_i), rel=1e-12)
    assert min(he.w_value_gev, c3.w_value_gev) < mix.w_value_gev < max(he.w_value_gev, c3.w_value_gev)
    assert mix.phase == "gas"
    assert "helium" in mix.name and "propane" in mix.name


def test_mass_fractions_equivalent_to_volume_fractions():
    he, c3 = material("helium"), material("propane")
    rho = 0.6 * he.density_g_cm3 + 0.4 * c3.density_g_cm3
    w_he = 0.6 * he.density_g_cm3 / rho
    by_vol = gas_mixture({"helium": 0.6, "propane": 0.4})
    by_mass = gas_mixture({"helium": w_he, "propane": 1 - w_he}, by="mass")
    for field in (
        "density_g_cm3",
        "z_over_a",
        "mean_excitation_gev",
        "primary_clusters_per_cm",
        "w_value_gev",
        "radiation_length_cm",
    ):
        assert getattr(by_mass, field) == pytest.approx(getattr(by_vol, field), rel=1e-10)


def test_single_component_mixture_is_the_component_and_pressure_scales():
    c3 = material("isobutane")
    one = gas_mixture({"isobutane": 1.0})
    for field in (
        "density_g_cm3",
        "z_over_a",
        "mean_excitation_gev",
        "w_value_gev",
        "primary_clusters_per_cm",
        "radiation_length_cm",
    ):
        assert getattr(one, field) == pytest.approx(getattr(c3, field), rel=1e-12)
    two = gas_mixture({"isobutane": 1.0}, pressure_atm=2.0)
    assert two.density_g_cm3 == pytest.approx(2 * c3.density_g_cm3)
    assert two.primary_clusters_per_cm == pytest.approx(2 * c3.primary_clusters_per_cm)
    assert two.radiation_length_cm == pytest.approx(c3.radiation_length_cm / 2)
    assert two.mean_excitation_gev == pytest.approx(c3.mean_excitation_gev)


def test_unknown_component_names_allowed_gases():
    with pytest.raises(ValueError, match=r"unknown gas 'xenon'.*allowed: .*helium"):
        gas_mixture({"xenon": 0.5, "propane": 0.5})


def test_fractions_must_sum_to_one():
    with pytest.raises(ValueError, match="sum to 1, got 0.9"):
        gas_mixture({"helium": 0.5, "propane": 0.4})
    with pytest.raises(ValueError, match=">= 0"):
        gas_mixture({"helium": 1.5, "propane": -0.5})


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="not a gas"):
        gas_mixture({"beryllium": 0.5, "helium": 0.5})
    with pytest.raises(ValueError, match="'volume' or 'mass'"):
        gas_mixture({"helium": 1.0}, by="mole")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pressure_atm"):
        gas_mixture({"helium": 1.0}, pressure_atm=0.0)
    with pytest.raises(ValueError, match="empty"):
        gas_mixture({})
    with pytest.raises(ValueError, match=r"unknown material 'unobtainium'; allowed: .*propane"):
        material("unobtainium")
    with pytest.raises(ValueError, match="did you pass eV"):
        Material("bad", 1e-3, 0.5, 11.0)  # I given in eV instead of GeV


def test_table_sanity():
    for name, m in MATERIALS.items():
        assert m.name == name
        assert 0.4 < m.z_over_a < 0.65
        assert 1e-9 < m.mean_excitation_gev < 2e-7
        if m.phase == "gas":
            assert m.density_g_cm3 < 3e-3
            assert m.w_value_gev is not None and m.primary_clusters_per_cm is not None


# ------------------------------------------------------------------ stopping composition
def test_every_table_material_has_a_stopping_composition():
    for m in MATERIALS.values():
        assert m.stopping_composition is not None, m.name
        assert math.fsum(w for _, w in m.stopping_composition) == pytest.approx(1.0, abs=1e-12)
    # ICRU 49 molecular entries where tabulated, elements otherwise
    assert material("propane").stopping_composition == (("C3H8", 1.0),)
    assert material("propane_pdg").stopping_composition == (("C3H8", 1.0),)
    assert material("methane").stopping_composition == (("CH4", 1.0),)
    assert material("co2").stopping_composition == (("CO2", 1.0),)
    assert material("beryllium").stopping_composition == (("Be", 1.0),)
    # isobutane C4H10 by its atoms: w_C = 4 x 12.0107 / (4 x 12.0107 + 10 x 1.00794)
    w = dict(material("isobutane").stopping_composition)
    assert w["C"] == pytest.approx(48.0428 / 58.1222, rel=1e-6)
    assert w["H"] == pytest.approx(10.0794 / 58.1222, rel=1e-6)


def test_mixture_combines_stopping_compositions_by_mass():
    mix = gas_mixture({"argon": 0.7, "co2": 0.3})
    rho_ar, rho_co2 = 1.66201e-3, 1.84212e-3  # PDG, as in the table
    w_ar = 0.7 * rho_ar / (0.7 * rho_ar + 0.3 * rho_co2)
    w = dict(mix.stopping_composition)
    assert w == pytest.approx({"Ar": w_ar, "CO2": 1 - w_ar}, rel=1e-12)
    # same key from two components adds up; pressure does not change mass fractions
    mix2 = gas_mixture({"isobutane": 0.5, "ethane": 0.5}, by="mass", pressure_atm=2.0)
    w2 = dict(mix2.stopping_composition)
    wi, we = dict(material("isobutane").stopping_composition), dict(material("ethane").stopping_composition)
    assert w2["C"] == pytest.approx(0.5 * wi["C"] + 0.5 * we["C"], rel=1e-12)
    assert w2["H"] == pytest.approx(0.5 * wi["H"] + 0.5 * we["H"], rel=1e-12)
    # a component without one makes the mixture have none
    bare = dataclasses.replace(material("helium"), name="he_bare", stopping_composition=None)
    assert gas_mixture({bare: 0.5, "propane": 0.5}).stopping_composition is None


def test_stopping_composition_is_validated():
    ok = Material("x", 1.0, 0.5, 50 * EV, stopping_composition=[("C", 0.5), ("H", 0.5)])
    assert ok.stopping_composition == (("C", 0.5), ("H", 0.5))  # stored as a tuple (hashable)
    hash(ok)
    with pytest.raises(ValueError, match="unknown stopping key 'Kr'"):
        Material("x", 1.0, 0.5, 50 * EV, stopping_composition=(("Kr", 1.0),))
    with pytest.raises(ValueError, match="sum to 1"):
        Material("x", 1.0, 0.5, 50 * EV, stopping_composition=(("C", 0.5),))
    with pytest.raises(ValueError, match="must be > 0"):
        Material("x", 1.0, 0.5, 50 * EV, stopping_composition=(("C", 1.2), ("H", -0.2)))
