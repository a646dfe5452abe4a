"""The scikit-learn built-in problems: registered, fast, seeded, and sgd's heavy tail."""

import math

import pytest

from ax_ext.runner import TrialFailedError, get_problem, problem_names

NAMES = ("sklearn-sgd", "sklearn-forest", "sklearn-svr", "sklearn-mlp")


def _middle(problem):
    """Every range parameter at its midpoint (log-midpoint), every choice at its first value."""
    params = {}
    for p in problem.parameters:
        if hasattr(p, "bounds"):
            low, high = p.bounds
            log = str(getattr(p.scaling, "value", p.scaling)).lower() == "log"
            mid = math.sqrt(low * high) if log else (low + high) / 2
            kind = str(getattr(p.parameter_type, "value", p.parameter_type)).lower()
            params[p.name] = round(mid) if kind == "int" else mid
        else:
            params[p.name] = p.values[0]
    return params


@pytest.mark.parametrize("name", NAMES)
def test_sklearn_problem_evaluates_seeded_with_several_choices(name):
    assert name in problem_names()
    problem = get_problem(name)
    choices = [p for p in problem.parameters if hasattr(p, "values")]
    assert len(choices) >= 2 and problem.minimize
    params = _middle(problem)
    first = problem.evaluate(params, 0)
    assert math.isfinite(first[problem.objective]) and first[problem.objective] > 0
    assert problem.evaluate(params, 0)[problem.objective] == first[problem.objective]


def test_sklearn_sgd_is_heavy_tailed():
    problem = get_problem("sklearn-sgd")
    good = {**_middle(problem), "learning_rate": "adaptive", "eta0": 1e-2, "alpha": 1e-4}
    good_mse = problem.evaluate(good, 0)["mse"]
    assert good_mse < 1.0  # the standardized target's variance is 1
    wild = {**good, "learning_rate": "constant", "eta0": 1.0, "loss": "squared_error"}
    try:
        wild_mse = problem.evaluate(wild, 0)["mse"]
    except TrialFailedError:  # diverged to inf/NaN: a failed trial
        return
    assert wild_mse > 1e6 * good_mse  # many decades above the rest
