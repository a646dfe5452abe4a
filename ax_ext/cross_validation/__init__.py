"""Cross-validation that refits every fold, fast (through :mod:`ax_ext.fit`)."""

from ax_ext.cross_validation.loo import CrossValidationResult, loo_cross_validation
from ax_ext.cross_validation.metrics import cv_metrics

__all__ = ["CrossValidationResult", "cv_metrics", "loo_cross_validation"]
