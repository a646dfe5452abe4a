import ast
import json
import math
from pathlib import Path

import pytest
from ax.exceptions.core import UserInputError

from ax_ext.plotting import training_curves
from ax_ext.plotting._style import BEST

CURVES = {
    0: {"val_loss": [0.9, 0.6, 0.5], "train_loss": [1.1, 0.7, 0.4]},
    2: {"val_loss": [0.8, 0.4, 0.3], "train_loss": [1.0, 0.5, 0.2], "val_accuracy": [0.7, 0.9]},
    5: {"val_loss": [1.2, math.nan, math.inf], "train_loss": [1.3, 2.0, 9.0]},
}
PARAMETERS = {0: {"lr": 0.1, "opt": "adam"}, 2: {"lr": 0.01, "opt": "sgd"}, 5: {"lr": 1.0}}


def test_one_subplot_per_curve_one_line_per_trial_best_on_top():
    fig = training_curves(CURVES, parameters=PARAMETERS, best_index=2)
    assert [a.text for a in fig.layout.annotations] == ["val_loss", "train_loss", "val_accuracy"]
    by_curve = {}
    for t in fig.data:
        by_curve.setdefault(t.meta["curve"], []).append(t.meta["trial_index"])
    # every trial that has the curve, the best one last (drawn on top)
    assert by_curve == {"val_loss": [0, 5, 2], "train_loss": [0, 5, 2], "val_accuracy": [2]}
    best = [t for t in fig.data if t.meta["trial_index"] == 2]
    assert {t.name for t in best} == {"trial 2 (best)"}
    assert all(t.line.color == BEST and t.line.width == 3 for t in best)
    # one legend entry for the ordinary trials, one for the best trial
    assert [t.name for t in fig.data if t.showlegend] == ["trials", "trial 2 (best)"]
    first = fig.data[0]
    assert list(first.x) == [1, 2, 3] and list(first.y) == [0.9, 0.6, 0.5]
    assert fig.layout.xaxis3.title.text == "epoch" and fig.layout.yaxis.title.text == "val_loss"
    assert (fig.layout.xaxis.tick0, fig.layout.xaxis.dtick) == (1, 1)  # whole epochs
    assert fig.layout.title.text == "Training curves of 3 trials"


def test_hover_shows_the_trial_epoch_value_and_parameters():
    fig = training_curves(CURVES, parameters=PARAMETERS, best_index=2, x_title="step")
    trace = fig.data[0]
    head, name, params = trace.customdata[0]
    assert head == "<b>trial 0</b>" and name == "val_loss"
    assert params == "lr: 0.1<br>opt: adam"
    assert "step %{x}" in trace.hovertemplate and "%{y:.4g}" in trace.hovertemplate
    assert fig.data[2].customdata[0][0] == "<b>trial 2 (best)</b>"


def test_non_finite_values_leave_gaps_and_names_choose_the_curves():
    fig = training_curves(CURVES, names=["train_loss", "val_loss"], best_index=99)
    assert [t.meta["curve"] for t in fig.data][:3] == ["train_loss"] * 3
    assert not any(t.name.endswith("(best)") for t in fig.data)  # 99 has no curves
    diverged = [t for t in fig.data if t.meta == {"trial_index": 5, "curve": "val_loss"}][0]
    assert json.loads(fig.to_json())["data"][fig.data.index(diverged)]["y"] == [1.2, None, None]
    single = training_curves({1: {"loss": [0.5]}})
    assert single.data[0].mode == "lines+markers"  # a one-epoch curve is still visible


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(UserInputError, match="at least one trial"):
        training_curves({})
    with pytest.raises(UserInputError, match=r"curve names from \['val_loss'.*got \['nope'\]"):
        training_curves(CURVES, names=["nope"])


def test_plotting_layer_does_not_import_the_runner():
    import ax_ext.plotting

    for path in Path(ax_ext.plotting.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any(n.startswith("ax_ext.runner") for n in names), path.name
