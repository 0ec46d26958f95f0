"""mcpgen validate: the table's MC rows agree with the independent analytic integrals."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import CARDS, ROOT
from scipy import stats

from mcpgen import load_card
from mcpgen.validate import run_validate


def test_validate_tracker_card(tmp_path):
    result = run_validate(load_card(CARDS / "sct_3gev.yaml"), tmp_path, n_events=100_000)
    rows = {r["quantity"]: r for r in result["rows"]}
    for q in (
        "sigma, beam spread, no ISR [pb]",
        "sigma with ISR (gorbunov) [pb]",
        "sigma with ISR (kuraev_fadin) [pb]",
    ):
        assert abs(rows[q]["pull"]) < 3, rows[q]
    assert abs(rows["delta-electrons per chi (simulated path)"]["pull"]) < 3
    assert rows["<dE/dx> at production, eq. 6 vs eq. 4 [eV/cm]"]["rel_diff"] > 0.1  # eq. 6 underestimates here
    unbent = result["almost_unbent"]
    assert 0.3 < unbent["fraction_bent_beyond_3_sigma"] < 1.0
    assert (tmp_path / "sagitta.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "validation.json").read_text())["rows"]


def test_validate_cli_monophoton(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpgen.cli",
            "validate",
            "--card",
            str(CARDS / "stcf_4gev.yaml"),
            "--out",
            str(tmp_path),
            "-n",
            "40000",
            "--set",
            "processes=[{name: nunu_gamma}, {name: ggg}]",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads((tmp_path / "validation.json").read_text())["rows"]
    nunu = [r for r in rows if "nunu" in r["quantity"]]
    assert len(nunu) == 2 and all(abs(r["pull"]) < 3 for r in nunu)
    ggg = [r for r in rows if "ggg" in r["quantity"]]
    assert ggg and ggg[0]["mc"] == 0.0
    spec = json.loads((tmp_path / "validation.json").read_text())["spectrum"]
    mc, err, ana = (np.asarray(spec[k]) for k in ("mc_fb", "mc_err_fb", "analytic_fb"))
    chi2 = float(np.sum(((mc - ana) / err) ** 2))
    assert stats.chi2.sf(chi2, len(mc)) > 1e-3, chi2
    assert (tmp_path / "spectrum.png").stat().st_size > 10_000


@pytest.mark.parametrize("card_path", sorted(CARDS.glob("*.yaml")), ids=lambda p: p.stem)
def test_validate_every_bundled_card(tmp_path, card_path):
    """Every bundled card runs through ``mcpgen validate`` (tiny samples: no numbers checked here)."""
    run_validate(load_card(card_path), tmp_path, n_events=300, seed=5)
    assert "rows" in json.loads((tmp_path / "validation.json").read_text())
    assert (tmp_path / "validation.txt").exists()
