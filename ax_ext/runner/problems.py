"""Tuning problems for ``ax-ext tune``: a search space, an objective and an evaluation.

A :class:`Problem` names its Ax parameters (``ax.api.configs`` parameter configs),
its objective metric and direction, and a function ``evaluate(params, seed)`` that
runs one trial and returns its metrics. Evaluation functions run in Dask worker
processes, so they are module-level functions (picklable by reference) and import
their heavy dependencies (scikit-learn, PyTorch) themselves; this module does not
import Ax, so a worker that unpickles an evaluation function does not pay for it.

Built-in problems, created on first use by :func:`get_problem`:

* ``synthetic``: a mixed-space function with a known optimum (0 at
  :data:`SYNTHETIC_OPTIMUM`), a few microseconds per trial;
* ``sklearn-gb``: scikit-learn's ``HistGradientBoostingClassifier`` on the bundled
  breast-cancer data, 3-fold cross-validated log loss;
* ``digits-cnn``: a small PyTorch CNN on scikit-learn's bundled 8x8 digits images,
  validation loss after a one-cycle schedule; a few seconds per trial on a CPU.

Register your own with :func:`register_problem`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = [
    "SYNTHETIC_OPTIMUM",
    "Problem",
    "TrialFailedError",
    "get_problem",
    "problem_names",
    "register_problem",
]

logger = logging.getLogger(__name__)


class TrialFailedError(RuntimeError):
    """Raised by an evaluation whose trial failed (e.g. training diverged to NaN).

    The study marks the trial FAILED with the message as the reason, instead of
    recording a number.
    """


@dataclass
class Problem:
    """A tuning problem: search space, objective and evaluation function.

    Args:
        name: The name used on the command line and stored with the study.
        parameters: Ax parameter configs (``RangeParameterConfig`` /
            ``ChoiceParameterConfig`` from ``ax.api.configs``).
        objective: The metric to optimize; ``evaluate`` must return it.
        minimize: Whether smaller values of ``objective`` are better.
        evaluate: ``evaluate(params, seed) -> dict[str, float]``: runs one trial and
            returns its metrics (the objective and any others, tracked by Ax). It
            raises :class:`TrialFailedError` (or any exception) for a failed trial.
            It runs in Dask worker processes, so it must be picklable: a
            module-level function of an importable module.
        description: One line for ``--help`` and reports.
        optimum: The best objective value, where known (for tests and comparisons).
    """

    name: str
    parameters: Sequence[Any]
    objective: str
    minimize: bool
    evaluate: Callable[[dict[str, Any], int], dict[str, float]]
    description: str = ""
    optimum: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def objective_expression(self) -> str:
        """The objective as Ax's ``Client.configure_optimization`` expects it."""
        return f"-{self.objective}" if self.minimize else self.objective

    @property
    def parameter_names(self) -> list[str]:
        """The names of the search space's parameters."""
        return [p.name for p in self.parameters]


_REGISTRY: dict[str, Problem | Callable[[], Problem]] = {}


def _user_input_error(message: str) -> Exception:
    # imported here: importing Ax takes seconds, and Dask workers that unpickle an
    # evaluation function import this module without needing Ax
    from ax.exceptions.core import UserInputError

    return UserInputError(message)


def register_problem(
    problem: Problem | Callable[[], Problem], name: str | None = None, overwrite: bool = False
) -> None:
    """Make a problem available to :func:`get_problem` and ``ax-ext tune``.

    Args:
        problem: A :class:`Problem`, or a function without arguments returning one
            (called on first use, so registering costs nothing).
        name: The registry name; default ``problem.name`` (required for a factory).
        overwrite: Replace a problem already registered under that name.

    Raises:
        UserInputError: For a missing name, or a name already taken without
            ``overwrite``.
    """
    if name is None:
        if not isinstance(problem, Problem):
            raise _user_input_error(
                "Expected a name when registering a problem factory (a function "
                f"returning a Problem), got name=None for {problem!r}. Pass name=."
            )
        name = problem.name
    if isinstance(problem, Problem) and problem.name != name:
        raise _user_input_error(
            f"Expected the registry name to match the problem's name {problem.name!r}, "
            f"got {name!r}. Studies store the problem's name, so they must agree."
        )
    if name in _REGISTRY and not overwrite:
        raise _user_input_error(
            f"A problem named {name!r} is already registered. Choose another name or pass "
            "overwrite=True."
        )
    _REGISTRY[name] = problem


