r"""Cross-validation and fitted hyperparameters on growing prefixes of a data set.

:func:`cv_metric_by_size` and :func:`hyperparameters_by_size` fit on the first
``size`` rows (e.g. the first ``size`` trials of a study) for each size, show a
progress bar, and return what they have when interrupted (Ctrl-C / the Jupyter
stop button) with a :class:`PartialResultWarning`. They return DataFrames; the
charts that draw them are :func:`ax_ext.plotting.metric_vs_size` and
:func:`ax_ext.plotting.hyperparameters_vs_size`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from botorch.exceptions.warnings import BotorchWarning
from botorch.models.model import Model
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from ax_ext.cross_validation.loo import loo_cross_validation
from ax_ext.expressions import model_expression
from ax_ext.extras import require
from ax_ext.fit import fit_gpytorch_mll
from ax_ext.models import ScalarChoiceGP

__all__ = ["PartialResultWarning", "cv_metric_by_size", "hyperparameters_by_size"]


#: The metric columns of :func:`cv_metric_by_size`'s DataFrame when no row was computed.
_METRIC_NAMES = (
    "mean_log_predictive_density",
    "rank_correlation",
    "mse",
    "coverage_68",
    "coverage_95",
)


def _metric_columns(rows: list[dict[str, Any]]) -> list[str]:
    if rows:
        return [k for k in rows[0] if k not in ("config", "size", "seconds")]
    return list(_METRIC_NAMES)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class PartialResultWarning(BotorchWarning):
    """A long computation was interrupted; the returned results are incomplete."""


def _check_sizes(sizes: Iterable[int], n: int) -> list[int]:
    from botorch.exceptions.errors import UnsupportedError

    sizes = sorted({int(s) for s in sizes})
    if not sizes or sizes[0] < 2 or sizes[-1] > n:
        raise UnsupportedError(
            f"Expected data-set sizes between 2 and the number of rows n = {n}, got {sizes}. "
            "Pass e.g. sizes=range(5, n + 1, 5)."
        )
    return sizes


def _progress(total: int, enabled: bool, desc: str) -> Any:
    tqdm = require("tqdm.auto", "plots", "the progress bar of ax_ext.plotting").tqdm
    return tqdm(total=total, disable=not enabled, desc=desc, leave=False)


def _warn_partial(done: int, total: int, what: str) -> None:
    warnings.warn(
        PartialResultWarning(
            f"Interrupted after {done} of {total} {what}; returning the partial results."
        ),
        stacklevel=3,
    )


def cv_metric_by_size(
    configs: Mapping[str, Mapping[str, Any]],
    X: Tensor,
    Y: Tensor,
    sizes: Iterable[int],
    metric: str = "mean_log_predictive_density",
    *,
    model_cls: type[Model] = ScalarChoiceGP,
    model_kwargs: Mapping[str, Any] | None = None,
    progress: bool = True,
    **cv_kwargs: Any,
) -> Any:
    r"""Refit cross-validation of several model configurations on growing prefixes.

    For every size (ascending) and configuration, runs
    :func:`~ax_ext.cross_validation.loo_cross_validation` on the first ``size``
    rows of ``X, Y``. This is the computation behind Chart 1 of the extended
    material of the outerloop post "Expressions are Pragmatic Model Visualizations"
    (hold-one-out results of default, loose and looser lengthscale priors
    against data-set size); plot it with :func:`metric_vs_size`.

    Args:
        configs: Configuration name -> keyword arguments for ``model_cls``
            (merged over ``model_kwargs``), e.g.
            ``{"default": {}, "loose": {"scalar_lengthscale_prior": "loose"}}``.
        X: ``n x d`` inputs, in the order the data arrived (e.g. trial order).
        Y: ``n x 1`` observations.
        sizes: Data-set sizes (prefix lengths) between 2 and ``n``.
        metric: The metric shown in the progress bar and plotted by default by
            :func:`metric_vs_size` (any key of
            :func:`~ax_ext.cross_validation.cv_metrics`).
        model_cls: The BoTorch model class.
        model_kwargs: Keyword arguments shared by every configuration (e.g.
            ``scalar_dims``).
        progress: Show a tqdm progress bar.
        **cv_kwargs: Passed to ``loo_cross_validation`` (``folds``, ``refit``,
            ``warm_start``, ``fit``, ``fit_kwargs``, ``seed``, ...).

    Returns:
        A ``pandas.DataFrame`` with one row per (size, configuration): columns
        ``config, size, seconds`` and every metric of ``cv_metrics``;
        ``df.attrs["metric"]`` is ``metric``. If interrupted, the rows finished
        so far, with a :class:`PartialResultWarning`.

    Example:
        >>> import torch
        >>> from botorch.models import SingleTaskGP
        >>> X = torch.linspace(0, 1, 8, dtype=torch.double).unsqueeze(-1)
        >>> fast = {"optimizer_kwargs": {"options": {"maxiter": 10}}}
        >>> df = cv_metric_by_size({"stgp": {}}, X, X.sin(), [4, 8], model_cls=SingleTaskGP,
        ...                        progress=False, warm_start=False, fit_kwargs=fast)
        >>> df[["config", "size"]].values.tolist()
        [['stgp', 4], ['stgp', 8]]
    """
    import pandas as pd

    sizes = _check_sizes(sizes, X.shape[0])
    shared = dict(model_kwargs or {})
    rows: list[dict[str, Any]] = []
    total = len(sizes) * len(configs)
    bar = _progress(total, progress, "cross-validation by size")
    try:
        for size in sizes:
            for name, kwargs in configs.items():
                start = time.perf_counter()
                res = loo_cross_validation(
                    model_cls,
                    X[:size],
                    Y[:size],
                    model_kwargs={**shared, **kwargs},
                    **cv_kwargs,
                )
                rows.append(
                    {
                        "config": name,
                        "size": size,
                        "seconds": time.perf_counter() - start,
                        **res.metrics,
                    }
                )
                bar.set_postfix_str(
                    f"{name} @ {size}: {metric} {_short(res.metrics.get(metric))}", refresh=False
                )
                bar.update(1)
    except KeyboardInterrupt:
        _warn_partial(len(rows), total, "cross-validations")
    finally:
        bar.close()
    df = pd.DataFrame(rows, columns=["config", "size", "seconds", *_metric_columns(rows)])
    df.attrs["metric"] = metric
    return df


def hyperparameters_by_size(
    X: Tensor,
    Y: Tensor,
    sizes: Iterable[int],
    *,
    model_cls: type[Model] = ScalarChoiceGP,
    model_kwargs: Mapping[str, Any] | None = None,
    fit: Callable[..., Any] = fit_gpytorch_mll,
    fit_kwargs: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> Any:
    r"""Fitted hyperparameters of full-data fits on growing prefixes of the data.

    For every size, fits ``model_cls`` on the first ``size`` rows and records
    :func:`~ax_ext.expressions.model_expression` ``(model).to_dataframe()``
    (lengthscales per feature, weights, outputscale, noise, mean). Plot with
    :func:`hyperparameters_vs_size`.

    Args:
        X: ``n x d`` inputs, in arrival order.
        Y: ``n x 1`` observations.
        sizes: Prefix lengths between 2 and ``n``.
        model_cls: A model class with a ``ScalarChoiceKernel`` (e.g.
            ``ScalarChoiceGP``).
        model_kwargs: Keyword arguments for ``model_cls`` (e.g. ``scalar_dims``,
            ``feature_names``, ``scalar_lengthscale_prior``).
        fit: The fitting routine, called as ``fit(mll, **fit_kwargs)``.
        fit_kwargs: Options of ``fit``.
        progress: Show a tqdm progress bar.

    Returns:
        A ``pandas.DataFrame`` of the expression records with a ``size`` column.
        If interrupted, the sizes finished so far, with a
        :class:`PartialResultWarning`.

    Example:
        >>> from ax_ext.synthetic import mixed_dataset
        >>> data = mixed_dataset(n=10)
        >>> fast = {"optimizer_kwargs": {"options": {"maxiter": 10}}}
        >>> df = hyperparameters_by_size(data.X, data.Y, [6, 10], progress=False, fit_kwargs=fast,
        ...     model_kwargs={"scalar_dims": data.scalar_dims, "feature_names": data.feature_names})
        >>> sorted(set(df["size"])), "noise" in set(df["parameter"])
        ([6, 10], True)
    """
    import pandas as pd

    sizes = _check_sizes(sizes, X.shape[0])
    frames = []
    bar = _progress(len(sizes), progress, "fits by size")
    try:
        for size in sizes:
            model = model_cls(X[:size], Y[:size], **dict(model_kwargs or {}))
            fit(ExactMarginalLogLikelihood(model.likelihood, model), **dict(fit_kwargs or {}))
            frames.append(model_expression(model).to_dataframe().assign(size=size))
            bar.update(1)
    except KeyboardInterrupt:
        _warn_partial(len(frames), len(sizes), "fits")
    finally:
        bar.close()
    if not frames:
        return pd.DataFrame(columns=["member", "parameter", "feature", "value", "size"])
    return pd.concat(frames, ignore_index=True)
