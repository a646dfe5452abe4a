r"""What the L-BFGS-B engines share: options, results and status codes.

Two engines minimize the per-member problems of a fit: the vectorized torch port
(:mod:`ax_ext.fit._lbfgs`) and SciPy's compiled L-BFGS-B for a single problem on
the CPU (:mod:`ax_ext.fit._scipy_single`). Both take :class:`LbfgsOptions` and
return an :class:`LbfgsResult` with the status codes below; which engine runs is
decided by the fit (:func:`ax_ext.fit._members.minimize`), not by either engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from botorch.optim.core import OptimizationStatus
from torch import Tensor

#: objective(x_rows (k x P), member_indices (k,)) -> (loss (k,), grad (k x P));
#: non-finite losses are allowed and treated as "worse than anything".
MemberObjective = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]

# status codes, kept as small ints in a tensor
RUNNING, CONVERGED_F, CONVERGED_G, ABNORMAL, MAXITER, MAXFUN, TIMEOUT, FAILED = range(8)

MESSAGES = {
    RUNNING: "running",
    CONVERGED_F: "CONVERGENCE: REL_REDUCTION_OF_F_<=_FTOL",
    CONVERGED_G: "CONVERGENCE: NORM_OF_PROJECTED_GRADIENT_<=_GTOL",
    ABNORMAL: "ABNORMAL_TERMINATION_IN_LNSRCH",
    MAXITER: "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT",
    MAXFUN: "STOP: TOTAL NO. OF FUNCTION EVALUATIONS EXCEEDS LIMIT",
    TIMEOUT: "STOP: TIMEOUT",
    FAILED: "FAILURE: NON-FINITE LOSS OR GRADIENT AT THE STARTING POINT",
}

#: each status code as BoTorch's ``OptimizationStatus``
BOTORCH_STATUS = {
    CONVERGED_F: OptimizationStatus.SUCCESS,
    CONVERGED_G: OptimizationStatus.SUCCESS,
    ABNORMAL: OptimizationStatus.FAILURE,
    MAXITER: OptimizationStatus.STOPPED,
    MAXFUN: OptimizationStatus.STOPPED,
    TIMEOUT: OptimizationStatus.STOPPED,
    FAILED: OptimizationStatus.FAILURE,
}


@dataclass
class LbfgsOptions:
    """Options, named as scipy's L-BFGS-B (and so BoTorch) names them."""

    maxiter: int = 15000
    maxfun: int = 15000
    ftol: float = 1e7 * torch.finfo(torch.float64).eps  # scipy's default factr * eps
    gtol: float = 1e-5
    maxcor: int = 10
    maxls: int = 20
    timeout_sec: float | None = None


@dataclass
class LbfgsResult:
    """Per-member outcome of a minimization."""

    x: Tensor  # B x P
    f: Tensor  # B
    status: Tensor  # B (int codes above)
    num_iterations: Tensor  # B
    num_evaluations: Tensor  # B
    trace: list[Tensor] = field(default_factory=list)  # per iteration: B losses (NaN = idle)
    runtime: float = 0.0
    timed_out: bool = False
