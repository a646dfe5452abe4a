r"""A small, real tuning study run with Ax, for notebooks, docs and benchmarks.

:func:`demo_study` runs an Ax ``Client`` (center point, then Sobol
quasi-random search) on :func:`demo_objective`, a synthetic "validation loss" of
a neural-network training run with eight mixed hyperparameters: log-scale
learning rate and weight decay, an integer number of epochs, dropout, a
log-scale integer batch size, the optimizer and activation (string choices)
and batch normalization (bool). As in real studies, some runs diverge (high
learning rates, especially with SGD and no batch normalization) and are marked
failed, and more epochs always help (the optimum is at the epochs bound).

Ax is imported when the functions run, not when this module is imported.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["DEMO_OPTIMIZERS", "demo_objective", "demo_study"]

DEMO_OPTIMIZERS = ["adam", "sgd", "rmsprop"]
DEMO_ACTIVATIONS = ["relu", "gelu", "tanh"]
#: log10 of the best learning rate per optimizer
_BEST_LOG_LR = {"adam": -3.0, "sgd": -1.5, "rmsprop": -3.5}


def demo_objective(
    parameters: Mapping[str, Any], noise_std: float = 0.01, rng: Any = None
) -> float:
    """The demo study's validation loss of one configuration.

    Args:
        parameters: Values of ``lr, weight_decay, epochs, dropout, batch_size,
            optimizer, activation, batch_norm``.
        noise_std: Standard deviation of the Gaussian evaluation noise.
        rng: A ``random.Random`` for the noise (``None``: no noise).

    Returns:
        The loss (lower is better), around 0.3 to 3, or NaN if the run diverged.

    Example:
        >>> p = {"lr": 1e-3, "weight_decay": 1e-4, "epochs": 50, "dropout": 0.1,
        ...      "batch_size": 64, "optimizer": "adam", "activation": "gelu", "batch_norm": True}
        >>> round(demo_objective(p), 3)
        0.336
    """
    opt, act, bn = parameters["optimizer"], parameters["activation"], parameters["batch_norm"]
    log_lr = math.log10(parameters["lr"])
    if log_lr > -0.5 or (opt == "sgd" and log_lr > -1.0 and not bn):
        return math.nan  # diverged
    loss = 0.25
    loss += 0.35 * (log_lr - _BEST_LOG_LR[opt]) ** 2
    loss += 0.05 * (math.log10(parameters["weight_decay"]) + 4.0) ** 2
    loss += 0.6 * math.exp(-parameters["epochs"] / 25.0)  # more epochs always help
    loss += 0.5 * (parameters["dropout"] - 0.2) ** 2
    loss += 0.04 * (math.log2(parameters["batch_size"]) - 6.0) ** 2
    loss += {"relu": 0.02, "gelu": 0.0, "tanh": 0.15}[act] * (1.0 + abs(log_lr + 3.0))
    loss += 0.0 if bn else 0.08
    if rng is not None and noise_std > 0:
        loss += rng.gauss(0.0, noise_std)
    return loss


@contextlib.contextmanager
def _quiet_ax() -> Iterator[None]:
    """Silence Ax's per-trial INFO logs inside the block (levels restored after)."""
    loggers = [logging.getLogger(n) for n in ("ax.api.client", "ax.generation_strategy")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def demo_study(n_trials: int = 40, seed: int = 0, noise_std: float = 0.01) -> Any:
    """Run the demo tuning study with quasi-random search and return its Ax ``Client``.

    Args:
        n_trials: Number of trials (diverged ones are marked failed and count).
        seed: Seed of Ax's Sobol sequence and of the evaluation noise.
        noise_std: Standard deviation of the evaluation noise.

    Returns:
        An ``ax.api.client.Client`` whose experiment (``client._experiment``)
        minimizes ``"loss"``; save it with ``client.save_to_json_file(path)``.

    Example:
        >>> client = demo_study(n_trials=6)
        >>> exp = client._experiment
        >>> len(exp.trials), sorted(exp.search_space.parameters)[:3]
        (6, ['activation', 'batch_norm', 'batch_size'])
    """
    from ax.api.client import Client
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    rng = random.Random(seed)
    client = Client(random_seed=seed)
    with _quiet_ax():
        client.configure_experiment(
            name="demo_study",
            parameters=[
                RangeParameterConfig(
                    name="lr", parameter_type="float", bounds=(1e-5, 1.0), scaling="log"
                ),
                RangeParameterConfig(
                    name="weight_decay", parameter_type="float", bounds=(1e-6, 1e-2), scaling="log"
                ),
                RangeParameterConfig(name="epochs", parameter_type="int", bounds=(5, 60)),
                RangeParameterConfig(name="dropout", parameter_type="float", bounds=(0.0, 0.6)),
                RangeParameterConfig(
                    name="batch_size", parameter_type="int", bounds=(16, 512), scaling="log"
                ),
                ChoiceParameterConfig(
                    name="optimizer", parameter_type="str", values=DEMO_OPTIMIZERS
                ),
                ChoiceParameterConfig(
                    name="activation", parameter_type="str", values=DEMO_ACTIVATIONS
                ),
                ChoiceParameterConfig(
                    name="batch_norm", parameter_type="bool", values=[False, True]
                ),
            ],
        )
        client.configure_optimization(objective="-loss")
        client.configure_generation_strategy(
            method="random_search", initialization_random_seed=seed
        )
        for _ in range(n_trials):
            for index, params in client.get_next_trials(max_trials=1).items():
                loss = demo_objective(params, noise_std, rng)
                if math.isnan(loss):
                    client.mark_trial_failed(index, failed_reason="training diverged")
                else:
                    client.complete_trial(index, raw_data={"loss": loss})
    return client
