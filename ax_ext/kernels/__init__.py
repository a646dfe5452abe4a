"""Kernels for mixed scalar / choice hyperparameter spaces."""

from ax_ext.kernels.hyperparameters import ScalarChoiceHyperparameters
from ax_ext.kernels.priors import (
    LENGTHSCALE_PRIOR_STRENGTHS,
    LengthscalePriorSpec,
    default_lengthscale_mode,
    lengthscale_prior,
)
from ax_ext.kernels.scalar_choice import ScalarChoiceKernel

__all__ = [
    "LENGTHSCALE_PRIOR_STRENGTHS",
    "LengthscalePriorSpec",
    "ScalarChoiceHyperparameters",
    "ScalarChoiceKernel",
    "default_lengthscale_mode",
    "lengthscale_prior",
]
