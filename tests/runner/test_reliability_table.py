"""docs/reliability.md names a test for every fault: each must exist."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _defined(path):
    """``{"test_x", "Class::test_y"}`` defined in a test file."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {f"{node.name}::{f.name}" for f in node.body if isinstance(f, ast.FunctionDef)}
    return names


def test_every_test_the_reliability_table_names_exists():
    text = (ROOT / "docs" / "reliability.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    rows = [row for row in rows if not row.startswith("| fault |")]
    assert len(rows) >= 30
    missing = []
    for row in rows:
        refs = re.findall(r"`(tests/[\w/]+\.py)::([\w:]+)`", row)
        assert refs, f"a row without a test: {row}"
        for file, name in refs:
            if not (ROOT / file).exists() or name not in _defined(ROOT / file):
                missing.append(f"{file}::{name}")
    assert not missing
