"""More built-in problems: scikit-learn models on its bundled data sets, well under a second.

* ``sklearn-sgd``: ``SGDRegressor`` on the diabetes data, 3-fold CV mean squared
  error of the standardized target. A heavy-tailed objective: a large constant
  step size makes SGD diverge to errors many decades above the rest (a divergence
  to inf or NaN fails the trial).
* ``sklearn-forest``: a random forest or extra trees classifier on the wine data,
  3-fold CV log loss.
* ``sklearn-mlp``: a multi-layer perceptron classifier on the wine data, 3-fold
  CV log loss (a large learning rate makes it blow up).
* ``sklearn-svr``: support vector regression on the diabetes data (kernel,
  ``C``, ``gamma``, ``epsilon``, ...), 3-fold CV mean squared error of the
  standardized target.

Each has several choice parameters. Module-level evaluation functions (picklable
by reference) that import scikit-learn themselves; this module does not import Ax
at import time.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from typing import Any

from ax_ext.runner.problem import Problem, TrialFailedError

__all__ = [
    "sklearn_forest_evaluate",
    "sklearn_mlp_evaluate",
    "sklearn_sgd_evaluate",
    "sklearn_svr_evaluate",
]


@lru_cache(maxsize=1)
def _diabetes():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return X, (y - y.mean()) / y.std()


@lru_cache(maxsize=1)
def _wine():
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


def _cv_mse(model: Any, seed: int) -> float:
    import numpy as np
    from sklearn.model_selection import KFold, cross_val_score

    X, y = _diabetes()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # convergence, overflow: the score says it
        try:
            scores = cross_val_score(
                model,
                X,
                y,
                cv=KFold(n_splits=3, shuffle=True, random_state=seed),
                scoring="neg_mean_squared_error",
                error_score="raise",
            )
        except (ValueError, OverflowError, FloatingPointError) as e:
            raise TrialFailedError(f"the fit diverged: {e}") from e
    mse = -float(scores.mean())
    if not math.isfinite(mse):
        raise TrialFailedError(f"non-finite cross-validated MSE {mse}")
    return mse


def sklearn_sgd_evaluate(params: dict[str, Any], seed: int = 0) -> dict[str, float]:
    """3-fold CV MSE of an ``SGDRegressor`` on the standardized diabetes data.

    Args:
        params: ``eta0``, ``alpha``, ``l1_ratio``, ``power_t``, ``max_iter``,
            ``loss`` (``squared_error``/``huber``/``epsilon_insensitive``),
            ``penalty`` (``l2``/``l1``/``elasticnet``) and ``learning_rate``
            (``constant``/``optimal``/``invscaling``/``adaptive``).
        seed: Seeds the folds and SGD.

    Returns:
        ``{"mse": ...}`` (about 0.5 at best; diverged runs reach 1e20 and more).

    Raises:
        TrialFailedError: If SGD overflows or the error is not finite.
    """
    from sklearn.linear_model import SGDRegressor

    model = SGDRegressor(
        loss=params["loss"],
        penalty=params["penalty"],
        alpha=params["alpha"],
        l1_ratio=params["l1_ratio"],
        learning_rate=params["learning_rate"],
        eta0=params["eta0"],
        power_t=params["power_t"],
        max_iter=int(params["max_iter"]),
        tol=1e-4,
        random_state=seed,
    )
    return {"mse": _cv_mse(model, seed)}


def sklearn_svr_evaluate(params: dict[str, Any], seed: int = 0) -> dict[str, float]:
    """3-fold CV MSE of an ``SVR`` on the standardized diabetes data.

    Args:
        params: ``C``, ``gamma``, ``epsilon``, ``coef0``, ``degree``, ``kernel``
            (``rbf``/``poly``/``sigmoid``/``linear``) and ``shrinking`` (``on``/``off``).
        seed: Seeds the folds (SVR itself is deterministic).

    Returns:
        ``{"mse": ...}``.
    """
    from sklearn.svm import SVR

    model = SVR(
        kernel=params["kernel"],
        C=params["C"],
        gamma=params["gamma"],
        epsilon=params["epsilon"],
        coef0=params["coef0"],
        degree=int(params["degree"]),
        shrinking=params["shrinking"] == "on",
        max_iter=20_000,  # a bound on the slowest (poly, large C) fits
    )
    return {"mse": _cv_mse(model, seed)}


def sklearn_forest_evaluate(params: dict[str, Any], seed: int = 0) -> dict[str, float]:
    """3-fold CV log loss of a random forest or extra trees classifier on the wine data.

    Args:
        params: ``n_estimators``, ``max_depth``, ``min_samples_leaf``,
            ``max_features``, ``model`` (``random_forest``/``extra_trees``),
            ``criterion`` (``gini``/``entropy``), ``bootstrap`` (``on``/``off``)
            and ``class_weight`` (``none``/``balanced``).
        seed: Seeds the folds and the trees.

    Returns:
        ``log_loss`` (the objective) and ``accuracy``.
    """
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_validate

    X, y = _wine()
    cls = RandomForestClassifier if params["model"] == "random_forest" else ExtraTreesClassifier
    model = cls(
        n_estimators=int(params["n_estimators"]),
        max_depth=int(params["max_depth"]),
        min_samples_leaf=int(params["min_samples_leaf"]),
        max_features=params["max_features"],
        criterion=params["criterion"],
        bootstrap=params["bootstrap"] == "on",
        class_weight=None if params["class_weight"] == "none" else "balanced",
        random_state=seed,
        n_jobs=1,
    )
    scores = cross_validate(
        model,
        X,
        y,
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=seed),
        scoring=("neg_log_loss", "accuracy"),
    )
    return {
        "log_loss": -float(scores["test_neg_log_loss"].mean()),
        "accuracy": float(scores["test_accuracy"].mean()),
    }


def sklearn_mlp_evaluate(params: dict[str, Any], seed: int = 0) -> dict[str, float]:
    """3-fold CV log loss of an ``MLPClassifier`` on the standardized wine data.

    Args:
        params: ``width``, ``layers``, ``alpha``, ``learning_rate_init``,
            ``batch_size``, ``max_iter``, ``activation``
            (``relu``/``tanh``/``logistic``) and ``solver`` (``adam``/``sgd``).
        seed: Seeds the folds and the weights.

    Returns:
        ``log_loss`` (the objective) and ``accuracy``.

    Raises:
        TrialFailedError: If training overflows or the log loss is not finite.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.neural_network import MLPClassifier

    X, y = _wine()
    model = MLPClassifier(
        hidden_layer_sizes=(int(params["width"]),) * int(params["layers"]),
        activation=params["activation"],
        solver=params["solver"],
        alpha=params["alpha"],
        learning_rate_init=params["learning_rate_init"],
        batch_size=int(params["batch_size"]),
        max_iter=int(params["max_iter"]),
        random_state=seed,
    )
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # convergence, overflow: the score says it
        try:
            scores = cross_validate(
                model,
                X,
                y,
                cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=seed),
                scoring=("neg_log_loss", "accuracy"),
                error_score="raise",
            )
        except (ValueError, OverflowError, FloatingPointError) as e:
            raise TrialFailedError(f"training diverged: {e}") from e
    log_loss = -float(scores["test_neg_log_loss"].mean())
    if not math.isfinite(log_loss):
        raise TrialFailedError(f"non-finite cross-validated log loss {log_loss}")
    return {"log_loss": log_loss, "accuracy": float(scores["test_accuracy"].mean())}


