"""Tune a scikit-learn MLP on the digits data set with Sobol, then ScalarChoiceGP BO.

A full Ax ``Client`` loop on a real (small) problem with a mixed search space:
log-scale learning rate and L2 penalty, an integer layer width, a dropout-like
early-stopping fraction, and unordered choices of activation, solver and batch
size. Each trial trains ``sklearn.neural_network.MLPClassifier`` and reports
3-fold cross-validated accuracy. The study is saved to JSON (or SQLite with a
``.db`` path) and can be continued with ``--resume``.

Usage::

    python examples/tune_digits_mlp.py                       # 24 trials, ~2-4 minutes
    python examples/tune_digits_mlp.py --trials 8 --sobol 5  # quick
    python examples/tune_digits_mlp.py --resume --trials 4   # 4 more trials
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier

from ax_ext.generation import load_client, quiet_ax, save_client, sobol_then_bo

PARAMETERS = [
    RangeParameterConfig(
        name="learning_rate_init", parameter_type="float", bounds=(1e-4, 1e-1), scaling="log"
    ),
    RangeParameterConfig(name="alpha", parameter_type="float", bounds=(1e-6, 1e-1), scaling="log"),
    RangeParameterConfig(name="width", parameter_type="int", bounds=(8, 128)),
    RangeParameterConfig(name="validation_fraction", parameter_type="float", bounds=(0.05, 0.3)),
    ChoiceParameterConfig(
        name="activation",
        parameter_type="str",
        values=["relu", "tanh", "logistic"],
        is_ordered=False,
    ),
    ChoiceParameterConfig(
        name="solver", parameter_type="str", values=["adam", "sgd"], is_ordered=False
    ),
    ChoiceParameterConfig(
        name="batch_size", parameter_type="int", values=[16, 64, 256], is_ordered=False
    ),
]


def evaluate(params: dict, X, y, max_iter: int) -> float:
    """3-fold cross-validated accuracy of an MLP with these hyperparameters."""
    model = MLPClassifier(
        hidden_layer_sizes=(params["width"],),
        activation=params["activation"],
        solver=params["solver"],
        batch_size=params["batch_size"],
        learning_rate_init=params["learning_rate_init"],
        alpha=params["alpha"],
        early_stopping=True,
        validation_fraction=params["validation_fraction"],
        max_iter=max_iter,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(cross_val_score(model, X, y, cv=3).mean())


def main(argv=None) -> Client:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=24, help="trials to run now")
    parser.add_argument("--sobol", type=int, default=None, help="Sobol trials before BO")
    parser.add_argument("--max-iter", type=int, default=60, help="MLP training epochs")
    parser.add_argument("--out", default="digits_mlp_study.json", help=".json or .db")
    parser.add_argument("--resume", action="store_true", help="continue the saved study")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fast-acqf", action="store_true", help="small acquisition-optimizer budget (tests)"
    )
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    if args.resume:
        client = load_client(args.out)
    else:
        client = Client(random_seed=args.seed)
        client.configure_experiment(parameters=PARAMETERS, name="digits_mlp")
        client.configure_optimization(objective="accuracy")
        acqf = {"num_restarts": 2, "raw_samples": 64} if args.fast_acqf else None
        client.set_generation_strategy(
            sobol_then_bo(
                client, num_sobol_trials=args.sobol, seed=args.seed, optimizer_kwargs=acqf
            )
        )
    for _ in range(args.trials):
        start = time.perf_counter()
        with quiet_ax():  # Ax's INFO line per trial; ours follows
            ((index, params),) = client.get_next_trials(max_trials=1).items()
        gen_time = time.perf_counter() - start
        accuracy = evaluate(params, X, y, args.max_iter)
        with quiet_ax():
            client.complete_trial(index, raw_data={"accuracy": accuracy})
            summary = client.summarize(trial_indices=[index])
        node = summary["generation_node"].iloc[0]
        print(
            f"trial {index:3d} [{node:5s}] accuracy {accuracy:.4f}  (generated in {gen_time:.1f}s)"
        )
    best, prediction, index, _ = client.get_best_parameterization(use_model_predictions=False)
    print(f"best trial {index}: accuracy {prediction['accuracy'][0]:.4f}")
    for name, value in best.items():
        print(f"  {name} = {value}")
    save_client(client, Path(args.out))
    print(f"saved the study to {args.out}")
    return client


if __name__ == "__main__":
    main()
