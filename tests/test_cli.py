import subprocess
import sys

import pytest

from ax_ext.cli import main


def test_demo_prints_expression_and_beats_constant(capsys):
    assert main(["demo", "--n", "20", "--n-test", "50"]) == 0
    out = capsys.readouterr().out
    assert "Covariance:" in out
    assert "compare('log_lr')" in out
    assert "# Kernel: Joint scalar and choice parameters" in out
    rmse, const = [
        float(x)
        for x in out.split("Held-out RMSE on 50 new points: ")[1]
        .replace("(predicting the training mean: ", "")
        .rstrip(")\n")
        .split()
    ]
    assert rmse < const


def test_demo_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--n", "1"])
    assert "--n must be at least 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["demo", "--prior", "wide"])


def test_module_entry_point():
    res = subprocess.run(
        [sys.executable, "-m", "ax_ext", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in res.stdout
