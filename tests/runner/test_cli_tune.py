import os
import signal
import sqlite3
import subprocess
import sys
import time

from ax.core.base_trial import TrialStatus

from ax_ext.cli import main
from ax_ext.generation import load_client


def _count_in_db(path, status: TrialStatus) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as db:
            (count,) = db.execute(
                "SELECT count(*) FROM trial_v2 WHERE status = ?", (status.value,)
            ).fetchone()
    except sqlite3.OperationalError:  # tables not created yet, or locked
        return 0
    return count


def _snapshot(path, name):
    client = load_client(path, experiment_name=f"ax_ext:{name}")
    experiment = client._experiment
    df = experiment.lookup_data().df
    losses = dict(zip(df["trial_index"], df["mean"]))
    return experiment, {
        i: (t.status, t.status_reason, tuple(sorted(t.arm.parameters.items())), losses.get(i))
        for i, t in experiment.trials.items()
    }


#: a problem whose first three evaluations finish and whose later ones wait for a file:
#: the study is killed in a known state (3 completed, 2 running), whatever the timing
GATED_PROBLEM = """
import os
import time
from pathlib import Path

from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

from ax_ext.runner import Problem

HERE = Path(__file__).parent


def evaluate(params, seed):
    fd = os.open(HERE / "started", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, b"x")  # one atomic append per evaluation: its offset is its rank
        rank = os.lseek(fd, 0, os.SEEK_CUR)
    finally:
        os.close(fd)
    while rank > 3 and not (HERE / "release").exists():
        time.sleep(0.05)
    return {"loss": (params["x"] - 0.3) ** 2 + (params["kind"] == "b")}


def gated():
    return Problem(
        name="gated",
        parameters=[
            RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0)),
            ChoiceParameterConfig(name="kind", parameter_type="str", values=["a", "b"]),
        ],
        objective="loss",
        minimize=True,
        evaluate=evaluate,
    )
"""


def test_tune_resumes_after_the_process_is_killed(tmp_path):
    (tmp_path / "gated_problems.py").write_text(GATED_PROBLEM)
    storage = tmp_path / "study.db"
    cmd = [
        sys.executable,
        "-m",
        "ax_ext",
        "tune",
        "gated_problems:gated",
        "--trials",
        "7",
        "--workers",
        "2",
        "--storage",
        str(storage),
        "--sobol",
        "9",  # the resume is under test, not BO: quasi-random trials only (fast)
        "--no-progress",
    ]
    with open(tmp_path / "first.log", "w") as log:
        # its own process group: killing it takes the Dask scheduler and workers too
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=log, stderr=log, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while not (
                _count_in_db(storage, TrialStatus.COMPLETED) == 3
                and _count_in_db(storage, TrialStatus.RUNNING) == 2
            ):
                assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "not 3 completed and 2 running in 120 s"
                time.sleep(0.1)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _, before = _snapshot(storage, "gated")
    completed_before = {i: v for i, v in before.items() if v[0] == TrialStatus.COMPLETED}
    running_before = [i for i, v in before.items() if v[0] == TrialStatus.RUNNING]
    # the state the kill met, read from the storage
    assert len(completed_before) == 3 and len(running_before) == 2
    assert len(before) == 5

    (tmp_path / "release").touch()
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Best trial" in res.stdout and "loss = " in res.stdout

    experiment, after = _snapshot(storage, "gated")
    # nothing lost: every trial completed before the kill is unchanged
    for index, value in completed_before.items():
        assert after[index] == value
    # the trials left running by the killed process are failed and not counted
    for index in running_before:
        assert after[index][:2] == (TrialStatus.FAILED, "its process stopped")
    statuses = [v[0] for v in after.values()]
    assert statuses.count(TrialStatus.COMPLETED) == 7
    assert TrialStatus.RUNNING not in statuses
    assert len(after) == 7 + 2
    # nothing duplicated: one arm per trial, all different
    arms = [v[2] for v in after.values()]
    assert len(set(arms)) == len(arms)
    assert sorted(experiment.trials) == list(range(len(after)))
    assert "; 4 trials run now" in res.stdout
    assert "trials already finished" not in res.stderr


def test_tune_reports_bad_input_on_stderr(tmp_path, capsys):
    storage = str(tmp_path / "s.db")
    assert main(["tune", "mnist", "--storage", storage]) == 2
    assert "registered problem name" in capsys.readouterr().err
    assert main(["tune", "synthetic", "--workers", "0", "--storage", storage]) == 2
    assert "Expected workers to be an integer >= 1" in capsys.readouterr().err
    assert main(["tune", "synthetic", "--storage", str(tmp_path / "s.csv")]) == 2
    assert "ending in .db" in capsys.readouterr().err


def test_a_short_tune_leaves_bo_half_its_trials(tmp_path, capsys):
    # synthetic has 6 parameters: max(5, 2 x 6) = 12 Sobol trials would leave 8 trials no BO
    storage = tmp_path / "short.db"
    argv = ["tune", "synthetic", "--trials", "6", "--storage", str(storage)]
    assert main([*argv, "--fast-acqf", "--no-progress"]) == 0
    assert "Only" not in capsys.readouterr().err
    experiment = load_client(storage, experiment_name="ax_ext:synthetic")._experiment
    nodes = [t.generator_runs[0]._generation_node_name for t in experiment.trials.values()]
    assert nodes == ["Sobol"] * 3 + ["BO"] * 3


def test_tune_says_when_the_sobol_budget_leaves_bo_under_a_third(tmp_path):
    # the command as a user runs it: the warning reaches the terminal (stderr)
    storage = tmp_path / "sobol_only.db"
    argv = ["tune", "synthetic", "--trials", "3", "--sobol", "3", "--storage", str(storage)]
    res = subprocess.run(
        [sys.executable, "-m", "ax_ext", *argv, "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Only 0 of the 3 trials will be BO: the first 3 are quasi-random (Sobol)" in res.stderr
    assert "pass --sobol 2" in res.stderr
