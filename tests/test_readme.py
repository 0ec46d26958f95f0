"""The README's Python examples run as written (against a small run of the bundled card)."""

from __future__ import annotations

import re

from conftest import CARDS, ROOT

from mcpgen import load_card, run


def test_readme_python_examples(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) >= 2
    run(
        load_card(CARDS / "sct_3gev.yaml", ["detector.finder.random_trigger_events=0"]),
        3_000,
        tmp_path / "out",
        seed=1,
        progress=False,
    )
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        code = code.replace('"cards/', f'"{CARDS}/').replace("100_000", "2_000")
        exec(compile(code, "README.md", "exec"), {})
