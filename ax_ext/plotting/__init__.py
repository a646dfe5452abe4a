"""Plotly charts for cross-validation results, fits, Ax experiments and training curves.

Every function returns a ``plotly.graph_objects.Figure`` (shown in Jupyter,
exportable with ``fig.write_html``). Importing this package imports plotly and
Ax; ``import ax_ext`` does not import it. It needs the ``plots`` extra
(``pip install 'ax-ext[plots]'``: plotly, tqdm); without it, importing this
package raises an ``ImportError`` that says so.
"""

from ax_ext.extras import require

require("plotly.graph_objects", "plots", "ax_ext.plotting")  # a clear error without it
# ruff: noqa: E402  (the check above runs before the submodules import plotly)

from ax_ext.cross_validation.size import (  # computed there, re-exported for convenience
    PartialResultWarning,
    cv_metric_by_size,
    hyperparameters_by_size,
)
from ax_ext.plotting.cross_validation import predicted_vs_observed
from ax_ext.plotting.experiment import BoundaryWarning, axis_plots, isolation_plot
from ax_ext.plotting.history import first_model_based_trial, optimization_history
from ax_ext.plotting.importance import parameter_importance, sensitivity_importance
from ax_ext.plotting.size import hyperparameters_vs_size, metric_vs_size
from ax_ext.plotting.training_curves import training_curves
from ax_ext.plotting.trajectories import fitting_trajectories

__all__ = [
    "BoundaryWarning",
    "PartialResultWarning",
    "axis_plots",
    "cv_metric_by_size",
    "first_model_based_trial",
    "fitting_trajectories",
    "hyperparameters_by_size",
    "hyperparameters_vs_size",
    "isolation_plot",
    "metric_vs_size",
    "optimization_history",
    "parameter_importance",
    "predicted_vs_observed",
    "sensitivity_importance",
    "training_curves",
]
