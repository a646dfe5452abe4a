"""Write notebooks/01_scalar_choice_kernel.ipynb (unexecuted) from the cells below.

Run ``python notebooks/_make_01_scalar_choice_kernel.py`` after editing; the test
suite executes the notebook at smoke size (``AX_EXT_SMOKE=1``).
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    (
        "md",
        """# ScalarChoiceGP and the model-as-expression view

This notebook fits ax_ext's `ScalarChoiceGP` (Matern-5/2 over scalar parameters, exp(-L1) over
one-hot choice parameters, combined additively and jointly) to a small mixed data set, and shows
the fitted model as an expression with its numbers.

Set `AX_EXT_SMOKE=1` to run it at smoke size (the test suite does).""",
    ),
    (
        "code",
        """import os

import plotly.express as px
import plotly.io as pio
import torch
from botorch.fit import fit_gpytorch_mll
from gpytorch.mlls import ExactMarginalLogLikelihood

from ax_ext import ScalarChoiceGP, model_expression
from ax_ext.synthetic import mixed_dataset

SMOKE = os.environ.get("AX_EXT_SMOKE") == "1"
N_TRAIN = 16 if SMOKE else 60
N_TEST = 50 if SMOKE else 500
MAXITER = 50 if SMOKE else None  # None: the optimizer's own default
torch.manual_seed(0)
# these models are small: one thread fits them as fast as several on a quiet machine, and
# many times faster when other processes share the cores (torch's default oversubscribes them)
torch.set_num_threads(1)
# charts as plotly's own output and as HTML with plotly.js embedded, so they show in
# JupyterLab, in `jupyter nbconvert --to html` and in other viewers, offline
pio.renderers.default = "plotly_mimetype+notebook"
""",
    ),
    (
        "md",
        """## Data

Four scalar hyperparameters scaled to [0, 1] and two choice hyperparameters (optimizer,
activation), one-hot encoded. The best learning rate depends on the optimizer, so scalars and
choices interact.""",
    ),
    (
        "code",
        """data = mixed_dataset(n=N_TRAIN + N_TEST, seed=0)
X, Y = data.X[:N_TRAIN], data.Y[:N_TRAIN]
X_test, Y_test = data.X[N_TRAIN:], data.Y[N_TRAIN:]
data.feature_names""",
    ),
    (
        "code",
        """def fit(model):
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    options = {} if MAXITER is None else {"options": {"maxiter": MAXITER}}
    fit_gpytorch_mll(mll, optimizer_kwargs=options)
    return model


model = fit(
    ScalarChoiceGP(
        X,
        Y,
        scalar_dims=data.scalar_dims,
        choice_dims=data.choice_dims,
        feature_names=data.feature_names,
    )
)
with torch.no_grad():
    rmse = (model.posterior(X_test).mean - Y_test).square().mean().sqrt().item()
rmse_const = (Y.mean() - Y_test).square().mean().sqrt().item()
print(f"held-out RMSE {rmse:.3f}; predicting the training mean: {rmse_const:.3f}")""",
    ),
    (
        "md",
        """## The fitted model as an expression

Shorter lengthscales mean a parameter matters more; the weights say how much of the covariance
comes from the factorized (additive) term and from the joint (product) term.""",
    ),
    (
        "code",
        """expr = model_expression(model)
expr""",
    ),
    (
        "code",
        """print(expr)""",
    ),
    (
        "md",
        """## The numbers as data

`to_dataframe()` gives one row per number. Here: relevance (1 / lengthscale) of each parameter in
each term of the kernel.""",
    ),
    (
        "code",
        """df = expr.to_dataframe()
ls = df[df.parameter.str.endswith("lengthscale")].assign(relevance=lambda d: 1 / d.value)
fig = px.bar(
    ls,
    x="feature",
    y="relevance",
    color="parameter",
    barmode="group",
    title="Relevance (1 / lengthscale) per parameter and kernel term",
)
fig""",
    ),
    (
        "md",
        """## Tightening and loosening the lengthscale priors

The named strengths share BoTorch's prior mode and scale the pull on
log-lengthscales: `"tight"` 4x, `"default"` 1x (BoTorch's prior), `"loose"` 1/4, `"looser"`
1/16; `None` removes it.""",
    ),
    (
        "code",
        """import pandas as pd

rows = []
for strength in ["tight", "default", "looser"]:
    m = fit(
        ScalarChoiceGP(
            X,
            Y,
            scalar_dims=data.scalar_dims,
            scalar_lengthscale_prior=strength,
            choice_lengthscale_prior=strength,
            feature_names=data.feature_names,
        )
    )
    d = model_expression(m).to_dataframe()
    d = d[d.parameter == "factorized_scalar_lengthscale"].assign(prior=strength)
    rows.append(d)
px.bar(
    pd.concat(rows),
    x="feature",
    y="value",
    color="prior",
    barmode="group",
    log_y=True,
    title="Factorized scalar lengthscales under three prior strengths",
)""",
    ),
    (
        "md",
        """## Batched models

One `ScalarChoiceGP` can hold many independent models, e.g. leave-one-out folds. Each batch member
has its own hyperparameters and its own expression.""",
    ),
    (
        "code",
        """from botorch.cross_validation import gen_loo_cv_folds

folds = gen_loo_cv_folds(train_X=X[:8], train_Y=Y[:8])
loo = fit(
    ScalarChoiceGP(
        folds.train_X, folds.train_Y, scalar_dims=data.scalar_dims, feature_names=data.feature_names
    )
)
print(f"{len(model_expression(loo))} fold models; fold 0:")
model_expression(loo, member=0)""",
    ),
]


def main() -> None:
    nb = new_notebook(
        cells=[new_markdown_cell(s) if kind == "md" else new_code_cell(s) for kind, s in CELLS],
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
    )
    path = Path(__file__).with_name("01_scalar_choice_kernel.ipynb")
    nbformat.write(nb, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
