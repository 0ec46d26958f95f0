"""Hostile input: one reproducer per way a card or a command line used to end in a traceback, a
hang, a meaningless result or a stray file; output pairing, modes and bit-identical totals."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml
from click.testing import CliRunner
from conftest import CARDS

from analysis.cutflow import WeightSum, exact_float, exact_sum
from mcpgen import load_card
from mcpgen.cli import main
from mcpgen.errors import CardError
from mcpgen.output import RUN_MARKER, RootEventWriter, run_directory, safe_name, write_json_atomic

# --- cards: (card, --set overrides, field the message must name) ------------------------------

BAD_OVERRIDES = [
    # resource exhaustion from accepted input
    ("sct_3gev", ["detector.finder.random_trigger_events=1e12"], "detector.finder.random_trigger_events"),
    ("sct_3gev", ["scan.events_per_mass=1e300"], "scan.events_per_mass"),
    ("sct_3gev", ["detector.tracker.noise_occupancy=0.5"], "detector.tracker.noise_occupancy"),
    ("sct_3gev", ["detector.tracker.cell_size=1 um"], "detector.tracker.cell_size"),
    ("sct_3gev", ["detector.finder.min_hits=1000"], "detector.finder.min_hits"),
    ("sct_3gev", ["run.n_events=1e16"], "run.n_events"),
    ("sct_3gev", ["run.workers=1000000"], "run.workers"),
    # wrong results with exit 0
    ("bes3", ["processes=[{name: chi_pair_gamma}, {name: chi_pair_gamma}]"], "processes"),
    ("sct_3gev", ["mcp.epsilon=.nan"], "mcp.epsilon"),
    ("sct_3gev", ["mcp.mass=10 eV"], "mcp.mass"),
    ("sct_3gev", ["scan.epsilon={from: 0.5, to: 1e-6, n: 10}"], "scan.epsilon.to"),
    ("bes3", ["mcp.mass=2 GeV"], "mcp.mass"),
    ("bes3", ["generation.e_gamma_min=1.6 GeV"], "generation.e_gamma_min"),
    ("sct_3gev", ["detector.tracker.delta_t_min=0 keV"], "detector.tracker.delta_t_min"),
    ("sct_3gev", ["mcp.epsilon=1e400"], "mcp.epsilon"),
    ("belle2", ["analysis.belle2_regions.low_mass_polygon=[[0.1, .nan], [1, 2], [2, 3]]"], "low_mass_polygon.0.1"),
    ("belle2", ["analysis.gbg_events.low_mass=.inf"], "analysis.gbg_events.low_mass"),
    ("sct_3gev", ["detector.paper.n_delta=.inf"], "detector.paper.n_delta"),
    ("sct_3gev", ["beams.sqrt_s=1e30 GeV"], "beams.sqrt_s"),
    ("belle2", ["analysis.gbg_events.lowmass=5"], "analysis.gbg_events.lowmass"),
    ("sct_3gev", ["generation.e_gamma_min=1 GeV"], "generation"),
    ("sct_3gev", ["run.seed=1:30"], "run.seed"),
    # tracebacks
    ("sct_3gev", ["beams.sqrt_s=0 GeV"], "beams.sqrt_s"),
    ("sct_3gev", ["beams.sqrt_s=1e400 GeV"], "beams.sqrt_s"),
    ("sct_3gev", ["detector.tracker.resolution_rphi=0 um"], "detector.tracker.resolution_rphi"),
    ("sct_3gev", ["detector.finder.tolerance_sigmas=.inf"], "detector.finder.tolerance_sigmas"),
    ("sct_3gev", ["detector.finder.circle_min_radius=0 m"], "detector.finder.circle_min_radius"),
    ("bes3", ["beams.points.0.label=" + "x" * 40_000], "beams.points.0.label"),
    ("bes3", ["beams.spread={model: gaussian_sqrt_s}"], "beams.spread.sigma_sqrt_s"),
    ("sct_3gev", ["mcp.x=1", "mcp.1=2"], "mcp"),
    ("sct_3gev", ["run.seed=" + "9" * 4300], "run.seed"),
    ("sct_3gev", ["a" + ".a" * 1000 + "=1"], "field path"),
    ("sct_3gev", ["detector.tracker.layers=" + "[" * 1000 + "]" * 1000], "--set"),
    # path traversal through names that become file names
    ("sct_3gev", ["name=../../X"], "name"),
    ("sct_3gev", ["name=/tmp/X"], "name"),
    ("bes3", ["beams.points.0.label=../jpsi"], "beams.points.0.label"),
]


@pytest.mark.parametrize(("card", "overrides", "field"), BAD_OVERRIDES, ids=[str(b[1])[:60] for b in BAD_OVERRIDES])
def test_bad_override_is_one_clear_paragraph(card, overrides, field):
    with pytest.raises(CardError) as info:
        load_card(card, overrides)
    message = str(info.value)
    assert field in message
    assert "\n" not in message and len(message) < 800


def test_whole_float_counts_become_integers():
    card = load_card("sct_3gev", ["detector.tracker.layers=48.0", "scan.events_per_mass=2e4"])
    assert card.spec.data["detector"]["tracker"]["layers"] == 48
    assert isinstance(card.spec.data["scan"]["events_per_mass"], int)


def test_bundled_cards_all_load():
    for path in sorted(CARDS.glob("*.yaml")):
        load_card(path)


# --- YAML files -------------------------------------------------------------------------------

ALIAS_BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
)


def _card_text(name: str) -> str:
    return (CARDS / f"{name}.yaml").read_text()


BAD_FILES = [
    ("alias bomb", ALIAS_BOMB.encode(), "aliases"),
    ("deep nesting", ("x: " + "[" * 1000 + "]" * 1000).encode(), "nested"),
    ("deep mapping", ("".join(f"{' ' * i}k{i}:\n" for i in range(200)) + " " * 200 + "v: 1\n").encode(), "nested"),
    ("duplicate key", (_card_text("sct_3gev") + "\nrun: {seed: 2}\n").encode(), "duplicate key"),
    ("non-UTF-8", _card_text("sct_3gev").encode() + b"\n# \xff\xfe\n", "UTF-8"),
    ("4300 digits", (_card_text("sct_3gev") + "\nextra: " + "7" * 4300 + "\n").encode(), "'extra'"),
    ("22 digits", _card_text("sct_3gev").replace("seed: 1", "seed: " + "1" * 22).encode(), "'run.seed'"),
    ("mixed keys", (_card_text("sct_3gev") + "\n1: a\nzz: b\n").encode(), "<top level>"),
    ("sexagesimal seed", _card_text("sct_3gev").replace("seed: 1", "seed: 1:30").encode(), "run.seed"),
]


@pytest.mark.parametrize(("what", "content", "fragment"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_card_file(tmp_path, what, content, fragment):
    path = tmp_path / "card.yaml"
    path.write_bytes(content)
    with pytest.raises(CardError) as info:
        load_card(path)
    message = str(info.value)
    assert str(path) in message and fragment in message, message
    assert "\n" not in message and len(message) < 800


# --- commands: exit 2 with a message, never a traceback ---------------------------------------


def _invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--card", "sct_3gev", "-n", "1e16"), "-n"),
        (("--card", "sct_3gev", "-n", "10", "--workers", "2000"), "--workers"),
        (("--card", "sct_3gev", "-n", "10", "--seed", "9" * 5000), "--seed"),
        (("--card", "sct_3gev", "-n", "10", "--set", "mcp: [1"), "--set"),
        (("--card", "sct_3gev", "-n", "10", "--set", "mcp.epsilon=[1,"), "--set"),
    ],
)
def test_bad_command_line_exits_2(tmp_path, args, fragment):
    result = _invoke(*args, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert fragment in result.output and result.output.count("\n") == 1


def test_scan_name_cannot_leave_out_dir(tmp_path):
    out = tmp_path / "a" / "b"
    result = _invoke("scan", "--card", "sct_3gev", "--set", "name=../../X", "--out", str(out), "-n", "100")
    assert result.exit_code == 2 and "'name'" in result.output
    assert not list(tmp_path.rglob("X.*"))


def test_safe_name():
    assert safe_name("../../X") == "X"
    assert safe_name("/abs/path") == "abs_path"
    assert safe_name("") == "mcpgen" and safe_name("..", "scan") == "scan"


def test_validate_babar_has_no_traceback(tmp_path):
    result = _invoke("validate", "--card", str(CARDS / "babar.yaml"), "-n", "1000", "--out", str(tmp_path))
    assert result.exit_code in (0, 2), result.output


def test_belle2_one_event(tmp_path):
    result = _invoke("--card", str(CARDS / "belle2.yaml"), "-n", "1", "--out", str(tmp_path), "--no-progress")
    assert result.exit_code == 0, result.output
    json.loads((tmp_path / "summary.json").read_text())


def test_belle2_without_efficiency_writes_no_nan(tmp_path):
    result = _invoke(
        "--card",
        str(CARDS / "belle2.yaml"),
        "-n",
        "2000",
        "--set",
        "detector.ecl.efficiency=0",
        "--out",
        str(tmp_path),
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))


# --- output files -----------------------------------------------------------------------------


def test_json_is_strict(tmp_path):
    write_json_atomic(tmp_path / "x.json", {"a": float("nan"), "b": [np.inf, np.float64(1.5)], "c": np.int64(3)})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [None, 1.5], "c": 3}


def test_summary_is_renamed_before_events(tmp_path, monkeypatch):
    order = []
    real = os.replace

    def spy(src, dst):
        order.append(Path(dst).name)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    with RootEventWriter(tmp_path / "events.root") as writer:
        writer.extend({"x": np.arange(3.0)})
        writer.pair_json(tmp_path / "summary.json", {"n": 3})
    assert order == ["summary.json", "events.root"]


def test_failed_writer_leaves_neither_file(tmp_path):
    with pytest.raises(RuntimeError), RootEventWriter(tmp_path / "events.root") as writer:
        writer.extend({"x": np.arange(3.0)})
        writer.pair_json(tmp_path / "summary.json", {"n": 3})
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("spec", ["lz4:1", "zlib:1"])
def test_writer_stores_random_floats_raw_and_keeps_the_values(tmp_path, spec):
    """With LZ4, random float mantissas are stored uncompressed (ZLIB shrinks them by > 3 % and
    keeps them compressed); constant floats, integers and jagged integers stay compressed;
    every value reads back unchanged."""
    rng = np.random.default_rng(5)
    n = 20_000
    branches = {
        "px": rng.normal(size=n),
        "zero": np.zeros(n),
        "layer": rng.integers(0, 48, n).astype(np.int16),
        "hit_x": ak.unflatten(rng.normal(size=3 * n).astype(np.float32), np.full(n, 3)),
        "hit_layer": ak.unflatten(np.tile(np.arange(3, dtype=np.int8), n), np.full(n, 3)),
    }
    with RootEventWriter(tmp_path / "events.root", compression_spec=spec) as writer:
        writer.extend(branches)
        writer.extend(branches)
    tree = uproot.open(tmp_path / "events.root")["events"]
    ratio = {b.name: b.compressed_bytes / b.uncompressed_bytes for b in tree.branches}
    raw = spec.startswith("lz4")
    assert (ratio["px"] == 1.0) is raw and (ratio["hit_x"] == 1.0) is raw
    assert ratio["zero"] < 0.1 and ratio["layer"] < 0.9 and ratio["hit_layer"] < 0.9
    for name, values in branches.items():
        read = tree[name].array(library="ak")
        assert ak.all(ak.ravel(read[:n]) == ak.ravel(values)) and ak.all(ak.ravel(read[n:]) == ak.ravel(values))


def _no_detector_card(tmp_path) -> Path:
    data = yaml.safe_load(_card_text("sct_3gev"))
    data.pop("detector", None)
    data.pop("scan", None)
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_modes_follow_umask_022(tmp_path):
    card = _no_detector_card(tmp_path)
    old = os.umask(0o022)
    try:
        result = _invoke("--card", str(card), "-n", "1000", "--out", str(tmp_path / "o"), "--no-progress")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    for name in ("events.root", "summary.json", RUN_MARKER):
        assert stat.S_IMODE((tmp_path / "o" / name).stat().st_mode) == 0o644, name


def test_run_directory_removes_the_previous_runs_files(tmp_path):
    out = tmp_path / "o"
    with run_directory(out) as d:
        (d / "plots").mkdir()
        (d / "plots" / "bbg_old.png").write_text("old")
        (d / "events.root").write_text("old")
    (out / "mine.txt").write_text("user's")
    marker = json.loads((out / RUN_MARKER).read_text())
    assert marker["state"] == "complete" and sorted(marker["files"]) == ["events.root", "plots/bbg_old.png"]
    with pytest.raises(KeyboardInterrupt), run_directory(out):
        assert not (out / "plots" / "bbg_old.png").exists() and not (out / "events.root").exists()
        raise KeyboardInterrupt
    assert (out / "mine.txt").exists()
    assert json.loads((out / RUN_MARKER).read_text())["state"] == "failed"


# --- bit-identical totals ---------------------------------------------------------------------


def test_exact_sums_do_not_depend_on_grouping():
    rng = np.random.default_rng(5)
    w = rng.exponential(size=50_000) * 10.0 ** rng.integers(-30, 30, size=50_000)
    whole = WeightSum.of(w)
    for cut in (1, 4096, 10_000, 33_333):
        assert WeightSum.of(w[:cut]) + WeightSum.of(w[cut:]) == whole
    # against an independent exact sum (integers: scale by 2^200, the smallest exponent is > -200)
    scaled = sum(int(v * 2.0**200) for v in w.tolist() if v * 2.0**200 >= 1)
    assert exact_float(exact_sum(w)) == pytest.approx(scaled / 2.0**200, rel=1e-15)


def _stable(summary_path: Path) -> bytes:
    """summary.json without the wall-clock timing and the chunking/worker settings themselves,
    with the output directory (it names the plots) replaced by a placeholder."""
    data = json.loads(summary_path.read_text().replace(str(summary_path.parent), "OUT"))
    for key in ("timing", "chunk_size", "workers"):
        data.pop(key, None)
    return json.dumps(data, sort_keys=True).encode()


@pytest.mark.parametrize("card_name", ["plain", "bes3"])
def test_summary_bit_identical_across_chunks_and_workers(tmp_path, card_name):
    card = _no_detector_card(tmp_path) if card_name == "plain" else CARDS / "bes3.yaml"
    extra = () if card_name == "plain" else ("--set", "processes=[{name: chi_pair_gamma}, {name: ggg}]")
    n = "120000" if card_name == "plain" else "30000"
    outs = []
    for chunk, workers in (("1e4", "1"), ("1e5", "2")):
        out = tmp_path / f"{chunk}_{workers}"
        args = ("--card", str(card), "-n", n, "--chunk-size", chunk, "--workers", workers, "--seed", "7", *extra)
        result = _invoke(*args, "--out", str(out), "--no-progress")
        assert result.exit_code == 0, result.output
        outs.append(out)
    assert _stable(outs[0] / "summary.json") == _stable(outs[1] / "summary.json")
    with uproot.open(outs[0] / "events.root") as a, uproot.open(outs[1] / "events.root") as b:
        for key in a.keys(filter_classname="TTree"):
            assert np.array_equal(a[key]["weight"].array(library="np"), b[key]["weight"].array(library="np"))


def test_other_commands_keep_a_runs_files(tmp_path):
    with run_directory(tmp_path, "run") as d:
        (d / "events.root").write_text("run")
    with run_directory(tmp_path, "scan") as d:
        (d / "scan.json").write_text("scan")
    with run_directory(tmp_path, "scan"):
        assert (tmp_path / "events.root").exists() and not (tmp_path / "scan.json").exists()
