"""Start-up: what a command loads, and compiled kernels kept on disk (no timing: module lists and
numba's cache log, which do not depend on the machine's load)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

#: Loaded only by the commands that use them (limits, plots, dask, event-file writers).
HEAVY = ("pyhf", "matplotlib", "mplhep", "dask", "distributed", "pyhepmc", "pylhe")

_RUN = """
import sys
from mcpgen import load_card, run
card = load_card("sct_3gev", ("detector.finder.random_trigger_events=0",))
run(card, 2000, sys.argv[1], progress=False, chunk_size=1000)
print("LOADED", sorted(m for m in {heavy!r} if m in sys.modules))
"""


def _python(code: str, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=True,
    )


def test_help_loads_no_numerical_stack():
    for args in (["--help"], ["run", "--help"], ["convert", "--help"]):
        code = (
            "import sys\nfrom click.testing import CliRunner\nfrom mcpgen.cli import main\n"
            f"result = CliRunner().invoke(main, {args!r})\nassert result.exit_code == 0, result.output\n"
            "print('LOADED', sorted(m for m in ('numpy', 'awkward', 'uproot', 'numba', 'scipy') if m in sys.modules))"
        )
        assert _python(code).stdout.strip().splitlines()[-1] == "LOADED []", args


def test_run_loads_only_its_chain_and_a_second_run_compiles_nothing(tmp_path):
    """Two identical runs in fresh processes: neither loads the limits, plots, dask or event-file
    writers; the second saves nothing to numba's cache (every kernel comes from disk)."""
    code = _RUN.format(heavy=HEAVY)
    env = {"NUMBA_DEBUG_CACHE": "1"}
    first = _python(code, tmp_path / "a", env=env)
    second = _python(code, tmp_path / "b", env=env)
    for result in (first, second):
        assert result.stdout.strip().splitlines()[-1] == "LOADED []"
    saved = [line for line in second.stdout.splitlines() if "saved to" in line]
    assert not saved, saved[:5]
    assert any("loaded from" in line for line in second.stdout.splitlines())


def test_numba_cache_dir_falls_back_when_the_sources_are_read_only(tmp_path, monkeypatch):
    """A read-only installation keeps its kernels in the user cache folder (NUMBA_CACHE_DIR)."""
    import mcpgen

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert mcpgen.numba_cache_dir() == str(tmp_path / "mcpgen" / "numba")
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mcpgen" / "numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/else")
    assert mcpgen.numba_cache_dir() is None  # the user's choice stays
