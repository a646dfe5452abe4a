"""Cross-validation that refits every fold, fast (through :mod:`ax_ext.fit`).

:func:`ax_cross_validation` (an Ax experiment or Client) imports Ax when called.
"""

from ax_ext.adapter import ExcludedTrial, SearchSpaceEncoding, encode_search_space
from ax_ext.cross_validation.ax_experiments import AxCrossValidationResult, ax_cross_validation
from ax_ext.cross_validation.loo import CrossValidationResult, loo_cross_validation
from ax_ext.cross_validation.metrics import cv_metrics

__all__ = [
    "AxCrossValidationResult",
    "CrossValidationResult",
    "ExcludedTrial",
    "SearchSpaceEncoding",
    "ax_cross_validation",
    "cv_metrics",
    "encode_search_space",
    "loo_cross_validation",
]
