"""The dask executor: same seed -> the same events.root trees and scan.json as the local executor,
also when a worker dies mid-run; ordered results with a bounded number of tasks in flight; a clear
error when the scheduler cannot be reached.

One LocalCluster of two single-threaded worker processes serves the module (reached by address,
as a batch cluster's scheduler would be); the command-line test starts its own (``--executor dask
--workers 2`` without an address). Event counts are tiny: a few chunks of one block each.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time

import awkward as ak
import pytest
import uproot
from click.testing import CliRunner
from conftest import CARDS

distributed = pytest.importorskip("dask.distributed", reason="the dask executor needs pip install 'mcpgen[dask]'")

from mcpgen import load_card, run  # noqa: E402
from mcpgen.cli import main  # noqa: E402
from mcpgen.dask_executor import DaskExecutor, DaskSession, executor_scope  # noqa: E402
from mcpgen.executors import SerialExecutor, make_executor  # noqa: E402
from mcpgen.rng import BLOCK_SIZE  # noqa: E402
from mcpgen.scan import run_scan  # noqa: E402

NO_RT = "detector.finder.random_trigger_events=0"
MONOPHOTON = "processes=[{name: nunu_gamma}, {name: eeg}]"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    ) as c:
        yield c


@pytest.fixture(scope="module")
def address(cluster) -> str:
    return cluster.scheduler_address


def _trees(path) -> dict:
    with uproot.open(path) as f:
        return {name: f[name].arrays() for name in f.keys(cycle=False) if f.classname_of(name) == "TTree"}


def _assert_same_trees(a_path, b_path) -> int:
    a, b = _trees(a_path), _trees(b_path)
    assert a.keys() == b.keys() and a
    for tree in a:
        assert a[tree].fields == b[tree].fields
        for name in a[tree].fields:
            assert ak.array_equal(a[tree][name], b[tree][name]), (tree, name)
    return sum(len(t) for t in a.values())


def _same_summary(a_dir, b_dir, keys):
    a = json.loads((a_dir / "summary.json").read_text().replace(str(a_dir), "OUT"))
    b = json.loads((b_dir / "summary.json").read_text().replace(str(b_dir), "OUT"))
    for key in keys:
        assert a[key] == b[key], key


# --- the executor protocol ---------------------------------------------------------------------


def test_results_in_order_and_bounded_in_flight(address):
    pulled = []

    def tasks():
        for i in range(40):
            pulled.append(i)
            yield i

    with DaskSession(address) as session, DaskExecutor(session, in_flight=3) as executor:
        out = []
        for value in executor.map(abs, (-i for i in tasks())):
            assert len(pulled) - len(out) <= 3  # never more than 3 tasks submitted and not handed on
            out.append(value)
    assert out == list(range(40))


def test_scope_makes_every_engine_use_one_client(address):
    assert isinstance(make_executor(1), SerialExecutor)
    with executor_scope("dask", address) as session:
        assert isinstance(make_executor(1), DaskExecutor) and make_executor(4).session is session
        with executor_scope("local") as inner:  # the outermost scope decides
            assert inner is session
    assert isinstance(make_executor(1), SerialExecutor)


# --- identical output --------------------------------------------------------------------------


def test_tracker_run_identical_from_the_command_line(tmp_path):
    """`mcpgen run --executor dask --workers 2` (a fresh LocalCluster) = the local executor."""
    common = ["--card", "sct_3gev", "-n", str(3 * BLOCK_SIZE), "--seed", "7", "--chunk-size", str(BLOCK_SIZE)]
    common += ["--set", NO_RT, "--no-progress"]
    local = CliRunner().invoke(main, ["run", *common, "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    dask = CliRunner().invoke(
        main, ["run", *common, "--out", str(tmp_path / "dask"), "--executor", "dask", "--workers", "2"]
    )
    assert dask.exit_code == 0, dask.output
    assert _assert_same_trees(tmp_path / "local" / "events.root", tmp_path / "dask" / "events.root") == 3 * BLOCK_SIZE
    _same_summary(tmp_path / "local", tmp_path / "dask", ["cross_section_pb", "signal_events_expected", "n_events"])
    with uproot.open(tmp_path / "dask" / "events.root") as f:
        assert ak.sum(ak.num(f["events"]["hit_x"].array())) > 0  # the tracker ran on the workers


def test_monophoton_run_identical(tmp_path, address):
    card = load_card(CARDS / "belle2.yaml", [MONOPHOTON])
    on_dask = load_card(CARDS / "belle2.yaml", [MONOPHOTON, "run.executor=dask", f"run.scheduler={address}"])
    run(card, 6_000, tmp_path / "local", seed=2, chunk_size=2_500, progress=False)
    run(on_dask, 6_000, tmp_path / "dask", seed=2, chunk_size=2_500, progress=False)
    assert _assert_same_trees(tmp_path / "local" / "events.root", tmp_path / "dask" / "events.root") == 12_000
    _same_summary(tmp_path / "local", tmp_path / "dask", ["datasets"])


def _scan_json(path) -> dict:
    doc = json.loads((path / "scan.json").read_text().replace(str(path), "OUT"))
    doc.pop("seconds")
    run_section = doc["card_resolved"]["run"]
    run_section.pop("executor"), run_section.pop("scheduler")  # where it ran, recorded
    return doc


@pytest.mark.parametrize(
    "card, overrides, n",
    [
        ("sct_3gev.yaml", ["scan.mass.n=3", "scan.epsilon.n=4", NO_RT], 2_000),
        ("belle2.yaml", ["scan.mass.n=2", "scan.epsilon.n=4", "scan.background_events=3000"], 2_000),
    ],
    ids=["tracker", "monophoton"],
)
def test_scan_identical(tmp_path, address, card, overrides, n):
    run_scan(load_card(CARDS / card, overrides), tmp_path / "local", n_events=n, seed=3)
    remote = load_card(CARDS / card, [*overrides, "run.executor=dask", f"run.scheduler={address}"])
    run_scan(remote, tmp_path / "dask", n_events=n, seed=3)
    a, b = _scan_json(tmp_path / "local"), _scan_json(tmp_path / "dask")
    assert a == b and a["expected_events" if "expected_events" in a else "limits"]


def test_worker_killed_mid_run_leaves_output_identical(tmp_path, cluster, address):
    """A worker process is killed (SIGKILL) while it runs a chunk; the scheduler reruns the lost
    tasks elsewhere (the nanny restarts the worker) and the output equals an undisturbed run."""
    n, chunk = 6 * BLOCK_SIZE, BLOCK_SIZE
    card = load_card(CARDS / "sct_3gev.yaml", [NO_RT])
    run(card, n, tmp_path / "local", seed=11, chunk_size=chunk, progress=False)

    killed: list[str] = []
    watcher = distributed.Client(address, set_as_default=False)
    pids = watcher.run(os.getpid)
    done = threading.Event()

    def kill_first_busy_worker():
        while not done.is_set() and not killed:
            busy = [w for w, keys in watcher.processing().items() if keys and w in pids]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.005)

    thread = threading.Thread(target=kill_first_busy_worker)
    thread.start()
    try:
        remote = load_card(CARDS / "sct_3gev.yaml", [NO_RT, "run.executor=dask", f"run.scheduler={address}"])
        run(remote, n, tmp_path / "dask", seed=11, chunk_size=chunk, progress=False)
    finally:
        done.set()
        thread.join()
        watcher.close()
    assert killed, "no worker was busy while the run went on"
    assert _assert_same_trees(tmp_path / "local" / "events.root", tmp_path / "dask" / "events.root") == n
    _same_summary(tmp_path / "local", tmp_path / "dask", ["cross_section_pb", "signal_events_expected"])


# --- errors ------------------------------------------------------------------------------------


def test_unreachable_scheduler_is_one_paragraph_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.setattr("mcpgen.dask_executor.CONNECT_TIMEOUT_S", 1.0)
    args = ["run", "--card", "sct_3gev", "-n", "100", "--out", str(tmp_path), "--scheduler", "tcp://127.0.0.1:9"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    message = result.output.strip()
    assert message.startswith("mcpgen: error: cannot reach the dask scheduler at 'tcp://127.0.0.1:9'")
    assert "\n" not in message and "Traceback" not in message
    assert not (tmp_path / "events.root").exists()


def test_scheduler_without_dask_executor_is_refused(tmp_path):
    args = ["run", "--card", "sct_3gev", "-n", "100", "--out", str(tmp_path)]
    result = CliRunner().invoke(main, [*args, "--executor", "local", "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2 and "needs the dask executor" in result.output
    result = CliRunner().invoke(main, [*args, "--set", "run.scheduler=tcp://127.0.0.1:9"])
    assert result.exit_code == 2 and "run.scheduler" in result.output
