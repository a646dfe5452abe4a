r"""Choosing the lengthscale prior strength of a ``ScalarChoiceGP`` from its data.

No single strength of :mod:`ax_ext.kernels.priors` is best on every data set:
on the refit leave-one-out of real studies the best one changes with the number
of trials (``docs/priors.md``). With ``scalar_lengthscale_prior="auto"`` (and/or
``choice_lengthscale_prior="auto"``) a :class:`~ax_ext.models.ScalarChoiceGP`
chooses at every fit: it fits one copy of itself per candidate strength, all
copies as one batched model in one vectorized run of ax_ext's fitter (each copy
with its own prior, a batched ``LogNormalPrior``), scores every copy by its
**closed-form leave-one-out** mean log predictive density at its fitted
hyperparameters (Rasmussen & Williams, 2006, section 5.4.2: for a Gaussian
likelihood the held-out mean and variance of every point follow from one inverse
of the training covariance), and keeps the best copy's hyperparameters and prior.

The closed form does not refit the hyperparameters without the held-out point;
``benchmarks/prior_selection.py`` compares its choice with the refit
leave-one-out of :func:`ax_ext.cross_validation.loo_cross_validation` (one fit
per fold and strength) and ``docs/priors.md`` reports the agreement.

The choice is kept on the model as ``model.lengthscale_prior_selection``, a
:class:`PriorSelection` (for a batched model, one choice per member).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from botorch.exceptions.errors import UnsupportedError
from gpytorch.priors import LogNormalPrior
from torch import Tensor

from ax_ext.kernels.priors import LENGTHSCALE_PRIOR_STRENGTHS, default_lengthscale_mode

__all__ = [
    "AUTO",
    "AUTO_CANDIDATES",
    "PriorSelection",
    "loo_log_predictive_density",
    "strength_prior",
]

#: The prior specification that asks a ``ScalarChoiceGP`` to choose the strength.
AUTO = "auto"
#: The strengths ``"auto"`` chooses among, in order of decreasing pull.
AUTO_CANDIDATES: tuple[str, ...] = ("tight", "default", "loose", "looser")


@dataclass
class PriorSelection:
    """Which lengthscale prior strengths a ``ScalarChoiceGP`` chose, and why.

    Attributes:
        candidates: ``(scalar, choice)`` strength names of each candidate.
        scores: ``len(candidates) x batch_shape`` closed-form leave-one-out mean
            log predictive density of each candidate (standardized outcome
            units; higher is better).
        losses: The same shape: each candidate's fitted loss (negative MLL per
            point, priors included), for comparison.
        chosen: ``batch_shape`` index of the chosen candidate of each member.
        criterion: What ``scores`` are: ``"refit_5fold_mlpd"`` (refit k-fold
            cross-validation) or ``"closed_form_loo_mlpd"``.
    """

    candidates: list[tuple[str, str]]
    scores: Tensor
    losses: Tensor
    chosen: Tensor
    criterion: str = "closed_form_loo_mlpd"

    @property
    def scalar(self) -> str | list[str]:
        """The chosen scalar strength (a list for a batched model)."""
        return self._names(0)

    @property
    def choice(self) -> str | list[str]:
        """The chosen choice strength (a list for a batched model)."""
        return self._names(1)

    def _names(self, part: int) -> str | list[str]:
        if self.chosen.dim() == 0:
            return self.candidates[int(self.chosen)][part]
        return [self.candidates[int(i)][part] for i in self.chosen.flatten()]

    def to_dict(self) -> dict:
        """A JSON-ready summary: chosen strengths and each candidate's score.

        Example:
            >>> sel = PriorSelection([("tight", "tight"), ("loose", "loose")],
            ...                      torch.tensor([-1.0, -0.5]), torch.zeros(2),
            ...                      torch.tensor(1))
            >>> sel.to_dict()["scalar_lengthscale_prior"]
            'loose'
        """
        names = [s if s == c else f"{s}/{c}" for s, c in self.candidates]
        scores = self.scores if self.scores.dim() == 1 else self.scores.flatten(1).mean(-1)
        return {
            "scalar_lengthscale_prior": self.scalar,
            "choice_lengthscale_prior": self.choice,
            "criterion": self.criterion,
            "scores": {n: round(float(v), 6) for n, v in zip(names, scores, strict=True)},
        }


def candidate_strengths(scalar: str, choice: str) -> list[tuple[str, str]]:
    """The ``(scalar, choice)`` candidates for two prior specs, one or both ``"auto"``.

    Both ``"auto"``: the same strength for both parts; one ``"auto"``: each
    strength for it, the other fixed.

    Example:
        >>> candidate_strengths("auto", "default")[:2]
        [('tight', 'default'), ('default', 'default')]
    """
    for spec in (scalar, choice):
        if spec != AUTO and spec not in LENGTHSCALE_PRIOR_STRENGTHS:
            raise UnsupportedError(
                f"Expected a named strength {sorted(LENGTHSCALE_PRIOR_STRENGTHS)} next to "
                f"{AUTO!r}, got {spec!r}; a custom Prior cannot be part of the choice."
            )
    if scalar == AUTO and choice == AUTO:
        return [(s, s) for s in AUTO_CANDIDATES]
    if scalar == AUTO:
        return [(s, choice) for s in AUTO_CANDIDATES]
    return [(scalar, s) for s in AUTO_CANDIDATES]


def strength_prior(
    strengths: Sequence[str],
    num_dims: int,
    batch_ndim: int = 0,
    shape: Sequence[int] | None = None,
) -> LogNormalPrior:
    """A batched log-normal lengthscale prior, one named strength per leading index.

    Args:
        strengths: The strength names, in row-major order of ``shape``.
        num_dims: The number of columns the lengthscales act on (``0`` counts as 1).
        batch_ndim: Further batch dimensions of the kernel after ``shape``.
        shape: The leading shape the strengths fill; default ``(len(strengths),)``.
            The prior's parameters are ``shape x 1 ... x 1 x 1 x 1``.

    Example:
        >>> p = strength_prior(["tight", "loose"], num_dims=4)
        >>> tuple(p.loc.shape)
        (2, 1, 1)
    """
    sigma = torch.tensor([LENGTHSCALE_PRIOR_STRENGTHS[s] for s in strengths], dtype=torch.double)
    loc = math.log(default_lengthscale_mode(max(num_dims, 1))) + sigma**2
    full = (*(shape if shape is not None else (len(strengths),)), *(1,) * (batch_ndim + 2))
    return LogNormalPrior(loc=loc.reshape(full), scale=sigma.reshape(full))


def loo_log_predictive_density(model: torch.nn.Module) -> Tensor:
    r"""Closed-form leave-one-out mean log predictive density of an exact GP.

    For the training covariance ``K`` (noise included), mean ``m`` and targets
    ``y``, point ``i``'s held-out predictive is ``N(y_i - a_i / c_i, 1 / c_i)`` with
    ``a = K^{-1} (y - m)`` and ``c = diag(K^{-1})``, at the model's current
    hyperparameters (no refit). Units are those of ``model.train_targets`` (the
    standardized outcome for ``ScalarChoiceGP``).

    Args:
        model: An exact GP with a Gaussian likelihood (e.g. a ``ScalarChoiceGP``).

    Returns:
        A ``batch_shape`` tensor (outputs of a multi-output model summed): the mean
        over training points of each member's held-out log density.

    Example:
        >>> from botorch.models import SingleTaskGP
        >>> X = torch.linspace(0, 1, 10, dtype=torch.double).unsqueeze(-1)
        >>> model = SingleTaskGP(X, X.sin())
        >>> loo_log_predictive_density(model).shape
        torch.Size([])
    """
    was_training = model.training
    model.train()
    try:
        with torch.no_grad():
            inputs = model.train_inputs
            marginal = model.likelihood(model(*inputs), inputs)
            cov = marginal.covariance_matrix
            residual = (model.train_targets - marginal.mean).unsqueeze(-1)
            chol, info = torch.linalg.cholesky_ex(cov)
            if bool((info > 0).any()):  # jitter only where needed
                eye = torch.eye(cov.shape[-1], dtype=cov.dtype)
                chol = torch.linalg.cholesky(cov + 1e-6 * eye)
            inverse = torch.cholesky_inverse(chol)
            c = inverse.diagonal(dim1=-2, dim2=-1)
            a = (inverse @ residual).squeeze(-1)
            log_density = -0.5 * (math.log(2 * math.pi) - c.log() + a**2 / c)
    finally:
        model.train(was_training)
    density = log_density.mean(-1)
    if model.train_targets.dim() > len(model._input_batch_shape) + 1:  # outputs
        density = density.sum(-1)
    return density
