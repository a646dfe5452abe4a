"""Each Dask worker process of ``ax-ext tune`` gets a thread budget (real clusters)."""

import os

import distributed
import pytest
from ax.exceptions.core import UserInputError

from ax_ext.runner import run_study


def _worker_threads():
    import torch

    return torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")


def _connect(*args):
    from ax_ext.runner import _dask

    return _dask, _dask.connect(*args)


def test_local_workers_share_the_cores_by_default():
    _dask, (client, cluster) = _connect(2, None)
    try:
        budget = max(1, (os.cpu_count() or 1) // 2)
        assert _dask.worker_thread_budget(2, None) == budget
        seen = client.run(_worker_threads)
        assert len(seen) == 2
        assert set(seen.values()) == {(budget, str(budget))}
    finally:
        _dask.close(client, cluster)


def test_local_workers_take_an_explicit_budget():
    # one worker's default budget is every core; 1 differs from it on a multi-core machine
    _dask, (client, cluster) = _connect(1, None, 1)
    try:
        assert set(client.run(_worker_threads).values()) == {(1, "1")}
    finally:
        _dask.close(client, cluster)


def test_a_schedulers_workers_get_an_explicit_budget_and_keep_theirs_without():
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
    ) as remote:
        _dask, (client, _) = _connect(1, remote.scheduler_address)
        try:
            before = client.run(_worker_threads)
        finally:
            _dask.close(client, None)
        _dask, (client, _) = _connect(1, remote.scheduler_address, 1)
        try:
            assert set(client.run(_worker_threads).values()) == {(1, "1")}
        finally:
            _dask.close(client, None)
    if (os.cpu_count() or 1) > 1 and "OMP_NUM_THREADS" not in os.environ:
        assert set(before.values()) != {(1, "1")}


@pytest.mark.parametrize("bad", [0, True, "2"])
def test_run_study_rejects_a_bad_worker_thread_budget(tmp_path, bad):
    with pytest.raises(UserInputError, match="Expected worker_threads to be an integer >= 1"):
        run_study("synthetic", 2, 1, tmp_path / "a.db", worker_threads=bad)
    assert not (tmp_path / "a.db").exists()
