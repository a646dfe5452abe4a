"""The benchmark scripts run at smoke size and write their JSON (no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "script", ["fit_loo.py", "fit_single.py", "cv_ax.py", "prior_selection.py"]
)
def test_benchmark_script_smoke(script, tmp_path):
    out = tmp_path / "result.json"
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["rows"], data
    assert "wrote" in res.stdout
