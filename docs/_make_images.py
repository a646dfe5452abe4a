"""Render the charts shown in docs/plotting.md to docs/images/*.png.

Needs kaleido (``pip install kaleido``) and a Chrome/Chromium it can find. Runs the
demo study of notebook 02 (40 trials) and writes one PNG per chart::

    python docs/_make_images.py
"""

from __future__ import annotations

import warnings
from pathlib import Path

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

OUT = Path(__file__).with_name("images")


def main() -> None:
    warnings.filterwarnings("ignore")
    OUT.mkdir(exist_ok=True)
    client = demo_study(n_trials=40, seed=0)
    figures = {
        "axis_plots": axis_plots(client, cols=4),
        "isolation_plot": isolation_plot(client, "optimizer"),
    }
    res = ax_cross_validation(client)
    figures["predicted_vs_observed"] = predicted_vs_observed(res)
    figures["fitting_trajectories"] = fitting_trajectories(res)
    X, Y = res.train_X, res.observed.unsqueeze(-1)
    enc = res.encoding
    dims = {"scalar_dims": enc.scalar_dims, "choice_dims": enc.choice_dims}
    sizes = list(range(10, X.shape[0] + 1, 10))
    configs = {
        "default": {},
        "loose": {"scalar_lengthscale_prior": "loose", "choice_lengthscale_prior": "loose"},
        "looser": {"scalar_lengthscale_prior": "looser", "choice_lengthscale_prior": "looser"},
    }
    by_size = cv_metric_by_size(configs, X, Y, sizes, model_kwargs=dims)
    figures["metric_vs_size"] = metric_vs_size(by_size)
    hp = hyperparameters_by_size(
        X, Y, sizes, model_kwargs={**dims, "feature_names": enc.feature_names}
    )
    figures["hyperparameters_vs_size"] = hyperparameters_vs_size(
        hp, parameters=["factorized_scalar_lengthscale", "factorized_weight", "noise"]
    )
    for name, fig in figures.items():
        path = OUT / f"{name}.png"
        fig.write_image(path, width=1000, height=600 if name != "axis_plots" else 700, scale=1)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
