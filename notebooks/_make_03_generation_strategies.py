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
        """import os
import warnings

import plotly.io as pio
import torch
from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from ax_ext import model_expression
from ax_ext.cross_validation import ax_cross_validation
from ax_ext.generation import fitted_model, quality_gate, quiet_ax, sobol_then_bo
from ax_ext.plotting import predicted_vs_observed

SMOKE = os.environ.get("AX_EXT_SMOKE") == "1"
N_SOBOL, N_TRIALS, MAX_ITER = (4, 6, 5) if SMOKE else (10, 20, 60)
ACQF = {"num_restarts": 2, "raw_samples": 64} if SMOKE else None  # None: Ax's defaults
warnings.filterwarnings("ignore")  # Ax's deprecation chatter and sklearn's convergence notes
# charts as plotly's own output and as HTML with plotly.js embedded, so they show in
# JupyterLab, in `jupyter nbconvert --to html` and in other viewers, offline
pio.renderers.default = "plotly_mimetype+notebook"
# these models are small: one thread fits them as fast as several on a quiet machine, and
# many times faster when other processes share the cores (torch's default oversubscribes them)
torch.set_num_threads(1)
""",
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


# one fixed split: a trial is one training run (cross-validating each trial 3 times
# tripled the notebook's time and changed no conclusion)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0)


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
    return float(model.fit(X_train, y_train).score(X_val, y_val))


def run(client, n):
    with quiet_ax():  # Ax logs a few INFO lines per trial
        for _ in range(n):
            ((index, params),) = client.get_next_trials(max_trials=1).items()
            client.complete_trial(index, raw_data={"accuracy": accuracy(params)})
    return client.summarize()["generation_node"].tolist()""",
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
    (
        "md",
        """## Ax's analysis cards

`client.compute_analyses()` runs Ax's default analyses on the study: summary, best trial,
arm effects, sensitivity, slice and contour plots of the most important parameters,
cross-validation. With `sobol_then_bo` the unordered choices appear as `"optimizer
(unordered)"` in the model's features: Ax draws no slice or contour for them (a slice of an
unordered choice has no meaning) and picks the next surfaces instead.""",
    ),
    (
        "code",
        """with quiet_ax():
    cards = [c for card in client.compute_analyses(display=False) for c in card.flatten()]
[(c.name, c.title) for c in cards]""",
    ),
    (
        "code",
        """figures = {c.name: c.get_figure() for c in cards if hasattr(c, "get_figure")}
figures["SensitivityAnalysisPlot"]""",
    ),
    ("code", 'figures["CrossValidationPlot"]'),
    (
        "md",
        """## ax_ext's views of the same model

The model behind the last BO trial (`fitted_model(client)`), as an expression: which
hyperparameters matter (short lengthscales), how much of the covariance is factorized vs joint,
and the noise. Choices appear by value (`activation=relu`).""",
    ),
    (
        "code",
        """model = fitted_model(client)
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
print(quality_gate(gated).last_reason)
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
