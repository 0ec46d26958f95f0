"""pyhf workspaces behind the CLs limits of 'mcpgen scan', and the confidence level (90 or 95 %).

A Belle II scan (two masses, small samples) writes one workspace per chain and mass. Each is
refitted with plain pyhf (schema validation, Workspace -> model -> hypotest at mu = 1) and must give
the CLs the tool reports at its limit, 1 - CL, within 1 %. The limit itself is checked against the
asymptotic formula of Cowan, Cranmer, Gross, Vitells (Eur. Phys. J. C71 (2011) 1554): on
background-only Asimov data q_mu,A = 2 sum_i [S_i - B_i ln(1 + S_i/B_i)] and the median expected
CLs = 2 [1 - Phi(sqrt(q_mu,A))] (eq. 65 with CLs = p_mu / (1 - p_b), p_b = 1/2), solved here
independently of pyhf.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyhf
import pytest
from click.testing import CliRunner
from scipy.optimize import brentq
from scipy.stats import norm

from analysis.limits import cls_mu_upper_limit, cls_workspace, delta_chi2_for, zero_background_events
from analysis.scan import EPS_REF
from mcpgen.cli import main

SCAN = (
    *("--set", "scan.mass={from: 20 MeV, to: 2 GeV, n: 2, log: true}"),
    *("--set", "scan.background_events=5000", "-n", "1000", "--seed", "3"),
)


def _scan(out, *extra):
    args = ["scan", "--card", "belle2", "--out", str(out), *SCAN, *extra]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((out / "scan.json").read_text())


@pytest.fixture(scope="module", params=[90, 95])
def scan(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"scan{request.param}")
    extra = ("--cl", str(request.param)) if request.param == 90 else ()  # 95 is the card default
    return request.param / 100, out, _scan(out, *extra)


def _asimov_s_up(b, shape, cl):
    """Total signal (bins in proportion ``shape``) at which the median expected CLs is 1 - cl."""
    target = norm.ppf(1.0 - (1.0 - cl) / 2.0)
    shape = np.asarray(shape) / np.sum(shape)

    def f(total):
        s = total * shape
        return math.sqrt(2.0 * np.sum(s - b * np.log1p(s / b))) - target

    return brentq(f, 1e-6, 1e3 * (3 + math.sqrt(b.sum())), xtol=1e-10, rtol=1e-12)


def test_workspaces_refit_to_the_reported_cls(scan):
    cl, out, payload = scan
    assert payload["cl"] == cl and payload["card_resolved"]["scan"]["cl"] == round(100 * cl)
    index = json.loads((out / "workspaces" / "index.json").read_text())
    assert index["cl"] == cl and index["workspaces"]
    chains = payload["chains"]
    masses = payload["masses_gev"]
    n_finite = sum(np.isfinite(payload["limits"]["cls"][c][i]) for c in chains for i in range(len(masses)))
    assert len(index["workspaces"]) == n_finite  # one workspace behind every CLs limit reported
    for entry in index["workspaces"]:
        spec = json.loads((out / "workspaces" / entry["file"]).read_text())
        pyhf.schema.validate(spec, "workspace.json")
        assert spec["measurements"][0]["name"].startswith(f"expected_cls_{round(100 * cl)}cl")
        pyhf.set_backend("numpy")
        workspace = pyhf.Workspace(spec)
        model = workspace.model()
        cls = float(pyhf.infer.hypotest(1.0, workspace.data(model), model, test_stat="qtilde"))
        assert entry["calculator"] == "asymptotics"  # Belle II backgrounds are large
        assert cls == pytest.approx(entry["cls_at_limit"], rel=1e-6)
        assert cls == pytest.approx(1.0 - cl, rel=0.01)
        # the limit reported in scan.json is the workspace's signal strength 1
        i = masses.index(entry["mass_gev"])
        eps = payload["limits"]["cls"][entry["chain"]][i]
        assert eps == entry["eps_limit"]
        s = np.array(spec["channels"][0]["samples"][0]["data"])
        b = np.array(spec["channels"][0]["samples"][1]["data"])
        s_ref = payload["signal_events_at_eps1"][entry["chain"]][i]
        assert s.sum() == pytest.approx(s_ref * (eps / EPS_REF) ** 2, rel=1e-12)
        # and the CCGV Asimov formula, solved without pyhf
        assert s.sum() == pytest.approx(_asimov_s_up(b, s, cl), rel=2e-3)


def test_cl_choices():
    assert delta_chi2_for(0.95) == 2.71 and delta_chi2_for(90) == pytest.approx(1.2815516**2, rel=1e-6)
    assert zero_background_events(0.95) == 3.0 and zero_background_events(0.9) == pytest.approx(math.log(10))
    with pytest.raises(ValueError):
        delta_chi2_for(0.68)
    # one bin: the 90 % limit is smaller by Phi^-1(0.95)/Phi^-1(0.975) for B >> S
    b = 1e6
    ratio = cls_mu_upper_limit([1.0], [b], cl=0.90) / cls_mu_upper_limit([1.0], [b], cl=0.95)
    assert ratio == pytest.approx(norm.ppf(0.95) / norm.ppf(0.975), rel=2e-3)


@pytest.mark.parametrize("b", [50.0, 1e4, 6.25e7])
def test_cls_limit_matches_the_asimov_formula_at_any_background(b):
    """Down to the huge gap backgrounds of Belle II's high-mass region (6.25e7 events)."""
    for cl in (0.90, 0.95):
        s_up = cls_mu_upper_limit([1.0], [b], cl=cl)
        assert s_up == pytest.approx(_asimov_s_up(np.array([b]), [1.0], cl), rel=2e-3)
        spec = cls_workspace([s_up], [b], cl=cl)
        pyhf.schema.validate(spec, "workspace.json")


def test_cl_option_is_checked():
    result = CliRunner().invoke(main, ["scan", "--card", "belle2", "--cl", "68"])
    assert result.exit_code == 2 and "90 or 95" in result.output


def test_scan_root_histograms_carry_titles_and_axis_labels(scan):
    import uproot

    cl, out, payload = scan
    with uproot.open(out / "scan.root") as f:
        h = f["eps_limit_cls_best"]
        assert "upper limit" in h.member("fTitle") and h.member("fXaxis").member("fTitle") == "m_{#chi} [GeV]"
        values = np.nan_to_num(np.asarray(payload["best"]["cls"], dtype=float))
        np.testing.assert_allclose(h.values(), values, rtol=1e-15)
        h2 = f[f"signal_events_{payload['chains'][0]}"]
        assert h2.member("fYaxis").member("fTitle").startswith("#varepsilon")
