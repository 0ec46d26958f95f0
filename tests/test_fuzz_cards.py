"""Property-based card mutations: every bundled card with one or a few of its fields replaced,
removed or added by hypothesis. Each mutated card either builds (and then runs to finite output)
or is refused with a one-paragraph :class:`~mcpgen.errors.McpgenError` naming the field -- never
a traceback, a hang or a runaway allocation.

Sample sizes: ``MCPGEN_FUZZ_EXAMPLES`` in-process card builds (default 300) and
``MCPGEN_FUZZ_RUNS`` command-line runs with a tiny ``-n`` (default 4). The large sample of the
README: ``MCPGEN_FUZZ_EXAMPLES=3000 MCPGEN_FUZZ_RUNS=20 python -m pytest tests/test_fuzz_cards.py``.
The examples are derandomised (the same sample on every run), so the test is not flaky.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import subprocess
import sys
from contextlib import contextmanager

import pytest
import yaml
from conftest import CARDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgen.build import card_from_dict
from mcpgen.errors import McpgenError
from mcpgen.units import DIMENSIONS

EXAMPLES = int(os.environ.get("MCPGEN_FUZZ_EXAMPLES", "300"))
RUNS = int(os.environ.get("MCPGEN_FUZZ_RUNS", "4"))
#: Per-case limits: a card is checked in well under a second, a tiny run in well under a minute
#: even on a loaded machine; a hang or a runaway allocation goes far beyond both.
CHECK_TIMEOUT_S = 60
RUN_TIMEOUT_S = 300
RUN_MEMORY_KB = 1_000_000  # 1 GB resident
#: Runs a command and prints its peak resident memory [kB]. A process forked from pytest carries
#: pytest's own high-water mark into ru_maxrss (Linux keeps it across exec), so the run is started
#: from this small launcher; its exit code is the run's (128 + signal if it was killed).
LAUNCHER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(usage.ru_maxrss)\n"
    "code = os.waitstatus_to_exitcode(status)\n"
    "sys.exit(code if code >= 0 else 128 - code)\n"
)

RAW = {path.stem: yaml.safe_load(path.read_text()) for path in sorted(CARDS.glob("*.yaml"))}
UNITS = [unit for units in DIMENSIONS.values() for unit in units]


def _paths(node, prefix=()):
    """Every (path) to a value of a card, sections and list entries included."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((*prefix, i))
            out.extend(_paths(value, (*prefix, i)))
    return out


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2, 0.5, 1e-300, 1e300, 1e12, 10**30, -(10**20), 48.0, 1e-9]),
    st.integers(min_value=-(10**25), max_value=10**25),
)
quantities = st.builds(
    lambda number, unit: f"{number} {unit}",
    st.one_of(st.sampled_from(["0", "-1", "1e400", "1e-400", "1e30", "nan", "1", "0.001", "3.0", "1e5"]), numbers),
    st.sampled_from(UNITS),
)
scalars = st.one_of(
    numbers,
    quantities,
    st.booleans(),
    st.none(),
    st.text(max_size=40),
    st.integers(100, 5000).map(lambda n: "x" * n),
    st.sampled_from(["../../x", "/abs", "", "1:30", "none", "gaussian_sqrt_s", "chi_pair_gamma"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


@st.composite
def mutated_cards(draw):
    """(card name, a bundled card with 1-3 mutations, their description)."""
    name = draw(st.sampled_from(sorted(RAW)))
    data = copy.deepcopy(RAW[name])
    done = []
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "duplicate"]))
        key = path[-1]
        if action == "replace":
            parent[key] = draw(values)
        elif action == "delete":
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["typo", "nam", "isr", "generation", "processes", "scan", "1"]))] = draw(values)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        done.append(f"{action} {'.'.join(map(str, path))}")
    return name, data, done


@contextmanager
def time_limit(seconds: int):
    """Fail (not hang) if the block runs longer than ``seconds``."""

    def expired(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _check_message(message: str) -> None:
    assert "\n" not in message and len(message) < 1000, message
    assert "field '" in message or "--set" in message, message


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_cards())
def test_mutated_card_builds_or_names_the_field(case):
    name, data, _ = case
    with time_limit(CHECK_TIMEOUT_S):
        try:
            card_from_dict(data, f"{name}.yaml")
        except McpgenError as exc:
            _check_message(str(exc))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-process memory from wait4")
@settings(
    max_examples=RUNS,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(mutated_cards())
def test_mutated_card_runs_to_finite_output_or_exit_2(tmp_path_factory, case):
    name, data, done = case
    folder = tmp_path_factory.mktemp(name)
    card = folder / "card.yaml"
    card.write_text(yaml.safe_dump(data))
    out = folder / "out"
    cmd = [sys.executable, "-m", "mcpgen.cli", "--card", str(card), "-n", "300", "--out", str(out), "--no-progress"]
    with open(folder / "stderr", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, *cmd], stdout=subprocess.PIPE, stderr=err)
        with time_limit(RUN_TIMEOUT_S):
            peak_kb = int(proc.communicate()[0].decode().strip() or 0)
    stderr = (folder / "stderr").read_text()
    assert peak_kb < RUN_MEMORY_KB, (done, peak_kb)
    assert "Traceback" not in stderr, (done, stderr[-3000:])
    assert proc.returncode in (0, 2), (done, proc.returncode, stderr[-2000:])
    if proc.returncode == 2:
        _check_message(stderr.strip().removeprefix("mcpgen: error: "))
        return
    summary = json.loads((out / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c}: {done}"))
    numbers_in = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, float):
            numbers_in.append(node)

    walk(summary)
    assert all(math.isfinite(x) for x in numbers_in)
    assert summary.get("cross_section_pb", 0.0) >= 0.0
