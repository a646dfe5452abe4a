"""User problems: the documented command, import errors, bad module:attribute specs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ax.exceptions.core import UserInputError

from ax_ext.runner import get_problem

DOCS = Path(__file__).parents[2] / "docs" / "runner.md"


def _docs_block(marker):
    """The fenced code block of docs/runner.md that contains ``marker``."""
    blocks = re.findall(r"```(?:python|bash)\n(.*?)```", DOCS.read_text(), flags=re.S)
    (block,) = [b for b in blocks if marker in b]
    return block


def test_the_documented_user_problem_command_runs_from_the_modules_folder(tmp_path):
    (tmp_path / "my_problems.py").write_text(_docs_block("# my_problems.py"))
    (command,) = [
        line for line in _docs_block("my_problems:my_problem").splitlines() if line.strip()
    ]
    argv = command.split()
    assert argv[0] == "ax-ext"
    # the console script, as a user runs it: it does not put the current folder on sys.path
    script = Path(sys.executable).parent / "ax-ext"
    res = subprocess.run(
        [str(script), *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Study of 'my-problem'" in res.stdout and "0 failed" in res.stdout
    # named after the problem (its name), not the module:attribute spec
    assert (tmp_path / "ax_ext_my-problem.db").exists()
    assert "in ax_ext_my-problem.db:" in res.stdout
    assert not list(tmp_path.glob("ax_ext_my_problems*"))


def test_the_documented_run_study_scripts_have_the_main_guard():
    for marker in ("tune_my_problem.py", "cluster.scale(jobs=8)"):
        block = _docs_block(marker)
        assert 'if __name__ == "__main__":' in block
        head, _, body = block.partition('if __name__ == "__main__":')
        assert "run_study(" not in head and "run_study(" in body


@pytest.mark.parametrize(
    ("source", "error", "where"),
    [
        ("import math\nraise RuntimeError('no GPU found')\n", "RuntimeError: no GPU found", 2),
        ("def broken(:\n    pass\n", "SyntaxError", 1),
    ],
)
def test_a_problem_module_that_fails_on_import(tmp_path, monkeypatch, source, error, where):
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"broken_{where}_{abs(hash(source)) % 10_000}"
    (tmp_path / f"{name}.py").write_text(source)
    with pytest.raises(UserInputError) as info:
        get_problem(f"{name}:problem")
    message = str(info.value)
    assert f"Importing the problem module {name!r}" in message and error in message
    assert f"{tmp_path / name}.py:{where}" in message and "Fix the module" in message


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (":x", r"a module name before the colon, got ':x' \(nothing before ':'\)"),
        ("probs:", r"an attribute name after the colon, got 'probs:' \(nothing after ':'\)"),
        (
            "tests.runner.test_user_problems:returns_none",
            r"to return a Problem, got NoneType None",
        ),
        (
            "tests.runner.test_user_problems:raises",
            r"factory .*raises' raised ValueError: no data \(at .*test_user_problems.py:\d+",
        ),
    ],
)
def test_bad_module_attribute_specs_say_which_part_is_wrong(spec, match):
    with pytest.raises(UserInputError, match=match):
        get_problem(spec)


def returns_none():
    return None


def raises():
    raise ValueError("no data")