def problem_names() -> list[str]:
    """The names of the registered problems, sorted."""
    _register_builtins()
    return sorted(_REGISTRY)


def get_problem(name: str | Problem) -> Problem:
    """The registered problem called ``name`` (a :class:`Problem` is returned as is).

    Args:
        name: A registered name, e.g. ``"synthetic"``, ``"sklearn-gb"``, ``"digits-cnn"``.

    Returns:
        The :class:`Problem`.

    Raises:
        UserInputError: For an unknown name; the message lists the known ones.
    """
    if isinstance(name, Problem):
        return name
    _register_builtins()
    if name not in _REGISTRY:
        raise _user_input_error(
            f"Expected a registered problem name, one of {sorted(_REGISTRY)}, got {name!r}. "
            "Register your own with ax_ext.runner.register_problem."
        )
    entry = _REGISTRY[name]
    if not isinstance(entry, Problem):
        entry = entry()
        if not isinstance(entry, Problem) or entry.name != name:
            raise _user_input_error(
                f"Expected the factory registered as {name!r} to return a Problem named "
                f"{name!r}, got {entry!r}."
            )
        _REGISTRY[name] = entry
    return entry


def _register_builtins() -> None:
    for name, factory in (
        ("synthetic", _synthetic_problem),
        ("sklearn-gb", _sklearn_gb_problem),
        ("digits-cnn", _digits_cnn_problem),
    ):
        _REGISTRY.setdefault(name, factory)


# ----------------------------------------------------------------------------- synthetic

#: The optimum of the ``synthetic`` problem, where its ``loss`` is 0.
SYNTHETIC_OPTIMUM: dict[str, Any] = {
    "x": 0.3,
    "y": -0.2,
    "lr": 1e-3,
    "depth": 5,
    "kernel": "rbf",
    "optimizer": "adam",
}
_KERNEL_OFFSET = {"linear": 0.4, "rbf": 0.0, "poly": 0.25}
_OPTIMIZER_OFFSET = {"sgd": 0.5, "adam": 0.0, "rmsprop": 0.15, "adagrad": 0.8}


def synthetic_loss(params: dict[str, Any], seed: int = 0) -> dict[str, float]:
    """The ``synthetic`` problem's objective: 0 at :data:`SYNTHETIC_OPTIMUM`, else > 0.

    A smooth bowl in the four range parameters (``lr`` in log10 space) plus offsets
    for the two choice parameters, with an interaction: the ``sgd`` optimizer wants
    a ten times larger learning rate. Deterministic; ``seed`` is unused.

    Args:
        params: Values of ``x``, ``y``, ``lr``, ``depth``, ``kernel``, ``optimizer``.
        seed: Unused (the function has no noise).

    Returns:
        ``{"loss": value}``.
    """
    log_lr = math.log10(params["lr"]) + (1.0 if params["optimizer"] == "sgd" else 0.0)
    loss = (
        (params["x"] - 0.3) ** 2
        + 0.25 * (params["y"] + 0.2) ** 2
        + 0.0625 * (log_lr + 3.0) ** 2
        + ((params["depth"] - 5) / 7.0) ** 2
        + _KERNEL_OFFSET[params["kernel"]]
        + _OPTIMIZER_OFFSET[params["optimizer"]]
    )
    return {"loss": float(loss)}


def _synthetic_problem() -> Problem:
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    return Problem(
        name="synthetic",
        parameters=[
            RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0)),
            RangeParameterConfig(name="y", parameter_type="float", bounds=(-1.0, 1.0)),
            RangeParameterConfig(
                name="lr", parameter_type="float", bounds=(1e-5, 1e-1), scaling="log"
            ),
            RangeParameterConfig(name="depth", parameter_type="int", bounds=(1, 8)),
            ChoiceParameterConfig(
                name="kernel",
                parameter_type="str",
                values=list(_KERNEL_OFFSET),
                is_ordered=False,
            ),
            ChoiceParameterConfig(
                name="optimizer",
                parameter_type="str",
                values=list(_OPTIMIZER_OFFSET),
                is_ordered=False,
            ),
        ],
        objective="loss",
        minimize=True,
        evaluate=synthetic_loss,
        description="mixed-space function with a known optimum (loss 0), microseconds a trial",
        optimum=0.0,
    )


