"""The one place where ax_ext touches Ax's experiment objects.

* :mod:`ax_ext.adapter.experiment`: an experiment (or a Client's) and its trials as data;
* :mod:`ax_ext.adapter.encoding`: the search space encoded as Ax's BO encodes it;
* :mod:`ax_ext.adapter.private`: the few private Ax attributes ax_ext cannot avoid,
  each behind one function that says why.

Cross-validation, generation, plotting and the runner go through these modules
instead of reading Ax's objects themselves. Importing this package does not import
Ax; the functions do when they run.
"""

from ax_ext.adapter.encoding import SearchSpaceEncoding, encode_search_space
from ax_ext.adapter.experiment import (
    ExcludedTrial,
    TrialRow,
    default_metric_name,
    experiment_data,
    get_experiment,
    objective_minimizes,
)

__all__ = [
    "ExcludedTrial",
    "SearchSpaceEncoding",
    "TrialRow",
    "default_metric_name",
    "encode_search_space",
    "experiment_data",
    "get_experiment",
    "objective_minimizes",
]
