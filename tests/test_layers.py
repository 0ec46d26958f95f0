"""The floors of the code, read from its imports (ast): generator < detsim < analysis < mcpgen.

A module may import its own floor and the floors below, never a higher one; no circle of
module-level imports; no private name (``_x``) taken from another module, except a package's own
private modules (``detsim._kernels`` inside ``detsim``); no project module imported inside a
function (optional heavy dependencies such as numba, pyhf, matplotlib may be). The checker is
run on the tree and on synthetic trees that break each rule.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

FLOORS = {"generator": 1, "detsim": 2, "analysis": 3, "mcpgen": 4}


@dataclass(frozen=True)
class Import:
    importer: str  # module doing the import
    target: str  # imported module
    names: tuple[str, ...]  # names taken from it (from-imports)
    line: int
    in_function: bool
    type_checking: bool


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for package in FLOORS:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, package: str, known: set[str]):
        self.module, self.package, self.known = module, package, known
        self.depth = 0
        self.type_checking = 0
        self.found: list[Import] = []

    def _add(self, target, names, node):
        if target.split(".")[0] in FLOORS:
            self.found.append(Import(self.module, target, names, node.lineno, self.depth > 0, self.type_checking > 0))

    def visit_FunctionDef(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_If(self, node):
        guarded = "TYPE_CHECKING" in ast.unparse(node.test)
        self.type_checking += guarded
        for child in node.body:
            self.visit(child)
        self.type_checking -= guarded
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node):
        for alias in node.names:
            self._add(alias.name, (), node)

    def visit_ImportFrom(self, node):
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            if sub in self.known:  # a submodule: an import of that module
                self._add(sub, (), node)
            else:
                self._add(target, (alias.name,), node)

    def visit_Call(self, node):
        # importlib.import_module("pkg.mod") with a literal name: a dynamic edge
        func = ast.unparse(node.func)
        if func.endswith("import_module") and node.args and isinstance(node.args[0], ast.Constant):
            name = node.args[0].value
            if isinstance(name, str):
                self.found.append(Import(self.module, name, (), node.lineno, False, False))
        self.generic_visit(node)


def imports(root: Path) -> list[Import]:
    """Every import of a project module in the packages under ``root``."""
    modules = _modules(root)
    out = []
    for name, path in modules.items():
        visitor = _Visitor(name, _package_of(name, path), set(modules))
        visitor.visit(ast.parse(path.read_text(), str(path)))
        out += visitor.found
    return out


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def violations(root: Path) -> list[str]:
    """Every broken rule in the packages under ``root``, one line each."""
    found = imports(root)
    problems = []
    edges: dict[str, set[str]] = {}
    for imp in found:
        where = f"{imp.importer} line {imp.line}"
        floor_from, floor_to = FLOORS[imp.importer.split(".")[0]], FLOORS[imp.target.split(".")[0]]
        if floor_to > floor_from:
            problems.append(f"upward import: {where} imports {imp.target}")
        same_package = imp.importer.split(".")[0] == imp.target.split(".")[0]
        private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
        private_module = [p for p in imp.target.split(".") if p.startswith("_") and not p.startswith("__")]
        if private or (private_module and not same_package):
            problems.append(f"private name: {where} takes {private or imp.target} from {imp.target}")
        if imp.in_function:
            problems.append(f"import inside a function: {where} imports {imp.target}")
        if not imp.in_function and not imp.type_checking and imp.target != imp.importer:
            edges.setdefault(imp.importer, set()).add(imp.target)
    problems += [f"import circle: {' -> '.join(c)}" for c in _cycles(edges)]
    return problems


#: Known breaches, each with its way out; the test fails when one is fixed (remove it here) or a
#: new one appears.
KNOWN: set[str] = set()


def test_the_tree_keeps_its_floors():
    problems = {re.sub(r" line \d+", "", p) for p in violations(ROOT)}
    assert problems - KNOWN == set(), "new breach"
    assert KNOWN - problems == set(), "fixed: remove it from KNOWN"


def test_mcpgen_leaves():
    """Inside mcpgen: units, errors and executors import nothing of the project; the card leaf
    only units and errors; the command-line entry (cli, options) only errors and options."""
    by_module: dict[str, set[str]] = {}
    for imp in imports(ROOT):
        by_module.setdefault(imp.importer, set()).add(imp.target)
    for leaf in ("mcpgen.units", "mcpgen.errors", "mcpgen.executors"):
        assert by_module.get(leaf, set()) == set(), leaf
    assert by_module["mcpgen.card"] <= {"mcpgen.units", "mcpgen.errors"}
    assert by_module["mcpgen.options"] <= {"mcpgen.errors"}
    assert by_module["mcpgen.cli"] <= {"mcpgen.errors", "mcpgen.options", "mcpgen.commands"}


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for package in FLOORS:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"generator/beams.py": "from mcpgen.rng import uniforms\n"}, "upward import: generator.beams line 1"),
        ({"detsim/ecl.py": "import analysis.bbg\n"}, "upward import: detsim.ecl line 1 imports analysis.bbg"),
        ({"analysis/scan.py": "from mcpgen import pipeline\n"}, "upward import: analysis.scan"),
        ({"mcpgen/a.py": "from ._b import x\n", "mcpgen/_b.py": "x = 1\n"}, None),
        ({"analysis/a.py": "from mcpgen.output import _temporary\n"}, "private name: analysis.a line 1"),
        ({"mcpgen/a.py": "from .output import _temporary\n", "mcpgen/output.py": ""}, "private name: mcpgen.a"),
        ({"mcpgen/a.py": "from detsim._kernels import f\n"}, "private name: mcpgen.a"),
        ({"mcpgen/a.py": "def f():\n    from .b import g\n", "mcpgen/b.py": ""}, "import inside a function"),
        (
            {"mcpgen/a.py": "from .b import g\n", "mcpgen/b.py": "from .a import f\n"},
            "import circle: mcpgen.a -> mcpgen.b",
        ),
        ({"mcpgen/a.py": "def f():\n    import numba\n"}, None),
    ],
)
def test_the_checker_catches_broken_rules(tmp_path, files, expected):
    problems = violations(_tree(tmp_path, files))
    if expected is None:
        assert problems == []
    else:
        assert any(p.startswith(expected) for p in problems), problems
