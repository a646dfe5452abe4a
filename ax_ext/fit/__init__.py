"""Independent per-member fitting of (batched) GPyTorch models.

``from ax_ext.fit import fit_gpytorch_mll`` replaces BoTorch's import; see
:func:`fit_gpytorch_mll`. The fitter is generic: it does not depend on ax_ext's
kernels or models. Models can offer a faster fused loss through
:mod:`ax_ext.fit.protocol`.
"""

from ax_ext.fit.api import fit_gpytorch_mll, fit_gpytorch_mll_directly, fit_mll_members
from ax_ext.fit.options import FitOptions
from ax_ext.fit.protocol import (
    FusedMemberLoss,
    SupportsFitDefaults,
    SupportsFusedMemberLoss,
    model_fit_defaults,
    supports_fused_member_loss,
)
from ax_ext.fit.result import FitResult, MemberFitResult, get_fit_result

__all__ = [
    "FitOptions",
    "FitResult",
    "FusedMemberLoss",
    "MemberFitResult",
    "SupportsFitDefaults",
    "SupportsFusedMemberLoss",
    "fit_gpytorch_mll",
    "fit_gpytorch_mll_directly",
    "fit_mll_members",
    "get_fit_result",
    "model_fit_defaults",
    "supports_fused_member_loss",
]
