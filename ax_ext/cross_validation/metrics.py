"""Summary metrics of cross-validated predictions."""

from __future__ import annotations

import math

from scipy.stats import norm, spearmanr
from torch import Tensor

__all__ = ["cv_metrics"]

_Z68 = float(norm.ppf(0.5 + 0.6827 / 2))  # 1 standard deviation: 68.27 %
_Z95 = float(norm.ppf(0.975))


def cv_metrics(observed: Tensor, mean: Tensor, std: Tensor) -> dict[str, float]:
    r"""Accuracy and calibration of held-out Gaussian predictions.

    Args:
        observed: ``n`` held-out observations.
        mean: ``n`` predictive means.
        std: ``n`` predictive standard deviations (of the observation, i.e. with
            noise, for the log density and coverage to be meaningful).

    Returns:
        ``mse``; ``rank_correlation`` (Spearman, NaN for fewer than 3 points);
        ``mean_log_predictive_density`` (mean of ``log N(observed; mean, std^2)``);
        ``coverage_68`` and ``coverage_95`` (fractions of observations inside the
        central 68.27 % and 95 % predictive intervals; well calibrated models give
        about 0.68 and 0.95).

    Example:
        >>> import torch
        >>> m = cv_metrics(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0.0, 1.0, 2.0]),
        ...                torch.ones(3))
        >>> m["mse"], m["rank_correlation"], m["coverage_95"]
        (0.0, 1.0, 1.0)
    """
    observed, mean, std = (t.detach().double().reshape(-1).cpu() for t in (observed, mean, std))
    err = observed - mean
    z = err.abs() / std
    log_density = -0.5 * (err / std).square() - std.log() - 0.5 * math.log(2 * math.pi)
    rank = float("nan")
    if observed.numel() >= 3:
        rank = float(spearmanr(observed.numpy(), mean.numpy()).statistic)
    return {
        "mse": float(err.square().mean()),
        "rank_correlation": rank,
        "mean_log_predictive_density": float(log_density.mean()),
        "coverage_68": float((z <= _Z68).double().mean()),
        "coverage_95": float((z <= _Z95).double().mean()),
    }
