r"""Lengthscale priors whose strength the user can tighten or loosen.

BoTorch 0.12+ puts a dimension-scaled log-normal prior on every lengthscale
(Hvarfner et al., 2024, "Vanilla Bayesian Optimization Performs Great in High
Dimensions"): ``LogNormal(loc=sqrt(2) + log(d) / 2, scale=sqrt(3))`` for ``d``
input dimensions, and initializes the lengthscale at the prior's mode.

ax_ext keeps that prior as the ``"default"`` strength and derives the other named
strengths from it by widening or narrowing the log-normal **while keeping its mode
fixed**. BoTorch fits the lengthscale itself (not its logarithm), so the MAP loss
contains ``-log p(l)``; for a log-normal with location ``mu`` and scale ``sigma``

.. math::

    \frac{d}{d \log l}\left[-\log p(l)\right]
        = \frac{\log l - \mu}{\sigma^2} + 1
        = \frac{\log l - \log m}{\sigma^2},
    \qquad m = e^{\mu - \sigma^2} \text{ (the mode)}.

So with the mode ``m`` held fixed, the prior acts as a quadratic pull on
``log l`` toward ``m`` whose strength is exactly ``1 / sigma^2``. Widening
``sigma`` while keeping ``mu`` fixed instead (the naive way to "loosen" a
log-normal) moves the mode toward zero and so pushes lengthscales *shorter*;
the mode-preserving family does not.

==========  =================  ============================  ====================
strength    ``sigma``          pull on ``log l`` (relative)   use
==========  =================  ============================  ====================
"tight"     ``sqrt(3) / 2``    4                             very little data
"default"   ``sqrt(3)``        1 (BoTorch's prior exactly)   general use
"loose"     ``2 sqrt(3)``      1/4                           seed's "loosened"
"looser"    ``4 sqrt(3)``      1/16                          seed's "further"
``None``    (no prior)         0                             maximum likelihood
==========  =================  ============================  ====================

In every case the mode is BoTorch's, ``m(d) = exp(sqrt(2) + log(d) / 2 - 3)``
(about ``0.205 sqrt(d)``), and the location is ``mu = log m(d) + sigma^2``.

``d`` is the number of columns in the part of the kernel the lengthscale belongs
to: the scalar columns for scalar lengthscales, the one-hot choice columns for
choice lengthscales. An arbitrary :class:`gpytorch.priors.Prior` can be given
instead of a name.
"""

from __future__ import annotations

import math

from botorch.exceptions.errors import UnsupportedError
from gpytorch.priors import LogNormalPrior, Prior

__all__ = [
    "LENGTHSCALE_PRIOR_STRENGTHS",
    "LengthscalePriorSpec",
    "default_lengthscale_mode",
    "lengthscale_prior",
]

#: The value of ``sigma`` (log-normal scale) for each named prior strength.
LENGTHSCALE_PRIOR_STRENGTHS: dict[str, float] = {
    "tight": math.sqrt(3.0) / 2.0,
    "default": math.sqrt(3.0),
    "loose": 2.0 * math.sqrt(3.0),
    "looser": 4.0 * math.sqrt(3.0),
}

#: What a lengthscale prior may be given as: a named strength, a prior, or None.
LengthscalePriorSpec = str | Prior | None


def default_lengthscale_mode(num_dims: int) -> float:
    r"""The mode of BoTorch's dimension-scaled lengthscale prior for ``num_dims``.

    Args:
        num_dims: The number of input columns the lengthscales act on.

    Returns:
        ``exp(sqrt(2) + log(num_dims) / 2 - 3)``, the value BoTorch initializes
        lengthscales at, and the mode shared by every named strength.

    Example:
        >>> round(default_lengthscale_mode(4), 4)
        0.4096
    """
    if num_dims < 1:
        raise UnsupportedError(f"Expected num_dims >= 1 for a lengthscale prior, got {num_dims}.")
    return math.exp(math.sqrt(2.0) + 0.5 * math.log(num_dims) - 3.0)


def lengthscale_prior(spec: LengthscalePriorSpec, num_dims: int) -> Prior | None:
    r"""Resolve a lengthscale prior specification into a gpytorch prior.

    Args:
        spec: A named strength (one of ``LENGTHSCALE_PRIOR_STRENGTHS``: "tight",
            "default", "loose", "looser"), a ``gpytorch.priors.Prior`` (used as
            given), or ``None`` for no prior.
        num_dims: The number of input columns the lengthscales act on; it sets
            the dimension scaling of the named priors.

    Returns:
        A ``LogNormalPrior`` for a named strength, the given prior, or ``None``.

    Example:
        >>> p = lengthscale_prior("loose", num_dims=4)
        >>> round(float(p.scale), 4), round(float(p.loc), 4)
        (3.4641, 11.1074)
        >>> lengthscale_prior(None, num_dims=4) is None
        True
    """
    if spec is None or isinstance(spec, Prior):
        return spec
    if isinstance(spec, str):
        if spec not in LENGTHSCALE_PRIOR_STRENGTHS:
            raise UnsupportedError(
                f"Unknown lengthscale prior strength {spec!r}. Expected one of "
                f"{sorted(LENGTHSCALE_PRIOR_STRENGTHS)}, a gpytorch Prior, or None "
                "(no prior)."
            )
        sigma = LENGTHSCALE_PRIOR_STRENGTHS[spec]
        loc = math.log(default_lengthscale_mode(num_dims)) + sigma**2
        return LogNormalPrior(loc=loc, scale=sigma)
    raise UnsupportedError(
        "Expected a lengthscale prior given as a strength name "
        f"{sorted(LENGTHSCALE_PRIOR_STRENGTHS)}, a gpytorch.priors.Prior, or None; "
        f"got an object of type {type(spec).__name__}."
    )
