import math

import pytest
from ax.exceptions.core import UserInputError

from ax_ext.runner import Problem, TrialFailedError, get_problem, problem_names, register_problem
from ax_ext.runner.builtin_problems import SYNTHETIC_OPTIMUM, synthetic_loss
from ax_ext.runner.problems import _REGISTRY


def test_builtin_problems_are_listed_and_unknown_names_fail_clearly():
    assert {"synthetic", "sklearn-gb", "digits-cnn"} <= set(problem_names())
    with pytest.raises(UserInputError, match=r"one of \[.*'digits-cnn'.*\], got 'mnist'"):
        get_problem("mnist")


def test_synthetic_has_its_known_optimum_and_a_mixed_space():
    problem = get_problem("synthetic")
    assert problem.evaluate(SYNTHETIC_OPTIMUM, 0) == {"loss": 0.0}
    worse = dict(SYNTHETIC_OPTIMUM, optimizer="sgd", kernel="linear", lr=0.5e-1)
    assert problem.evaluate(worse, 0)["loss"] > 0.5
    assert problem.objective_expression == "-loss"
    kinds = {type(p).__name__ for p in problem.parameters}
    assert kinds == {"RangeParameterConfig", "ChoiceParameterConfig"}
    assert any(getattr(p, "scaling", None) == "log" for p in problem.parameters)
    assert set(problem.parameter_names) == set(SYNTHETIC_OPTIMUM)


def test_sklearn_gb_evaluates_once_at_small_size():
    problem = get_problem("sklearn-gb")
    params = {
        "learning_rate": 0.2,
        "max_iter": 10,
        "max_leaf_nodes": 8,
        "min_samples_leaf": 10,
        "l2_regularization": 1e-3,
        "max_features": 0.5,
        "class_weight": "balanced",
        "early_stopping": "off",
    }
    assert set(params) == set(problem.parameter_names)
    result = problem.evaluate(params, 0)
    assert 0 < result["log_loss"] < 0.7  # better than a coin flip (log 2 = 0.69)
    assert 0.8 < result["accuracy"] <= 1


def _cnn_params(**changes):
    params = {
        "lr": 3e-3,
        "weight_decay": 1e-4,
        "batch_size": 64,
        "epochs": 1,
        "channels1": 4,
        "channels2": 8,
        "dropout": 0.1,
        "pct_start": 0.3,
        "optimizer": "adam",
        "activation": "relu",
    }
    params.update(changes)
    return params


def test_digits_cnn_trains_one_epoch_and_restores_threads():
    import torch

    problem = get_problem("digits-cnn")
    assert set(_cnn_params()) == set(problem.parameter_names)
    threads = torch.get_num_threads()
    result = problem.evaluate(_cnn_params(), 0)
    assert torch.get_num_threads() == threads
    assert math.isfinite(result["val_loss"]) and 0 <= result["val_accuracy"] <= 1
    assert result["val_loss"] < math.log(10) + 0.1  # near or better than chance
    again, curves = problem.evaluate(_cnn_params(), 0), result.pop("curves")
    for name, values in again.pop("curves").items():
        assert values == pytest.approx(curves[name], rel=1e-4)
    assert again == pytest.approx(result, rel=1e-4, abs=5.0)


def test_digits_cnn_divergence_is_a_failed_trial():
    problem = get_problem("digits-cnn")
    with pytest.raises(TrialFailedError, match="non-finite"):
        problem.evaluate(_cnn_params(lr=1e4, optimizer="sgd", epochs=2, batch_size=16), 0)


def test_register_problem_and_its_errors():
    problem = Problem(
        name="test-register",
        parameters=get_problem("synthetic").parameters,
        objective="loss",
        minimize=False,
        evaluate=synthetic_loss,
    )
    try:
        register_problem(problem)
        assert get_problem("test-register") is problem
        assert problem.objective_expression == "loss"
        with pytest.raises(UserInputError, match="already registered"):
            register_problem(problem)
        with pytest.raises(UserInputError, match="match the problem's name"):
            register_problem(problem, name="other", overwrite=True)
        with pytest.raises(UserInputError, match="Expected a name"):
            register_problem(lambda: problem)
    finally:
        _REGISTRY.pop("test-register", None)


def test_module_attribute_names_a_user_problem():
    # a Problem factory in an importable module, named on the command line
    problem = get_problem("ax_ext.runner.builtin_problems:_synthetic_problem")
    assert problem.name == "synthetic"
    assert problem.evaluate(SYNTHETIC_OPTIMUM, 0)["loss"] == 0.0
    with pytest.raises(UserInputError, match="importing 'no_such_module_xyz' failed"):
        get_problem("no_such_module_xyz:thing")
    with pytest.raises(UserInputError, match="has no attribute 'nothing'"):
        get_problem("ax_ext.runner.builtin_problems:nothing")
    with pytest.raises(UserInputError, match="a Problem or a function returning one"):
        get_problem("ax_ext.runner.builtin_problems:SYNTHETIC_OPTIMUM")
