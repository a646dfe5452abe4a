"""The benchmark scripts run at smoke size and write their JSON (no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "script",
    [
        "fit_loo.py",
        "fit_single.py",
        "cv_ax.py",
        "fit_threads.py",
        "prior_selection.py",
        "fused_backward.py",
        "loose_priors.py",
        "outcome_treatment.py",
        "model_quality.py",
    ],
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


def test_no_benchmark_script_writes_the_committed_results_by_default():
    # every script's --out default, read from its own parser (one interpreter for all)
    scripts = sorted(p.name for p in (ROOT / "benchmarks").glob("[!_]*.py"))
    code = (
        "import contextlib, io, runpy, sys\n"
        f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
        f"for name in {scripts!r}:\n"
        "    module = runpy.run_path(f'benchmarks/{name}', run_name='not_main')\n"
        "    buf = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):\n"
        "        module['main'](['--help'])\n"
        "    print(name, '|', ' '.join(buf.getvalue().split()))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    helps = dict(line.split(" | ", 1) for line in res.stdout.splitlines() if " | " in line)
    assert sorted(helps) == scripts
    for name, text in helps.items():
        stem = name.removesuffix(".py")
        assert f"--out OUT JSON output (default benchmarks/out/{stem}.json" in text, name
    ignored = subprocess.run(
        ["git", "check-ignore", "benchmarks/out/x.json"], cwd=ROOT, capture_output=True
    )
    assert ignored.returncode == 0  # git ignores the default folder


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


def test_bo_quality_smoke_runs_every_strategy_through_the_cli(tmp_path):
    out = tmp_path / "bo_quality.json"
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bo_quality.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(out.read_text())
    strategies = ["ax_ext", "ax-default", "optuna-tpe", "optuna-gp", "sobol"]
    assert data["strategies"] == strategies and data["trials"] == 4
    assert len(data["rows"]) == 2 * len(strategies) * 4  # 2 problems, 1 seed, 4 trials
    for problem in ("synthetic", "sklearn-sgd"):
        entry = data["summary"][problem]
        assert list(entry["strategies"]) == strategies
        for row in entry["strategies"].values():
            assert row["generation_seconds"] > 0 and set(row["best"]) == {"4"}
            assert 1 <= row["median_trials_to_reference"] <= 5  # 5: never within 4
        assert entry["strategies"]["ax-default"]["median_trials_to_reference"] <= 4
        assert f"{problem}: best value" in res.stdout
    assert "total generation seconds: ax_ext" in res.stdout
    csv = out.with_suffix(".csv").read_text().splitlines()
    assert csv[0].startswith("problem,strategy,seed,trial,value,best_so_far")
    assert len(csv) == 1 + len(data["rows"])
    assert "plotly" in out.with_suffix(".html").read_text()[:200000].lower()
