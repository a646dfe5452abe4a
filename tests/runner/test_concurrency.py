"""Several ``ax-ext tune`` processes on one study (SQLite and PostgreSQL), heartbeats."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from ax.core.base_trial import TrialStatus

from ax_ext.runner import get_problem, run_study
from ax_ext.runner.report import load_study_client
from ax_ext.runner.study import _create_or_resume
from tests.runner._slow_problem import SLEEP_ENV

TRIALS = 8
PROBLEM = "tests.runner._slow_problem:slow_problem"


OWNER_KEY, PROCESS_STOPPED = "ax_ext_owner", "its process stopped"


def _rows(url):
    """``[(index, status, reason, owner)]`` of every trial row in the storage."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as c:
            rows = c.execute(
                sa.text('SELECT "index", status, failed_reason, run_metadata FROM trial_v2')
            ).all()
    except sa.exc.DBAPIError:  # the tables are not there yet
        return []
    finally:
        engine.dispose()
    return [
        (i, TrialStatus(s), reason, json.loads(meta or "{}").get(OWNER_KEY))
        for i, s, reason, meta in rows
    ]


def _tune(url, log):
    cmd = [
        sys.executable,
        "-m",
        "ax_ext",
        "tune",
        PROBLEM,
        "--trials",
        str(TRIALS),
        "--sobol",
        "5",
        "--fast-acqf",
        "--workers",
        "1",
        "--storage",
        url,
        "--no-progress",
    ]
    env = {**os.environ, SLEEP_ENV: "1.5"}
    # each in its own process group: killing one takes its Dask worker too
    return subprocess.Popen(cmd, stdout=log, stderr=log, env=env, start_new_session=True)


def _run_three_processes_and_kill_one(url, tmp_path):
    logs = [(tmp_path / f"tune{i}.log").open("w") for i in range(3)]
    procs = [_tune(url, log) for log in logs]
    victim = procs[0]
    try:
        deadline = time.monotonic() + 240
        while True:  # kill the victim once it has a finished and a running trial
            mine = [r for r in _rows(url) if r[3] and f":{victim.pid}:" in r[3]]
            statuses = {r[1] for r in mine}
            if {TrialStatus.COMPLETED, TrialStatus.RUNNING} <= statuses:
                break
            assert victim.poll() is None, (tmp_path / "tune0.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (
                "the victim never had a finished and a running trial"
            )
            time.sleep(0.05)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        for proc in procs[1:]:
            assert proc.wait(timeout=240) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for log in logs:
            log.close()
    for i in (1, 2):
        assert "Study of 'test-slow'" in (tmp_path / f"tune{i}.log").read_text()
    return victim


def _check_study(url, victim):
    rows = _rows(url)
    indices = [r[0] for r in rows]
    # each trial index created once, none lost
    assert sorted(indices) == list(range(len(rows)))
    assert TrialStatus.RUNNING not in {r[1] for r in rows}
    stopped = [r for r in rows if r[1] == TrialStatus.FAILED and r[2] == PROCESS_STOPPED]
    finished = [r for r in rows if r not in stopped]
    # the study stopped at --trials in total; the killed process's running trial was
    # marked failed and replaced
    assert len(finished) == TRIALS
    assert stopped and all(f":{victim.pid}:" in r[3] for r in stopped)
    assert all(r[1] == TrialStatus.COMPLETED for r in finished)
    # every finished evaluation kept with its data, every arm different
    experiment = load_study_client(url)._experiment
    df = experiment.lookup_data().df
    losses = dict(zip(df["trial_index"], df["mean"]))
    problem = get_problem("synthetic")
    for index, *_ in finished:
        params = experiment.trials[index].arm.parameters
        assert math.isclose(losses[index], problem.evaluate(params, 0)["loss"])
    arms = [tuple(sorted(t.arm.parameters.items())) for t in experiment.trials.values()]
    assert len(set(arms)) == len(arms)
    # three processes took part, and the survivors removed their heartbeat rows
    assert len({r[3].split(":")[1] for r in rows}) == 3
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM ax_ext_process")).scalar() == 0
    engine.dispose()


def test_three_tune_processes_share_one_sqlite_study_and_survive_a_kill(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    _check_study(url, _run_three_processes_and_kill_one(url, tmp_path))


def test_three_tune_processes_share_one_postgresql_study_and_survive_a_kill(tmp_path, postgres_url):
    _check_study(postgres_url, _run_three_processes_and_kill_one(postgres_url, tmp_path))


def test_a_process_silent_past_the_heartbeat_timeout_counts_as_stopped(tmp_path):
    from ax_ext.runner._coordination import (
        METADATA,
        PROCESSES,
        coordination_engine,
        db_now,
        dead_owners,
    )

    engine = coordination_engine(f"sqlite:///{tmp_path / 'beats.db'}")
    METADATA.create_all(engine)
    with engine.begin() as c:
        now = db_now(c)
        for owner, beat in (("silent", now - 100.0), ("beating", now - 1.0)):
            c.execute(
                PROCESSES.insert().values(
                    owner=owner, experiment="e", host="elsewhere/1", pid=1, started=0.0, beat=beat
                )
            )
    # another machine's process: only its heartbeat tells; an owner without a row is gone
    assert dead_owners(engine, {"silent", "beating", "gone"}, timeout=30.0) == {"silent", "gone"}
    with engine.connect() as c:
        left = c.execute(sa.select(PROCESSES.c.owner)).scalars().all()
    assert left == ["beating"]
    engine.dispose()


def test_a_study_replaces_the_trial_of_a_process_that_stopped_beating(tmp_path):
    from ax_ext.runner._coordination import PROCESSES, coordination_engine, db_now

    storage = tmp_path / "study.db"
    problem = get_problem("synthetic")
    client = _create_or_resume(problem, storage, seed=0, num_sobol_trials=5, optimizer_kwargs=None)
    ((index, params),) = client.get_next_trials(max_trials=1).items()
    client.complete_trial(index, raw_data=problem.evaluate(params, 0))
    ((orphan, _),) = client.get_next_trials(max_trials=1).items()
    # the trial's process ran on another machine and stopped beating 100 s ago
    trial = client._experiment.trials[orphan]
    trial.update_run_metadata({OWNER_KEY: "elsewhere:1:abc"})
    client._save_or_update_trial_in_db_if_possible(experiment=client._experiment, trial=trial)
    engine = coordination_engine(f"sqlite:///{storage}")
    with engine.begin() as c:
        c.execute(
            PROCESSES.insert().values(
                owner="elsewhere:1:abc",
                experiment="ax_ext:synthetic",
                host="elsewhere/1",
                pid=1,
                started=0.0,
                beat=db_now(c) - 100.0,
            )
        )
    engine.dispose()
    result = run_study(
        "synthetic", trials=2, workers=1, storage_path=storage, progress=False, heartbeat_timeout=30
    )
    assert (result.completed, result.failed, result.interrupted) == (2, 0, 1)
    stopped = result.client._experiment.trials[orphan]
    assert stopped.status == TrialStatus.FAILED and stopped.status_reason == PROCESS_STOPPED


@pytest.mark.parametrize("timeout", [0, -1.0, math.inf, True])
def test_heartbeat_timeout_must_be_positive(tmp_path, timeout):
    from ax.exceptions.core import UserInputError

    with pytest.raises(UserInputError, match=r"heartbeat_timeout \(--heartbeat-timeout\)"):
        run_study("synthetic", 2, 1, tmp_path / "s.db", progress=False, heartbeat_timeout=timeout)
    assert not (tmp_path / "s.db").exists()
