"""The package's layering, read from the source (every import, lazy ones included).

kernels <- models <- (cross_validation, generation) <- plotting <- runner <- CLI, with
``ax_ext.fit`` generic (it imports no other part of ax_ext) and private modules and
names (``_name``) used only inside their own subpackage.
"""

import ast
from pathlib import Path

import ax_ext

ROOT = Path(ax_ext.__file__).parent

#: what each part of ax_ext may import from the others
ALLOWED = {
    "fit": set(),
    "adapter": set(),
    "kernels": set(),
    "extras": set(),
    "studies": set(),
    "synthetic": set(),
    "expressions": {"kernels"},
    "models": {"fit", "kernels"},
    "cross_validation": {"adapter", "fit", "kernels", "models", "expressions", "extras"},
    "generation": {
        "adapter",
        "fit",
        "kernels",
        "models",
        "expressions",
        "cross_validation",
        "extras",
    },
    "plotting": {
        "adapter",
        "fit",
        "kernels",
        "models",
        "expressions",
        "cross_validation",
        "generation",
        "extras",
    },
    "runner": {
        "adapter",
        "fit",
        "kernels",
        "models",
        "expressions",
        "cross_validation",
        "generation",
        "plotting",
        "extras",
        "studies",
        "synthetic",
    },
}


def _part(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    return rel[0].removesuffix(".py")


def _imports(path: Path):
    """``(module, names)`` of every absolute import of ``ax_ext`` in the file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ax_ext."):
                    yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; ax_ext uses absolute imports"
            if node.module and node.module.startswith("ax_ext."):
                yield node.module, [a.name for a in node.names]


def _files():
    return sorted(p for p in ROOT.rglob("*.py") if _part(p) not in ("__init__", "__main__", "cli"))


def test_every_part_is_in_the_table():
    assert {_part(p) for p in _files()} == set(ALLOWED)


def test_imports_point_one_way():
    wrong = []
    for path in _files():
        part = _part(path)
        for module, _ in _imports(path):
            target = module.split(".")[1]
            if target != part and target not in ALLOWED[part]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_no_private_module_or_name_crosses_a_subpackage():
    wrong = []
    for path in _files():
        part = _part(path)
        for module, names in _imports(path):
            pieces = module.split(".")
            if pieces[1] == part:
                continue
            private = [p for p in pieces[2:] if p.startswith("_")]
            private += [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                wrong.append(f"{path.relative_to(ROOT)}: from {module} import {names}")
    assert not wrong, "private names used across subpackages:\n" + "\n".join(wrong)


def test_the_rules_catch_a_violation(tmp_path):
    # the checks read real files: a module that breaks both rules is reported
    bad = tmp_path / "bad.py"
    bad.write_text("from ax_ext.runner._session import _x\nimport ax_ext.models\n")
    found = list(_imports(bad))
    assert ("ax_ext.runner._session", ["_x"]) in found
    assert ("ax_ext.models", []) in found


def test_problem_type_stands_alone_and_built_ins_do_not_import_the_registry():
    # problem.py imports nothing of ax_ext; the built-in problem modules import it (not
    # the registry, problems.py, which imports them): no import cycle, lazy or not
    runner = ROOT / "runner"
    assert list(_imports(runner / "problem.py")) == []
    for name in ("builtin_problems.py", "sklearn_problems.py", "builtin_moo.py"):
        modules = {module for module, _ in _imports(runner / name)}
        assert "ax_ext.runner.problems" not in modules, name
        assert "ax_ext.runner.problem" in modules, name
