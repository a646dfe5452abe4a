import math

import numpy as np

from ax_ext.plotting import first_model_based_trial, optimization_history
from tests.plotting._experiments import client_with, grid, interior_loss


def test_history_is_the_running_best_with_failed_trials_marked():
    points = grid()
    client = client_with(points, interior_loss, failed=(2,))
    fig = optimization_history(client)
    trials, best = fig.data[0], fig.data[1]
    assert [t.name for t in fig.data] == ["trials", "best so far", "failed"]
    values = [interior_loss(p) for k, p in enumerate(points) if k != 2]
    np.testing.assert_allclose(trials.y, values)
    np.testing.assert_allclose(best.y, np.minimum.accumulate(values))
    assert best.line.shape == "hv"
    assert list(fig.data[2].x) == [2]
    index = min((k for k in range(len(points)) if k != 2), key=lambda k: interior_loss(points[k]))
    assert fig.layout.meta["best"] == [index, interior_loss(points[index])]
    # trials attached by hand are not BO
    assert (
        fig.layout.meta["first_bo"] is None and first_model_based_trial(client._experiment) is None
    )
    assert not fig.layout.shapes


def test_history_marks_where_bo_began():
    from ax.api.client import Client
    from ax.api.configs import RangeParameterConfig

    from ax_ext.cli import FAST_ACQF
    from ax_ext.generation import sobol_then_bo

    client = Client(random_seed=0)
    client.configure_experiment(
        parameters=[RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0))]
    )
    client.configure_optimization(objective="-loss")
    client.set_generation_strategy(
        sobol_then_bo(client, num_sobol_trials=3, seed=0, optimizer_kwargs=FAST_ACQF)
    )
    for _ in range(4):
        ((index, p),) = client.get_next_trials(max_trials=1).items()
        client.complete_trial(index, raw_data={"loss": (p["x"] - 0.3) ** 2})
    fig = optimization_history(client)
    assert fig.layout.meta["first_bo"] == 3 == first_model_based_trial(client._experiment)
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == 2.5
    assert any(a.text == "BO began (trial 3)" for a in fig.layout.annotations)
    assert not math.isnan(fig.data[1].y[-1])
