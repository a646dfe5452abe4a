"""Write notebooks/02_cross_validation_charts.ipynb (unexecuted) from the cells below.

Run ``python notebooks/_make_02_cross_validation_charts.py`` after editing; the
test suite executes the notebook at smoke size (``AX_EXT_SMOKE=1``).
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    (
        "md",
        """# Cross-validation and tuning charts for an Ax study

This notebook runs a small tuning study with Ax (`ax_ext.studies.demo_study`: eight mixed
hyperparameters of a synthetic training run, quasi-random search, some runs diverge and fail),
then reads it with ax_ext's charts:

1. the playbook's **axis plots** and **isolation plots** of the study itself;
2. **refit leave-one-out cross-validation** of `ScalarChoiceGP` on the study, predicted vs observed;
3. the **fitting trajectories** of every fold model (the seed's Chart 2);
4. a cross-validation metric against **data-set size** for three lengthscale priors (Chart 1);
5. the fitted **hyperparameters against data-set size** (Visualization 3).

Set `AX_EXT_SMOKE=1` to run it at smoke size (the test suite does).""",
    ),
    (
        "code",
        """import os
import warnings

import plotly.io as pio
import torch

from ax_ext.cross_validation import ax_cross_validation
from ax_ext.plotting import (
    axis_plots,
    cv_metric_by_size,
    fitting_trajectories,
    hyperparameters_by_size,
    hyperparameters_vs_size,
    isolation_plot,
    metric_vs_size,
    predicted_vs_observed,
)
from ax_ext.studies import demo_study

SMOKE = os.environ.get("AX_EXT_SMOKE") == "1"
N_TRIALS = 12 if SMOKE else 40
MAXITER = 15 if SMOKE else None  # None: the optimizer's own default
FIT = {"optimizer_kwargs": {"options": {"maxiter": MAXITER}}} if MAXITER else {}
warnings.filterwarnings("ignore", module="ax")  # Ax's deprecation chatter
warnings.filterwarnings("ignore", category=UserWarning, module="ax")
# charts as plotly's own output and as HTML with plotly.js embedded, so they show in
# JupyterLab, in `jupyter nbconvert --to html` and in other viewers, offline
pio.renderers.default = "plotly_mimetype+notebook"
# these models are small: one thread fits them as fast as several on a quiet machine, and
# many times faster when other processes share the cores (torch's default oversubscribes them)
torch.set_num_threads(1)
""",
    ),
    ("md", "## The study"),
    (
        "code",
        """client = demo_study(n_trials=N_TRIALS, seed=0)
client.summarize()["trial_status"].value_counts()""",
    ),
    (
        "md",
        """## Axis plots

The loss against each hyperparameter. Best trials are green, failed trials (diverged runs) are
red crosses at the top edge of each panel, log-scale parameters have log axes. If the best trials
crowd a bound of a range, the panel says so and a `BoundaryWarning` is issued: the optimum may lie
outside the search space (here `epochs`, where more is always better, is the candidate).""",
    ),
    ("code", "axis_plots(client, cols=4)"),
    (
        "md",
        """## Isolation plots

The best trial per value of one hyperparameter, having optimized over the others: the playbook's
way to compare values of a *scientific* hyperparameter fairly.""",
    ),
    ("code", 'isolation_plot(client, "optimizer")'),
    ("code", 'isolation_plot(client, "lr", n_buckets=5)'),
    (
        "md",
        """## Refit leave-one-out cross-validation

`ax_cross_validation` encodes the completed trials as Ax's BO would (ranges scaled to [0, 1],
log-scale ones in log space, unordered choices one-hot) and refits `ScalarChoiceGP` on every
fold. Predictions are in the loss's own units; failed trials are listed, not fitted.""",
    ),
    (
        "code",
        """res = ax_cross_validation(client, fit_kwargs=FIT)
print({k: round(v, 3) for k, v in res.metrics.items()})
res.excluded_dataframe()""",
    ),
    ("code", "predicted_vs_observed(res)"),
    (
        "md",
        """## Fitting trajectories (Chart 2)

Every fold model's loss after each optimizer step, with the mean. ax_ext fits each fold as its
own problem, so every thin line only goes down and converged folds stop early.""",
    ),
    ("code", "fitting_trajectories(res)"),
    (
        "md",
        """## Cross-validation against data-set size (Chart 1)

Refit leave-one-out on the first *n* trials, for the default, loose and looser lengthscale
priors. This runs many cross-validations; it shows a progress bar and can be interrupted (the
results so far are returned with a warning).""",
    ),
    (
        "code",
        """X, Y = res.train_X, res.observed.unsqueeze(-1)  # trial order
enc = res.encoding
dims = {"scalar_dims": enc.scalar_dims, "choice_dims": enc.choice_dims}
n = X.shape[0]
sizes = [6, n] if SMOKE else list(range(10, n + 1, 5))
configs = {
    "default": {},
    "loose": {"scalar_lengthscale_prior": "loose", "choice_lengthscale_prior": "loose"},
    "looser": {"scalar_lengthscale_prior": "looser", "choice_lengthscale_prior": "looser"},
}
by_size = cv_metric_by_size(configs, X, Y, sizes, model_kwargs=dims, fit_kwargs=FIT)
metric_vs_size(by_size)""",
    ),
    ("code", 'metric_vs_size(by_size, "mse")'),
    (
        "md",
        """## Fitted hyperparameters against data-set size (Visualization 3)

Full-data fits on the same prefixes, default priors. Lengthscales are in the model's input space
(scalar columns normalized); shorter means the loss changes faster along that parameter.""",
    ),
    (
        "code",
        """hp = hyperparameters_by_size(
    X, Y, sizes, model_kwargs={**dims, "feature_names": enc.feature_names}, fit_kwargs=FIT
)
hyperparameters_vs_size(
    hp, parameters=["factorized_scalar_lengthscale", "factorized_weight", "scalar_weight", "noise"]
)""",
    ),
    (
        "code",
        """hyperparameters_vs_size(hp, parameters=["factorized_choice_lengthscale"])""",
    ),
]


def main() -> None:
    nb = new_notebook(
        cells=[new_markdown_cell(s) if kind == "md" else new_code_cell(s) for kind, s in CELLS],
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
    )
    path = Path(__file__).with_name("02_cross_validation_charts.ipynb")
    nbformat.write(nb, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
