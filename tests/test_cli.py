"""The command line: a full run to ROOT + JSON, and clear errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import reference as ref
import uproot
from conftest import CARDS, ROOT

from mcpgen import load_card, run


def mcpgen(*args):
    return subprocess.run([sys.executable, "-m", "mcpgen.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_acceptance_run_1e6(tmp_path):
    """The README's first command: 1e6 entries, summary, sigma vs quadrature within 3 sigma."""
    out = tmp_path / "OUT"
    result = mcpgen("--card", "cards/sct_3gev.yaml", "-n", "1e6", "--seed", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    for key in ("cross_section_pb", "cross_section_err_pb", "n_events", "seed", "card", "versions"):
        assert key in summary
    assert summary["seed"] == 1 and summary["n_events"] == 10**6
    assert summary["card"]["mcp"]["mass"] == "1.5 GeV"
    with uproot.open(out / "events.root") as f:
        tree = f["events"]
        assert tree.num_entries == 10**6
        w = tree["weight"].array(library="np")
        stored = json.loads(str(f["mcpgen_summary"]))
        assert "mcp:" in str(f["mcpgen_card"])
    assert stored["seed"] == 1
    assert w.sum() == pytest.approx(summary["cross_section_pb"], rel=1e-9)
    expected = ref.sigma_spread_pb(3.0, 2.1e-3, 1.5, 3e-3, "dirac", "kuraev_fadin")
    assert abs(summary["cross_section_pb"] - expected) < 3 * summary["cross_section_err_pb"]
    assert summary["expected_events"] == pytest.approx(summary["cross_section_pb"] * 1e5)
    assert not list(out.glob(".*partial"))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-n", "0"], "-n '0' must be at least 1"),
        (["-n", "-5"], "must be at least 1"),
        (["-n", "1.5"], "not a whole number"),
        (["-n", "lots"], "not a number"),
        (["--seed", "x"], "--seed 'x' is not an integer"),
        (["--set", "mcp.epsilon=-1"], "field 'mcp.epsilon' = -1"),
        (["--set", "beams.spread.sigma_sqrt_s=2"], "beams.spread.sigma_sqrt_s"),
    ],
)
def test_bad_input_is_one_line_no_traceback(tmp_path, args, fragment):
    result = mcpgen("--card", "cards/sct_3gev.yaml", "--out", str(tmp_path), *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr
    assert not (tmp_path / "events.root").exists()


def test_missing_card_and_no_card(tmp_path):
    result = mcpgen("--card", "nope.yaml", "-n", "10")
    assert result.returncode == 2 and "nope.yaml not found" in result.stderr
    result = mcpgen("-n", "10")
    assert result.returncode == 2 and "no card given" in result.stderr


def test_set_override_reaches_the_output(tmp_path):
    result = mcpgen("--card", "cards/sct_3gev.yaml", "-n", "2e4", "--out", str(tmp_path), "--set", "mcp.epsilon=1e-3")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["card"]["mcp"]["epsilon"] == 1e-3
    assert summary["physics"]["epsilon"] == 1e-3


def test_interrupted_run_leaves_no_file(tmp_path, monkeypatch):
    """A failure mid-run (after chunks were written) leaves neither events.root nor temp files."""
    card = load_card(CARDS / "sct_3gev.yaml")
    calls = {"n": 0}
    original = type(card.process).generate

    def flaky(self, u):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, u)

    monkeypatch.setattr(type(card.process), "generate", flaky)
    with pytest.raises(KeyboardInterrupt):
        run(card, 50_000, tmp_path, seed=1, chunk_size=10_000, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_events_readable_as_vectors(tmp_path):
    import awkward as ak
    import vector

    card = load_card(CARDS / "sct_3gev.yaml")
    run(card, 5_000, tmp_path, seed=1, progress=False)
    with uproot.open(tmp_path / "events.root") as f:
        arrays = f["events"].arrays(["chi_px", "chi_py", "chi_pz", "chi_E"])
    chi = vector.zip({"px": arrays.chi_px, "py": arrays.chi_py, "pz": arrays.chi_pz, "E": arrays.chi_E})
    np.testing.assert_allclose(ak.to_numpy(chi.mass), 1.5, rtol=1e-9)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["scan", "--card", "cards/stcf_dc_3gev.yaml"], "has no 'scan' section"),
        (["scan", "--card", "cards/sct_3gev.yaml", "--set", "scan.mass.from=abc"], "field 'scan.mass.from' = 'abc'"),
        (["scan", "--card", "cards/sct_3gev.yaml", "--out", "/proc/mcpgen-no"], "cannot write output"),
        (["figure", "zz"], "unknown figure 'zz'; allowed: g1"),
        (["validate", "--card", "nope.yaml"], "nope.yaml not found"),
        (["scan", "--card", "cards/sct_3gev.yaml", "-n", "0"], "must be at least 1"),
    ],
)
def test_subcommand_errors_are_one_line(args, fragment):
    result = mcpgen(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr


def test_help_and_version_load_no_numerical_stack():
    """`mcpgen --help` / `--version` / `mcpgen scan --help` import click and mcpgen's option
    declarations only (a command loads its chain when it runs)."""
    code = (
        "import sys\n"
        "from mcpgen.cli import main\n"
        "for args in (['--help'], ['--version'], ['scan', '--help']):\n"
        "    try:\n"
        "        main(args, prog_name='mcpgen')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'numpy', 'awkward', 'scipy', 'numba', 'uproot', 'matplotlib', 'pyhf'} & set(sys.modules)\n"
        "print('HEAVY', sorted(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    lines = out.stdout.splitlines()
    assert "Commands:" in out.stdout and "mcpgen, version" in out.stdout
    assert "--card" in out.stdout  # scan's own options
    assert lines[-1] == "HEAVY []", out.stdout


def test_only_mcpgen_errors_become_exit_code_2(tmp_path, monkeypatch):
    """A user error is one line with exit code 2; any other exception is a bug and propagates."""
    from click.testing import CliRunner

    from mcpgen import cli, pipeline
    from mcpgen.errors import CardError

    def bug(*args, **kwargs):
        raise ValueError("not the user's fault")

    def user_error(*args, **kwargs):
        raise CardError("Invalid card x.yaml: field 'a' = 1: no.")

    runner = CliRunner()
    monkeypatch.setattr(pipeline, "run", bug)  # the run command imports it when it runs
    result = runner.invoke(cli.main, ["--card", "sct_3gev", "--out", str(tmp_path)])
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)
    monkeypatch.setattr(pipeline, "run", user_error)
    result = runner.invoke(cli.main, ["run", "--card", "sct_3gev", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "mcpgen: error: Invalid card x.yaml" in result.output


def test_bundled_card_by_name_from_any_directory(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpgen.cli",
            "--card",
            "sct_3gev",
            "-n",
            "2000",
            "--out",
            "o",
            "--set",
            "detector.finder.random_trigger_events=0",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["card_path"].endswith("sct_3gev.yaml") and summary["n_trials"] == 2000
