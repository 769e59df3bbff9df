"""The code in the README and docs does not rot: every Python block compiles and its
imports resolve (docs/neurons.md's blocks also run: tests/model/test_neuron_docs.py)."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    pytest.param(code, id=f"{page.name}:{n}")
    for page in PAGES
    for n, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


@pytest.mark.parametrize("code", BLOCKS)
def test_python_block_compiles_and_its_imports_resolve(code):
    tree = ast.parse(code)
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    exec(compile(ast.Module(body=imports, type_ignores=[]), "<docs>", "exec"), {})


def test_there_are_blocks_to_check():
    assert len(BLOCKS) >= 5


def test_every_file_the_docs_name_exists():
    """Paths like ``tests/tasks/test_tasks.py`` or ``src/hetsnn/...`` in the README and docs."""
    named = {
        path
        for page in PAGES
        for path in re.findall(r"\b((?:tests|src|docs)/[\w/.-]+\.(?:py|md|png))", page.read_text())
    }
    assert named and not sorted(p for p in named if not (ROOT / p).exists())
