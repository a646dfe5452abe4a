import warnings

import pytest
from ax.exceptions.core import AxParameterWarning, UserInputError

from ax_ext.plotting import BoundaryWarning, axis_plots, isolation_plot
from tests.plotting._experiments import OPTS, boundary_loss, client_with, grid, interior_loss


def _traces(fig, name):
    return [t for t in fig.data if t.name == name]


def test_axis_plots_layout_and_hover():
    client = client_with(grid(), interior_loss, failed=(3,))
    with warnings.catch_warnings():
        warnings.simplefilter("error", BoundaryWarning)
        fig = axis_plots(client, cols=2)
    # 3 parameters x (trials, best trials, failed)
    assert len(fig.data) == 9
    assert [a.text for a in fig.layout.annotations] == ["lr (log scale)", "depth", "opt"]
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.xaxis3.type == "category"
    assert list(fig.layout.xaxis3.categoryarray) == OPTS
    assert fig.layout.yaxis.title.text == "loss"
    assert fig.layout.meta["boundary"] == []
    best = _traces(fig, "best trials")[0]
    assert len(best.x) == 2  # ceil(10% of 11 completed trials)
    assert "trial" in best.text[0] and "lr:" in best.text[0] and "opt:" in best.text[0]
    assert [t.showlegend for t in _traces(fig, "trials")] == [True, False, False]


def test_failed_trials_marked():
    client = client_with(grid(), interior_loss, failed=(3, 5))
    fig = axis_plots(client)
    failed = _traces(fig, "failed")
    assert len(failed) == 3
    assert failed[0].marker.symbol == "x"
    assert len(failed[0].x) == 2
    assert "trial FAILED: diverged" in failed[0].text[0]
    # drawn above every completed trial (loss is minimized: the bad edge is the top)
    completed = [y for t in _traces(fig, "trials") + _traces(fig, "best trials") for y in t.y]
    assert min(failed[0].y) > max(completed)


def test_infeasible_trials_marked():
    points = grid()
    client = client_with(
        points,
        interior_loss,
        constraint="acc >= 0.5",
        extra=lambda p: {"acc": 0.0 if p["opt"] == "sgd" else 1.0},
    )
    fig = axis_plots(client)
    infeasible = _traces(fig, "infeasible")
    assert len(infeasible) == 3
    assert len(infeasible[0].x) == sum(p["opt"] == "sgd" for p in points)
    assert "sgd" not in set(_traces(fig, "best trials")[2].x)


def test_boundary_warning_fires_at_bound():
    points = grid() + [
        {"lr": 1.0, "depth": 3, "opt": "adam"},
        {"lr": 0.9, "depth": 4, "opt": "sgd"},
    ]
    client = client_with(points, boundary_loss)
    with pytest.warns(BoundaryWarning, match="lr \\(upper bound 1\\)") as record:
        fig = axis_plots(client)
    assert issubclass(record[0].category, AxParameterWarning)
    assert "extending these ranges" in str(record[0].message)
    (found,) = fig.layout.meta["boundary"]
    assert found["parameter"] == "lr" and found["bound"] == "upper"
    assert len(_traces(fig, "bound with best trials")) == 1
    assert "best at upper bound" in fig.layout.annotations[0].text
    # annotated but silent with warn=False; a tighter tolerance finds nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error", BoundaryWarning)
        assert axis_plots(client, warn=False).layout.meta["boundary"]
        fig = axis_plots(client, top_k=3, boundary_tolerance=0.001)
    assert fig.layout.meta["boundary"] == []


def test_isolation_plot_best_per_bucket():
    points = grid()
    client = client_with(points, interior_loss)
    fig = isolation_plot(client, "opt")
    assert [t.name for t in fig.data] == ["all trials", "best per bucket"]
    best = fig.data[1]
    assert list(best.x) == OPTS
    for opt, y in zip(best.x, best.y):
        assert y == min(interior_loss(p) for p in points if p["opt"] == opt)
    assert "bucket adam" in best.text[0]
    fig = isolation_plot(client, "lr", n_buckets=4)
    assert fig.layout.xaxis.type == "log"
    assert 1 <= len(fig.data[1].x) <= 4
    fig = isolation_plot(client, "depth", buckets=[1, 5, 9])
    assert len(fig.data[1].x) == 2
    with pytest.raises(UserInputError, match="Expected parameter to be one of"):
        isolation_plot(client, "momentum")
    with pytest.raises(UserInputError, match="at least two bucket edges"):
        isolation_plot(client, "depth", buckets=[3])


def test_metric_errors():
    client = client_with(grid(4), interior_loss)
    with pytest.raises(UserInputError, match="Expected metric_name"):
        axis_plots(client, "acc")
    with pytest.raises(UserInputError, match="Expected parameters among"):
        axis_plots(client, parameters=["momentum"])


def test_isolation_plot_of_an_unordered_choice_has_no_line_and_zooms_to_the_best():
    points = grid()
    # one diverged trial per optimizer besides the good ones: the best per bucket must show
    loss = lambda p: interior_loss(p) + (100.0 if p["depth"] == 1 else 0.0)  # noqa: E731
    client = client_with(points, loss)
    fig = isolation_plot(client, "opt")
    best = fig.data[1]
    assert best.mode == "markers"  # adam, sgd, rmsprop have no order to draw
    assert fig.layout.yaxis.type == "log"  # 0.8 .. 100: more than two decades
    lo, hi = (10**v for v in fig.layout.yaxis.range)  # plotly's log ranges are in log10
    assert lo <= min(best.y) and max(best.y) <= hi
    assert hi < max(fig.data[0].y)  # the worst trials are outside, not squashing the best
    # an ordered range parameter keeps its line
    assert isolation_plot(client, "depth", buckets=[1, 5, 9]).data[1].mode == "lines+markers"


def test_charts_use_a_log_y_axis_when_a_positive_objective_spans_two_decades():
    from ax_ext.plotting import optimization_history

    points = grid()
    wide = lambda p: 0.05 + interior_loss(p) ** 3  # noqa: E731  (0.05 .. ~ 1e3)
    client = client_with(points, wide)
    for fig in (axis_plots(client), isolation_plot(client, "lr"), optimization_history(client)):
        assert fig.layout.yaxis.type == "log"
        assert any("log y-axis" in a.text for a in fig.layout.annotations)
    narrow = client_with(points, interior_loss)  # 0 .. ~ 20: not positive everywhere
    for fig in (axis_plots(narrow), optimization_history(narrow)):
        assert fig.layout.yaxis.type != "log"
        assert not any("log y-axis" in (a.text or "") for a in fig.layout.annotations)
