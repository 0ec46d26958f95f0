"""Card validation: every bad card gets a one-paragraph message naming file, field, value."""

from __future__ import annotations

import pytest
import yaml
from conftest import CARDS

from mcpgen.build import ChiPairCard, MonophotonCard, card_from_dict, load_card
from mcpgen.card import DEFAULTS, bundled_cards, read_card
from mcpgen.errors import CardError

GOOD = yaml.safe_load((CARDS / "sct_3gev.yaml").read_text())


@pytest.mark.parametrize("name", sorted(p.name for p in CARDS.glob("*.yaml")))
def test_bundled_cards_load(name):
    card = load_card(CARDS / name)
    if isinstance(card, MonophotonCard):
        assert card.kind == "monophoton" and all(d.luminosity_pb > 0 for d in card.datasets)
    else:
        assert isinstance(card, ChiPairCard) and card.luminosity_pb > 0


def test_units_are_converted():
    card = load_card(CARDS / "sct_3gev.yaml")
    assert card.beams.sqrt_s0_gev == pytest.approx(3.0)
    assert card.beams.sigma_sqrt_s_gev == pytest.approx(2.1e-3)
    assert card.luminosity_pb == pytest.approx(1e5)  # 100 fb^-1 = 1e5 pb^-1
    assert card.process.mass_gev == pytest.approx(1.5)


# (override, expected fragments of the message)
BAD = [
    ("mcp.mass=null", ["mcp.mass", "None", "wrong type"]),
    ("mcp.mass=-1.5 GeV", ["mcp.mass", "-1.5 GeV", "positive energy"]),
    ("mcp.mass=1.5 kg", ["mcp.mass", "1.5 kg", "units: eV, keV, MeV, GeV, TeV"]),
    ("mcp.mass=1.5", ["mcp.mass", "1.5", "wrong type", "e.g. '3.0 GeV'"]),
    ("mcp.mass=1.6 GeV", ["mcp.mass", "1.6 GeV", "threshold", "reach", "allowed: m <"]),
    ("mcp.epsilon=0", ["mcp.epsilon", "0", "must be > 0"]),
    ("mcp.epsilon=2", ["mcp.epsilon", "2", "<= 1"]),
    ("mcp.epsilon=three", ["mcp.epsilon", "three", "wrong type"]),
    ("mcp.spin=majorana", ["mcp.spin", "majorana", "dirac, scalar"]),
    ("process.name=chi_triplet", ["process.name", "chi_triplet", "allowed values: chi_pair"]),
    ("mcp.colour=red", ["mcp.colour", "red", "not a known field", "epsilon, mass, spin"]),
    ("beams.spread.sigma_sqrt_s=2.1 MeV/c", ["beams.spread.sigma_sqrt_s", "2.1 MeV/c"]),
    ("beams.spread.model=gaussian", ["beams.spread.model", "gaussian_sqrt_s"]),
    ("analysis.luminosity=100 GeV", ["analysis.luminosity", "100 GeV", "fb^-1"]),
    ("isr.kernel=exact", ["isr.kernel", "exact", "kuraev_fadin, gorbunov, off"]),
    ("isr.x_max=1.5", ["isr.x_max", "1.5", "kinematic"]),
    ("run.seed=-3", ["run.seed", "-3", ">= 0"]),
    ("run.chunk_size=0", ["run.chunk_size", "0", ">= 1"]),
    ("output.compression=gzip", ["output.compression", "gzip", "lz4"]),
    ("version=2", ["version", "2", "version: 1"]),
    ("beams.electron_energy=7 GeV", ["beams", "either sqrt_s"]),
]


@pytest.mark.parametrize(("override", "fragments"), BAD, ids=[b[0] for b in BAD])
def test_bad_card_message(override, fragments):
    with pytest.raises(CardError) as info:
        load_card(CARDS / "sct_3gev.yaml", [override])
    message = str(info.value)
    assert str(CARDS / "sct_3gev.yaml") in message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_missing_field():
    raw = {k: v for k, v in GOOD.items() if k != "mcp"}
    with pytest.raises(CardError, match=r"field 'mcp.mass' is missing \(required\)"):
        card_from_dict(raw, "x.yaml")
    raw = yaml.safe_load((CARDS / "sct_3gev.yaml").read_text())
    del raw["mcp"]["mass"]
    with pytest.raises(CardError, match=r"x.yaml: field 'mcp.mass' is missing"):
        card_from_dict(raw, "x.yaml")


