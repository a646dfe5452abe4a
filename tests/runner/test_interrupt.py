"""Ctrl-C: stop launching, save what arrived, mark the rest interrupted, one line, exit 130."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import distributed
import pytest
from ax.core.base_trial import TrialStatus

from ax_ext.runner import get_problem
from tests.runner._slow_problem import SLEEP_ENV


def _statuses(path):
    try:
        with sqlite3.connect(path, timeout=1) as db:
            rows = db.execute('SELECT "index", status, failed_reason FROM trial_v2').fetchall()
    except sqlite3.OperationalError:  # not created yet, or locked
        return {}
    return {i: (TrialStatus(s), r) for i, s, r in rows}


def _start_tune(tmp_path, storage):
    cmd = [
        sys.executable, "-m", "ax_ext", "tune", "tests.runner._slow_problem:slow_problem",
        "--trials", "20", "--workers", "2", "--storage", str(storage), "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, SLEEP_ENV: "2"}
    out, err = (tmp_path / "out.log").open("w"), (tmp_path / "err.log").open("w")
    # a terminal's Ctrl-C signals the whole foreground process group: Dask workers too
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, start_new_session=True)
    return proc, out, err


def _wait_for(proc, storage, tmp_path, completed, running):
    deadline = time.monotonic() + 180
    while True:
        statuses = [s for s, _ in _statuses(storage).values()]
        if (
            statuses.count(TrialStatus.COMPLETED) >= completed
            and statuses.count(TrialStatus.RUNNING) >= running
        ):
            return
        assert proc.poll() is None, (tmp_path / "err.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the study did not get going"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_ctrl_c_stops_the_study_cleanly_within_seconds(tmp_path, signum, code):
    storage = tmp_path / "study.db"
    proc, out, err = _start_tune(tmp_path, storage)
    try:
        _wait_for(proc, storage, tmp_path, completed=1, running=2)
        before = _statuses(storage)
        start = time.monotonic()
        # to the whole process group, as a terminal's Ctrl-C or Slurm's scancel
        os.killpg(proc.pid, signum)
        exit_code = proc.wait(timeout=60)
        seconds = time.monotonic() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out.close()
        err.close()
    assert exit_code == code
    assert seconds < 10
    stderr = (tmp_path / "err.log").read_text()
    output = stderr + (tmp_path / "out.log").read_text()
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("ax-ext tune: stopped: "), stderr
    assert lines[-1].endswith("run the same command again to resume.")
    if signum == signal.SIGINT:  # one line; a SIGTERM to the group may let Dask log first
        assert len(lines) == 1, stderr
    after = _statuses(storage)
    # nothing received is lost; nothing is left running
    for index, (status, _) in before.items():
        if status == TrialStatus.COMPLETED:
            assert after[index][0] == TrialStatus.COMPLETED
    assert TrialStatus.RUNNING not in {s for s, _ in after.values()}
    # trials running at the Ctrl-C finished in time (saved) or were marked interrupted
    outcomes = {after[i] for i, (s, _) in before.items() if s == TrialStatus.RUNNING}
    assert outcomes <= {(TrialStatus.COMPLETED, None), (TrialStatus.FAILED, "interrupted")}
    assert (TrialStatus.FAILED, "interrupted") in set(after.values())


def test_a_second_ctrl_c_exits_at_once(tmp_path):
    storage = tmp_path / "study.db"
    proc, out, err = _start_tune(tmp_path, storage)
    try:
        _wait_for(proc, storage, tmp_path, completed=0, running=2)
        start = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.3)  # two signals sent at once would arrive as one
        start = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=30)
        seconds = time.monotonic() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out.close()
        err.close()
    assert code == 130 and seconds < 3
    # the second Ctrl-C lands in the first one's stop ("stopped at once") or, where
    # that stop took under 0.3 s, after it: the process then exits at once without
    # finalizing (``ax_ext.cli.run``), never with a traceback or Python's -2
    err_text = (tmp_path / "err.log").read_text()
    assert "stopped at once" in err_text or "ax-ext tune: stopped:" in err_text
    assert "Traceback" not in err_text


def _quick(x):
    return {"loss": 0.5}


def _slow(x):
    time.sleep(30)
    return {"loss": 0.1}


def test_on_a_stop_results_that_arrived_are_saved_and_the_others_interrupted(tmp_path):
    from ax_ext.runner._interrupt import Interrupt
    from ax_ext.runner._loop import LoopResult, _stop
    from ax_ext.runner._session import StudySession
    from ax_ext.runner._storage import open_storage
    from ax_ext.runner.study import _new_client

    problem = get_problem("synthetic")
    storage = tmp_path / "study.db"
    config = open_storage(storage)
    session = StudySession(problem, storage, config, "ax_ext:synthetic", 60.0)
    session.open(_new_client(problem, 0, "sobol", None, None), set())
    try:
        with Interrupt() as interrupt:
            new, _ = session.generate(2, trials=5, interrupt=interrupt)
        (arrived, running) = sorted(new)
        with distributed.Client(processes=False, n_workers=2, dashboard_address=None) as dask:
            done = dask.submit(_quick, 0)
            hung = dask.submit(_slow, 0)
            distributed.wait([done])
            out = LoopResult()
            _stop(session, {done: (arrived, 0.0), hung: (running, 0.0)}, out)
    finally:
        session.close()
    assert (out.saved_on_stop, out.interrupted) == (1, 1)
    trials = session.experiment.trials
    assert trials[arrived].status == TrialStatus.COMPLETED
    assert trials[running].status == TrialStatus.FAILED
    assert trials[running].status_reason == "interrupted"
    assert _statuses(storage) == {
        arrived: (TrialStatus.COMPLETED, None),
        running: (TrialStatus.FAILED, "interrupted"),
    }
