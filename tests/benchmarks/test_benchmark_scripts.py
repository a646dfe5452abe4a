"""The benchmark scripts run at smoke size and write their JSON (no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", ["fit_loo.py", "fit_single.py", "cv_ax.py", "fit_threads.py"])
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


def test_fit_loo_load_mode_records_and_ends_its_busy_processes(tmp_path):
    out = tmp_path / "result.json"
    args = ["--smoke", "--load", "2", "--methods", "ax_ext-cold", "--models", "SingleTaskGP"]
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fit_loo.py"), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["load"]["busy_processes"] == 2
    assert [row["method"] for row in data["rows"]] == ["ax_ext-cold"]
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _load import busy_processes

    with busy_processes(2) as pids:
        assert all(Path(f"/proc/{pid}").exists() for pid in pids)
    # ended and reaped when the block ends
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
