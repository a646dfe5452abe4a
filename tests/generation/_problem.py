"""A small mixed search space and objective shared by the generation tests."""

from __future__ import annotations

import math
import warnings

from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

OPTIMIZERS = ["adam", "sgd", "rmsprop"]
WIDTHS = [32, 64, 128]
#: Small acquisition-optimizer budgets: tests stay fast, the library keeps Ax's defaults.
FAST_ACQF = {
    "num_restarts": 2,
    "raw_samples": 32,
    "options": {"maxiter_alternating": 2, "maxiter_continuous": 15, "maxiter_discrete": 2},
}


def make_client(seed: int = 0, fixed: bool = True) -> Client:
    client = Client(random_seed=seed)
    parameters = [
        RangeParameterConfig(name="lr", parameter_type="float", bounds=(1e-4, 1e-1), scaling="log"),
        RangeParameterConfig(name="layers", parameter_type="int", bounds=(1, 6)),
        RangeParameterConfig(name="dropout", parameter_type="float", bounds=(0.0, 0.5)),
        ChoiceParameterConfig(
            name="optimizer", parameter_type="str", values=OPTIMIZERS, is_ordered=False
        ),
        ChoiceParameterConfig(name="width", parameter_type="int", values=WIDTHS, is_ordered=False),
        ChoiceParameterConfig(name="batchnorm", parameter_type="bool", values=[True, False]),
    ]
    if fixed:
        parameters.append(ChoiceParameterConfig(name="epochs", parameter_type="int", values=[10]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ax's note that 2-valued choices are ordered
        client.configure_experiment(parameters=parameters, name="mixed")
    client.configure_optimization(objective="-loss")
    return client


def loss(p: dict) -> float:
    return (
        (math.log10(p["lr"]) + 2.5) ** 2
        + 0.1 * p["layers"]
        + p["dropout"]
        + {"adam": 0.0, "sgd": 0.6, "rmsprop": 0.2}[p["optimizer"]]
        + 0.3 * float(p["batchnorm"])
        + 0.2 * (p["width"] == 64)
    )


def run_trials(client: Client, n: int, objective=loss) -> list[int]:
    indices = []
    for _ in range(n):
        for index, params in client.get_next_trials(max_trials=1).items():
            client.complete_trial(index, raw_data={"loss": objective(params)})
            indices.append(index)
    return indices


def node_names(client: Client) -> list[str]:
    experiment = client._experiment
    return [
        experiment.trials[i].generator_runs[0]._generation_node_name
        for i in sorted(experiment.trials)
    ]
