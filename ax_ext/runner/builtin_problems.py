"""The built-in problems of ``ax-ext tune``: ``synthetic``, ``sklearn-gb``, ``digits-cnn``.

Module-level evaluation functions (picklable by reference for Dask workers) that
import their heavy dependencies (scikit-learn, PyTorch) themselves; this module
does not import Ax.
"""

from __future__ import annotations

import logging
import math
import time
from functools import lru_cache
from typing import Any

from ax_ext.runner.problem import CURVES_KEY, Problem, TrialFailedError

__all__ = [
    "SYNTHETIC_OPTIMUM",
    "digits_cnn_evaluate",
    "sklearn_gb_evaluate",
    "synthetic_loss",
]

logger = logging.getLogger(__name__)


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
) -> dict[str, Any]:
    """Train a small CNN on the 8x8 digits and return its validation loss and curves.

    Two 3x3 convolutions (``channels1``, ``channels2`` wide), 2x2 max pooling,
    dropout and a linear layer; trained for ``epochs`` with the chosen optimizer
    and a one-cycle learning-rate schedule peaking at ``lr`` after a
    ``pct_start`` fraction of the steps; 75 % / 25 % stratified train/validation
    split (fixed). Runs on the CPU. After every epoch the whole validation set is
    evaluated once (one batched forward pass without gradients, a few
    milliseconds), giving the training curves.

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
        epoch's mean), ``train_seconds`` (training and validation), and under
        ``"curves"`` (see :func:`~ax_ext.runner.problems.split_result`) one value
        per epoch of ``train_loss`` (the epoch's mean over its batches),
        ``val_loss`` and ``val_accuracy`` (after the epoch); the last values of
        the curves are the scalars.

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
        Xv, yv = torch.from_numpy(X_val), torch.from_numpy(y_val)
        curves: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_accuracy": []}
        start = time.perf_counter()
        train_loss = val_loss = val_acc = math.nan
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
            model.eval()  # dropout off; eval consumes no random numbers
            with torch.no_grad():
                logits = model(Xv)
                val_loss = loss_fn(logits, yv).item()
                val_acc = (logits.argmax(-1) == yv).float().mean().item()
            curves["train_loss"].append(train_loss)
            curves["val_loss"].append(val_loss)
            curves["val_accuracy"].append(val_acc)
        if not math.isfinite(val_loss):
            raise TrialFailedError(f"non-finite validation loss {val_loss}")
        return {
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "train_loss": train_loss,
            "train_seconds": time.perf_counter() - start,
            CURVES_KEY: curves,
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
