"""Run the examples in examples/ at a tiny size."""

import importlib.util
from pathlib import Path

from ax_ext.generation import BO, SOBOL

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tune_digits_mlp_runs_and_resumes(tmp_path, capsys):
    example = _load("tune_digits_mlp")
    out = str(tmp_path / "study.json")
    small = ["--sobol", "4", "--max-iter", "5", "--fast-acqf", "--out", out]
    client = example.main(["--trials", "5", *small])
    printed = capsys.readouterr().out
    assert "best trial" in printed and f"saved the study to {out}" in printed
    names = [t.generator_runs[0]._generation_node_name for t in client._experiment.trials.values()]
    assert names == [SOBOL] * 4 + [BO]
    # continues the saved study in BO
    resumed = example.main(["--resume", "--trials", "1", *small])
    assert len(resumed._experiment.trials) == 6
    assert resumed._experiment.trials[5].generator_runs[0]._generation_node_name == BO