def _choice(name: str, values: list[str]) -> Any:
    from ax.api.configs import ChoiceParameterConfig

    return ChoiceParameterConfig(name=name, parameter_type="str", values=values, is_ordered=False)


def _range(name: str, low: float, high: float, kind: str = "float", log: bool = False) -> Any:
    from ax.api.configs import RangeParameterConfig

    scaling = "log" if log else "linear"
    return RangeParameterConfig(name=name, parameter_type=kind, bounds=(low, high), scaling=scaling)


def _sklearn_sgd_problem() -> Problem:
    return Problem(
        name="sklearn-sgd",
        parameters=[
            _range("eta0", 1e-5, 1.0, log=True),
            _range("alpha", 1e-7, 1.0, log=True),
            _range("l1_ratio", 0.0, 1.0),
            _range("power_t", 0.1, 0.9),
            _range("max_iter", 5, 200, "int", log=True),
            _choice("loss", ["squared_error", "huber", "epsilon_insensitive"]),
            _choice("penalty", ["l2", "l1", "elasticnet"]),
            _choice("learning_rate", ["constant", "optimal", "invscaling", "adaptive"]),
        ],
        objective="mse",
        minimize=True,
        evaluate=sklearn_sgd_evaluate,
        description="SGDRegressor on diabetes, 3-fold CV MSE (heavy-tailed: SGD diverges)",
    )


def _sklearn_svr_problem() -> Problem:
    return Problem(
        name="sklearn-svr",
        parameters=[
            _range("C", 1e-2, 1e3, log=True),
            _range("gamma", 1e-4, 1.0, log=True),
            _range("epsilon", 1e-3, 1.0, log=True),
            _range("coef0", 0.0, 1.0),
            _range("degree", 2, 5, "int"),
            _choice("kernel", ["rbf", "poly", "sigmoid", "linear"]),
            _choice("shrinking", ["on", "off"]),
        ],
        objective="mse",
        minimize=True,
        evaluate=sklearn_svr_evaluate,
        description="SVR on diabetes, 3-fold CV MSE of the standardized target",
    )


def _sklearn_forest_problem() -> Problem:
    return Problem(
        name="sklearn-forest",
        parameters=[
            _range("n_estimators", 10, 100, "int", log=True),
            _range("max_depth", 2, 16, "int"),
            _range("min_samples_leaf", 1, 32, "int", log=True),
            _range("max_features", 0.1, 1.0),
            _choice("model", ["random_forest", "extra_trees"]),
            _choice("criterion", ["gini", "entropy"]),
            _choice("bootstrap", ["on", "off"]),
            _choice("class_weight", ["none", "balanced"]),
        ],
        objective="log_loss",
        minimize=True,
        evaluate=sklearn_forest_evaluate,
        description="random forest / extra trees on wine, 3-fold CV log loss",
    )


def _sklearn_mlp_problem() -> Problem:
    return Problem(
        name="sklearn-mlp",
        parameters=[
            _range("width", 4, 64, "int", log=True),
            _range("layers", 1, 3, "int"),
            _range("alpha", 1e-6, 1.0, log=True),
            _range("learning_rate_init", 1e-4, 1.0, log=True),
            _range("batch_size", 8, 128, "int", log=True),
            _range("max_iter", 10, 100, "int", log=True),
            _choice("activation", ["relu", "tanh", "logistic"]),
            _choice("solver", ["adam", "sgd"]),
        ],
        objective="log_loss",
        minimize=True,
        evaluate=sklearn_mlp_evaluate,
        description="MLPClassifier on wine, 3-fold CV log loss",
    )
