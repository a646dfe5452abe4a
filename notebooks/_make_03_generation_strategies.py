"""Write notebooks/03_generation_strategies.ipynb (unexecuted) from the cells below.

Run ``python notebooks/_make_03_generation_strategies.py`` after editing; the test
suite executes the notebook at smoke size (``AX_EXT_SMOKE=1``).
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    (
        "md",
        """# Sobol, then BO with `ScalarChoiceGP`: a tuning study in Jupyter

This notebook tunes a scikit-learn MLP on the digits data set with an Ax `Client` and
`ax_ext.generation.sobol_then_bo` (quasi-random Sobol trials, then Bayesian optimization with
ax_ext's scalar + choice kernel), first plain and then with the leave-one-out quality gate. It shows
Ax's own analysis cards next to ax_ext's views of the same model: the fitted model as an
expression, and refit leave-one-out cross-validation.

Set `AX_EXT_SMOKE=1` to run it at smoke size (the test suite does).""",
    ),
    (
        "code",
        """import logging
import os
import warnings

from ax.analysis.plotly.cross_validation import CrossValidationPlot
from ax.analysis.plotly.parallel_coordinates import ParallelCoordinatesPlot
from ax.analysis.summary import Summary
from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier

from ax_ext import model_expression
from ax_ext.cross_validation import ax_cross_validation
from ax_ext.generation import sobol_then_bo
from ax_ext.plotting import predicted_vs_observed

SMOKE = os.environ.get("AX_EXT_SMOKE") == "1"
N_SOBOL, N_TRIALS, MAX_ITER = (4, 6, 5) if SMOKE else (10, 20, 60)
ACQF = {"num_restarts": 2, "raw_samples": 64} if SMOKE else None  # None: Ax's defaults
warnings.filterwarnings("ignore")  # Ax's deprecation chatter and sklearn's convergence notes
logging.getLogger("ax").setLevel(logging.WARNING)""",
    ),
    ("md", "## The problem: an MLP on the digits data, seven mixed hyperparameters"),
    (
        "code",
        """X, y = load_digits(return_X_y=True)
X = X / 16.0

PARAMETERS = [
    RangeParameterConfig(
        name="learning_rate_init", parameter_type="float", bounds=(1e-4, 1e-1), scaling="log"
    ),
    RangeParameterConfig(name="alpha", parameter_type="float", bounds=(1e-6, 1e-1), scaling="log"),
    RangeParameterConfig(name="width", parameter_type="int", bounds=(8, 128)),
    RangeParameterConfig(name="validation_fraction", parameter_type="float", bounds=(0.05, 0.3)),
    ChoiceParameterConfig(
        name="activation", parameter_type="str", values=["relu", "tanh", "logistic"]
    ),
    ChoiceParameterConfig(name="solver", parameter_type="str", values=["adam", "sgd"]),
    ChoiceParameterConfig(
        name="batch_size", parameter_type="int", values=[16, 64, 256], is_ordered=False
    ),
]


def accuracy(p):
    model = MLPClassifier(
        hidden_layer_sizes=(p["width"],),
        activation=p["activation"],
        solver=p["solver"],
        batch_size=p["batch_size"],
        learning_rate_init=p["learning_rate_init"],
        alpha=p["alpha"],
        early_stopping=True,
        validation_fraction=p["validation_fraction"],
        max_iter=MAX_ITER,
        random_state=0,
    )
    return float(cross_val_score(model, X, y, cv=3).mean())


def run(client, n):
    for _ in range(n):
        ((index, params),) = client.get_next_trials(max_trials=1).items()
        client.complete_trial(index, raw_data={"accuracy": accuracy(params)})
    trials = client._experiment.trials.values()
    return [t.generator_runs[0]._generation_node_name for t in trials]""",
    ),
    ("md", "## Sobol, then BO"),
    (
        "code",
        """client = Client(random_seed=0)
client.configure_experiment(parameters=PARAMETERS, name="digits_mlp")
client.configure_optimization(objective="accuracy")
strategy = sobol_then_bo(client, num_sobol_trials=N_SOBOL, seed=0, optimizer_kwargs=ACQF)
client.set_generation_strategy(strategy)
nodes = run(client, N_TRIALS)
nodes""",
    ),
    (
        "code",
        """best, values, index, _ = client.get_best_parameterization(use_model_predictions=False)
print(f"best trial {index}: accuracy {values['accuracy'][0]:.4f}")
best""",
    ),
    ("md", "## Ax's analysis cards"),
    (
        "code",
        """experiment = client._experiment
Summary().compute(experiment=experiment, generation_strategy=strategy).df""",
    ),
    (
        "code",
        """cards = CrossValidationPlot().compute_or_error_card(
    experiment=experiment, generation_strategy=strategy
)
cards.flatten()[0].get_figure()""",
    ),
    (
        "code",
        """ParallelCoordinatesPlot().compute_or_error_card(
    experiment=experiment, generation_strategy=strategy
).get_figure()""",
    ),
    (
        "md",
        """## ax_ext's views of the same model

The model behind the last BO trial, as an expression: which hyperparameters matter (short
lengthscales), how much of the covariance is factorized vs joint, and the noise.""",
    ),
    (
        "code",
        """model = strategy.adapter.generator.surrogate.model
model_expression(model)""",
    ),
    (
        "md",
        """Refit leave-one-out cross-validation on the study, in accuracy units: every fold's
hyperparameters are fitted again (Ax's cross-validation reuses the full model's by default).""",
    ),
    (
        "code",
        """cv = ax_cross_validation(client)
print({k: round(v, 3) for k, v in cv.metrics.items()})
predicted_vs_observed(cv)""",
    ),
    (
        "md",
        """## With the quality gate

Stay in Sobol until the leave-one-out rank correlation reaches 0.3 (or the Sobol budget of
`max_sobol_trials` is spent); the BO node's name on each trial says which happened.""",
    ),
    (
        "code",
        """gated = Client(random_seed=1)
gated.configure_experiment(parameters=PARAMETERS, name="digits_mlp_gated")
gated.configure_optimization(objective="accuracy")
gated_strategy = sobol_then_bo(
    gated,
    num_sobol_trials=N_SOBOL,
    quality_gate=0.3,
    max_sobol_trials=N_TRIALS - 1,
    seed=1,
    optimizer_kwargs=ACQF,
)
gated.set_generation_strategy(gated_strategy)
gated_nodes = run(gated, N_TRIALS)
gate = gated_strategy._nodes[0].transition_criteria[2]
print(gate.last_reason)
gated_nodes""",
    ),
]


def main() -> None:
    nb = new_notebook(
        cells=[new_markdown_cell(s) if kind == "md" else new_code_cell(s) for kind, s in CELLS],
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
    )
    path = Path(__file__).with_name("03_generation_strategies.ipynb")
    nbformat.write(nb, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