def test_spread_model_needs_its_width():
    raw = yaml.safe_load((CARDS / "sct_3gev.yaml").read_text())
    raw["beams"]["spread"] = {"model": "gaussian_sqrt_s"}
    with pytest.raises(CardError, match="sigma_sqrt_s.*required by spread model"):
        card_from_dict(raw, "x.yaml")
    raw["beams"]["spread"] = {"model": "none", "sigma_sqrt_s": "2 MeV"}
    with pytest.raises(CardError, match="does not apply to spread model 'none'"):
        card_from_dict(raw, "x.yaml")


def test_not_yaml_and_not_found(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("beams: [1, 2\nmcp: {")
    with pytest.raises(CardError, match=r"bad.yaml: not valid YAML at line"):
        load_card(bad)
    with pytest.raises(CardError, match="not found"):
        load_card(tmp_path / "missing.yaml")
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(CardError, match="top level must be a mapping"):
        load_card(top)


def test_bad_override_syntax():
    with pytest.raises(CardError, match="expected path.to.field=value"):
        load_card(CARDS / "sct_3gev.yaml", ["mcp.epsilon"])
    with pytest.raises(CardError, match="is not a section"):
        load_card(CARDS / "sct_3gev.yaml", ["mcp.spin.x=1"])


def test_yaml_scalars_as_physicists_write_them(tmp_path):
    """`kernel: off` is the 'off' kernel and `epsilon: 1e-3` a number (YAML 1.1 would say false / a string)."""
    text = (CARDS / "sct_3gev.yaml").read_text().replace("kernel: kuraev_fadin", "kernel: off")
    path = tmp_path / "card.yaml"
    path.write_text(text.replace("epsilon: 3.0e-3", "epsilon: 1e-3"))
    card = load_card(path)
    assert card.process.isr == "off"
    assert card.process.epsilon == 1e-3


def test_bundled_card_by_name(tmp_path, monkeypatch):
    """A card shipped with mcpgen is found by its name from any directory; a path still wins."""
    assert set(bundled_cards()) == {p.stem for p in CARDS.glob("*.yaml")}
    monkeypatch.chdir(tmp_path)
    by_name = load_card("sct_3gev")
    assert by_name.data == load_card(CARDS / "sct_3gev.yaml").data
    assert load_card("belle2.yaml").experiment == "belle2"
    (tmp_path / "sct_3gev.yaml").write_text((CARDS / "sct_3gev.yaml").read_text().replace("1.5 GeV", "1.4 GeV"))
    assert load_card("sct_3gev.yaml").process.mass_gev == pytest.approx(1.4)
    with pytest.raises(CardError, match="nope not found .bundled cards: .*sct_3gev"):
        load_card("nope")


def test_defaults_resolved_in_one_place():
    """Every default appears in the resolved card (recorded in the outputs), per card kind."""
    chi = read_card(CARDS / "sct_3gev.yaml", ["run={}"]).data
    assert chi["run"] == DEFAULTS["common"]["run"]
    assert chi["detector"]["finder"]["random_trigger_events"] == DEFAULTS["finder"]["random_trigger_events"]
    mono = read_card(CARDS / "belle2.yaml", ["generation={}", "detector={ecl: {}}", "analysis={}"]).data
    assert mono["generation"] == {"e_gamma_min": "25 MeV", "cos_theta_max": 0.95}  # cos_theta_max = cos_theta_b
    assert mono["detector"]["ecl"] == {"preset": "belle2"}
    assert "isr" not in mono and "process" not in mono


def test_card_kind_discriminator():
    """The schema picks the card kind: tracker-card fields are unknown in a monophoton card."""
    with pytest.raises(CardError, match="field 'isr' = .* is not a known field; allowed fields in '<top level>'"):
        load_card(CARDS / "belle2.yaml", ["isr={kernel: off}"])
    with pytest.raises(CardError, match="a monophoton card uses 'processes'"):
        load_card(CARDS / "sct_3gev.yaml", ["experiment=bes3"])
    with pytest.raises(CardError, match="field 'processes' is missing"):
        card_from_dict({**{k: v for k, v in GOOD.items() if k != "process"}, "experiment": "bes3"}, "x.yaml")
    with pytest.raises(CardError) as info:
        load_card(CARDS / "sct_3gev.yaml", ["analysis.luminosity=0 fb^-1"])
    assert info.value.field == "analysis.luminosity" and info.value.value == "0 fb^-1"
