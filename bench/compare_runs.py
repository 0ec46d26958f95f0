"""Compare two run directories: every tree and branch of events.root, every number of summary.json.

``python bench/compare_runs.py OLD_DIR NEW_DIR [OLD_DIR NEW_DIR ...]``

Branches present in both files are compared array by array (exact equality, NaN == NaN);
branches in only one file are listed (new branches are expected when the detector or the
generator gains fields). summary.json: every number at a path present in both documents is
compared exactly, except timing, versions and paths. Exit code 1 if anything common differs.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

IGNORED = ("timing", "versions", "card_path", "plot")


def _numbers(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in IGNORED:
                yield from _numbers(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numbers(value, (*path, i))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, node


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def compare_summaries(old: dict, new: dict) -> list[str]:
    new_numbers = dict(_numbers(new))
    problems, n = [], 0
    for path, value in _numbers(old):
        if path in new_numbers:
            n += 1
            if not _same(value, new_numbers[path]):
                problems.append(f"summary {'.'.join(map(str, path))}: {value!r} != {new_numbers[path]!r}")
    print(f"  summary.json: {n} common numbers compared, {len(problems)} differ")
    return problems


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return ak.array_equal(ak.Array(a), ak.Array(b), equal_nan=True)


def compare_trees(old: Path, new: Path) -> list[str]:
    problems = []
    with uproot.open(old) as fo, uproot.open(new) as fn:
        trees_old = {k.split(";")[0] for k, c in fo.classnames().items() if c == "TTree"}
        trees_new = {k.split(";")[0] for k, c in fn.classnames().items() if c == "TTree"}
        if trees_old != trees_new:
            problems.append(
                f"trees differ: only old {sorted(trees_old - trees_new)}, only new {sorted(trees_new - trees_old)}"
            )
        for tree in sorted(trees_old & trees_new):
            to, tn = fo[tree], fn[tree]
            common = [b for b in to.keys() if b in tn.keys()]
            extra = sorted(set(tn.keys()) - set(to.keys()))
            missing = sorted(set(to.keys()) - set(tn.keys()))
            differ = []
            for branch in common:
                a = to[branch].array(library="np")
                b = tn[branch].array(library="np")
                if a.dtype == object or b.dtype == object:
                    a, b = to[branch].array(), tn[branch].array()
                if not _equal(a, b):
                    differ.append(branch)
            print(
                f"  tree {tree}: {to.num_entries} entries, {len(common)} common branches identical: "
                f"{len(common) - len(differ)}/{len(common)}; new branches {extra or '-'}; missing {missing or '-'}"
            )
            problems += [f"tree {tree}: branch {b} differs" for b in differ]
            problems += [f"tree {tree}: branch {b} missing" for b in missing]
    return problems


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__)
        return 2
    problems = []
    for old, new in zip(argv[::2], argv[1::2], strict=True):
        old, new = Path(old), Path(new)
        print(f"{old} vs {new}")
        problems += compare_trees(old / "events.root", new / "events.root")
        problems += compare_summaries(
            json.loads((old / "summary.json").read_text()), json.loads((new / "summary.json").read_text())
        )
    for p in problems:
        print("DIFFERS:", p)
    print("identical" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