# ---------------------------------------------------------------------------- sklearn-gb


@lru_cache(maxsize=1)
def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def sklearn_gb_evaluate(params: dict[str, Any], seed: int = 0) -> dict[str, float]:
    """3-fold cross-validated ``HistGradientBoostingClassifier`` on breast cancer data.

    Args:
        params: ``learning_rate``, ``max_iter``, ``max_leaf_nodes``,
            ``min_samples_leaf``, ``l2_regularization``, ``max_features``,
            ``class_weight`` (``"none"`` or ``"balanced"``) and ``early_stopping``
            (``"on"``/``"off"``).
        seed: Seeds the folds and the model.

    Returns:
        ``log_loss`` (the objective), ``accuracy`` and ``fit_seconds``.

    Raises:
        TrialFailedError: If the cross-validated log loss is not finite.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_validate

    X, y = _breast_cancer()
    model = HistGradientBoostingClassifier(
        learning_rate=params["learning_rate"],
        max_iter=int(params["max_iter"]),
        max_leaf_nodes=int(params["max_leaf_nodes"]),
        min_samples_leaf=int(params["min_samples_leaf"]),
        l2_regularization=params["l2_regularization"],
        max_features=params["max_features"],
        class_weight=None if params["class_weight"] == "none" else params["class_weight"],
        early_stopping=params["early_stopping"] == "on",
        random_state=seed,
    )
    start = time.perf_counter()
    scores = cross_validate(
        model,
        X,
        y,
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=seed),
        scoring=("neg_log_loss", "accuracy"),
    )
    log_loss = -float(scores["test_neg_log_loss"].mean())
    if not math.isfinite(log_loss):
        raise TrialFailedError(f"non-finite cross-validated log loss {log_loss}")
    return {
        "log_loss": log_loss,
        "accuracy": float(scores["test_accuracy"].mean()),
        "fit_seconds": time.perf_counter() - start,
    }


def _sklearn_gb_problem() -> Problem:
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    return Problem(
        name="sklearn-gb",
        parameters=[
            RangeParameterConfig(
                name="learning_rate", parameter_type="float", bounds=(0.01, 1.0), scaling="log"
            ),
            RangeParameterConfig(
                name="max_iter", parameter_type="int", bounds=(10, 200), scaling="log"
            ),
            RangeParameterConfig(
                name="max_leaf_nodes", parameter_type="int", bounds=(4, 64), scaling="log"
            ),
            RangeParameterConfig(
                name="min_samples_leaf", parameter_type="int", bounds=(2, 64), scaling="log"
            ),
            RangeParameterConfig(
                name="l2_regularization",
                parameter_type="float",
                bounds=(1e-6, 10.0),
                scaling="log",
            ),
            RangeParameterConfig(name="max_features", parameter_type="float", bounds=(0.2, 1.0)),
            ChoiceParameterConfig(
                name="class_weight",
                parameter_type="str",
                values=["none", "balanced"],
                is_ordered=False,
            ),
            ChoiceParameterConfig(
                name="early_stopping", parameter_type="str", values=["on", "off"], is_ordered=False
            ),
        ],
        objective="log_loss",
        minimize=True,
        evaluate=sklearn_gb_evaluate,
        description="HistGradientBoostingClassifier on breast cancer, 3-fold CV log loss",
    )


# ---------------------------------------------------------------------------- digits-cnn


@lru_cache(maxsize=1)
def _digits_split():
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def digits_cnn_evaluate(
    params: dict[str, Any], seed: int = 0, num_threads: int | None = 1
) -> dict[str, float]:
    """Train a small CNN on the 8x8 digits and return its validation loss.

    Two 3x3 convolutions (``channels1``, ``channels2`` wide), 2x2 max pooling,
    dropout and a linear layer; trained for ``epochs`` with the chosen optimizer
    and a one-cycle learning-rate schedule peaking at ``lr`` after a
    ``pct_start`` fraction of the steps; 75 % / 25 % stratified train/validation
    split (fixed). Runs on the CPU.

    Args:
        params: ``lr``, ``weight_decay``, ``batch_size``, ``epochs``, ``channels1``,
            ``channels2``, ``dropout``, ``pct_start``, ``optimizer``
            (``adam``/``adamw``/``sgd``/``rmsprop``), ``activation``
            (``relu``/``gelu``/``tanh``/``silu``).
        seed: Seeds the weights and the batch order.
        num_threads: PyTorch intra-op threads during training (restored afterwards);
            1 suits one trial per core; ``None`` leaves PyTorch's setting.

    Returns:
        ``val_loss`` (the objective), ``val_accuracy``, ``train_loss`` (last
        epoch's mean) and ``train_seconds``.

    Raises:
        TrialFailedError: If the training or validation loss becomes NaN or infinite.
    """
    import torch
    from torch import nn

    X_train, X_val, y_train, y_val = _digits_split()
    activations = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}
    act = activations[params["activation"]]
    c1, c2 = int(params["channels1"]), int(params["channels2"])
    epochs, batch_size = int(params["epochs"]), int(params["batch_size"])
    previous_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            act(),
            nn.Conv2d(c1, c2, 3, padding=1),
            act(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(params["dropout"]),
            nn.Linear(c2 * 16, 10),
        )
        lr, wd = params["lr"], params["weight_decay"]
        name = params["optimizer"]
        if name == "sgd":
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
        elif name == "rmsprop":
            opt = torch.optim.RMSprop(model.parameters(), lr=lr, weight_decay=wd)
        elif name == "adamw":
            opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
        Xt, yt = torch.from_numpy(X_train), torch.from_numpy(y_train)
        steps_per_epoch = math.ceil(len(Xt) / batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=lr,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            pct_start=params["pct_start"],
        )
        loss_fn = nn.CrossEntropyLoss()
        start = time.perf_counter()
        train_loss = math.nan
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(Xt), generator=generator)
            total = 0.0
            for i in range(steps_per_epoch):
                idx = order[i * batch_size : (i + 1) * batch_size]
                loss = loss_fn(model(Xt[idx]), yt[idx])
                if not torch.isfinite(loss):
                    raise TrialFailedError(
                        f"training diverged: non-finite loss at epoch {epoch + 1}, step {i + 1}"
                    )
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()
                total += loss.item() * len(idx)
            train_loss = total / len(Xt)
        model.eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(X_val))
            yv = torch.from_numpy(y_val)
            val_loss = loss_fn(logits, yv).item()
            val_acc = (logits.argmax(-1) == yv).float().mean().item()
        if not math.isfinite(val_loss):
            raise TrialFailedError(f"non-finite validation loss {val_loss}")
        return {
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "train_loss": train_loss,
            "train_seconds": time.perf_counter() - start,
        }
    finally:
        torch.set_num_threads(previous_threads)


def _digits_cnn_problem() -> Problem:
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    def log_range(name, low, high, kind="float"):
        return RangeParameterConfig(
            name=name, parameter_type=kind, bounds=(low, high), scaling="log"
        )

    return Problem(
        name="digits-cnn",
        parameters=[
            log_range("lr", 1e-4, 1.0),
            log_range("weight_decay", 1e-6, 1e-1),
            log_range("batch_size", 16, 256, "int"),
            RangeParameterConfig(name="epochs", parameter_type="int", bounds=(1, 12)),
            log_range("channels1", 4, 32, "int"),
            log_range("channels2", 8, 64, "int"),
            RangeParameterConfig(name="dropout", parameter_type="float", bounds=(0.0, 0.5)),
            RangeParameterConfig(name="pct_start", parameter_type="float", bounds=(0.05, 0.5)),
            ChoiceParameterConfig(
                name="optimizer",
                parameter_type="str",
                values=["adam", "adamw", "sgd", "rmsprop"],
                is_ordered=False,
            ),
            ChoiceParameterConfig(
                name="activation",
                parameter_type="str",
                values=["relu", "gelu", "tanh", "silu"],
                is_ordered=False,
            ),
        ],
        objective="val_loss",
        minimize=True,
        evaluate=digits_cnn_evaluate,
        description="small PyTorch CNN on the bundled 8x8 digits, validation loss",
    )
