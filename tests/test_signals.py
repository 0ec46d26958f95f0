"""Signals: exit codes 130 / 143 after removing temporary files, workers that die with a killed
parent, stale temporary files of killed runs removed by the next run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcpgen.output import RUN_MARKER, clean_stale_partials

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

#: Generous bound for events to happen on a loaded machine (polled, never slept through).
PATIENCE_S = 120.0


def _start(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mcpgen.cli", "--card", "sct_3gev", "-n", "1e8", "--chunk-size", "2e4"]
    cmd += ["--out", str(out), "--no-progress", "--seed", "1", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _partials(out: Path) -> list[Path]:
    return list(out.glob(".*.partial")) if out.exists() else []


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_exit_code_and_no_partial_files(tmp_path, signum, code):
    out = tmp_path / "out"
    proc = _start(out)
    _wait_for(lambda: _partials(out) or proc.poll() is not None, "the run to start writing")
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=PATIENCE_S)
    assert proc.returncode == code, err.decode()
    assert "Traceback" not in err.decode()
    assert _partials(out) == []
    assert not (out / "events.root").exists() and not (out / "summary.json").exists()
    assert json.loads((out / RUN_MARKER).read_text())["state"] == "failed"


def test_workers_die_after_sigkill_of_parent(tmp_path):
    out = tmp_path / "out"
    proc = _start(out, "--workers", "2")
    _wait_for(lambda: len(_children(proc.pid)) >= 2 and _partials(out), "two workers and a partial file")
    workers = _children(proc.pid)
    proc.kill()
    proc.wait(timeout=PATIENCE_S)
    _wait_for(lambda: not any(_alive(w) for w in workers), "the workers to exit")
    # the next run in the directory removes the killed run's temporary file
    assert _partials(out)
    removed = clean_stale_partials(out)
    assert removed and _partials(out) == []


def test_sigterm_with_workers_stops_them(tmp_path):
    out = tmp_path / "out"
    proc = _start(out, "--workers", "2")
    _wait_for(lambda: len(_children(proc.pid)) >= 2 and _partials(out), "two workers and a partial file")
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=PATIENCE_S)
    assert proc.returncode == 143, err.decode()
    assert _partials(out) == []
    _wait_for(lambda: not any(_alive(w) for w in workers), "the workers to exit")


def test_stale_partials_of_live_processes_are_kept(tmp_path):
    mine = tmp_path / f".events.root.{os.getpid()}.abc.partial"
    dead = tmp_path / ".events.root.999999999.abc.partial"  # above any pid_max
    legacy = tmp_path / ".summary.json.k3j4.partial"
    for path in (mine, dead, legacy):
        path.write_text("x")
    removed = clean_stale_partials(tmp_path)
    assert sorted(removed) == sorted([dead, legacy])
    assert mine.exists()
