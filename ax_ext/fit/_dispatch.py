r"""Which objective a fit of an exact GP runs on, decided before optimizing.

The vectorized per-member paths are used only where the model is shown to
decompose into independent members:

* ``"fused"``: the model offers a fused per-member loss
  (:mod:`ax_ext.fit.protocol`) and it reproduces BoTorch's loss, member by
  member, at the starting values;
* ``"subset"``: a SingleTaskGP-style model built only of GPyTorch modules known to
  take per-member parameters (:func:`~ax_ext.fit._losses.subset_eligible`), whose
  subset loss reproduces BoTorch's at the start, for all members and for one alone;
* ``"full-batch"``: any other batched exact GP whose loss has one value per member
  and whose members are independent: the gradient of a member's loss is zero in
  every other member's parameters (checked for the first and the last member).
  Each evaluation runs the whole model, on BoTorch's own loss closure.

Everything else is ``"joint"``: the whole model as one problem on BoTorch's loss
(summed over the batch, as BoTorch sums it), still with ax_ext's L-BFGS-B and
retries (in BoTorch's coordinates unless asked otherwise: ``FitOptions.log_scale``).
A user ``closure`` is ``"closure"``: one problem on it.

One case goes back to BoTorch's routine (``"botorch"``): a loss that is not
finite at the starting values while its gradient is (e.g. a prior evaluated on a
structurally zero entry, as ``OrthogonalAdditiveKernel``'s second-order
coefficients with a Gamma prior are): BoTorch's SciPy routine still takes its
gradient steps and returns, where an optimizer that needs a finite loss cannot
start. The probes cost one or two evaluations of the model before the fit starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gpytorch
import torch
from gpytorch.mlls import MarginalLogLikelihood
from torch import Tensor

from ax_ext.fit._lbfgs_types import MemberObjective
from ax_ext.fit._losses import (
    NUMERICAL_ERRORS,
    botorch_losses,
    botorch_objective,
    fused_loss,
    guarded,
    make_objective,
    subset_eligible,
    subset_loss,
)
from ax_ext.fit._params import MemberLayout, build_layout
from ax_ext.fit.options import FitOptions

logger = logging.getLogger(__name__)


@dataclass
class FitPlan:
    """How a fit evaluates its members.

    Attributes:
        path: ``"fused"``, ``"subset"``, ``"full-batch"``, ``"joint"``, ``"closure"``
            or ``"botorch"`` (ax_ext's optimizer cannot start: BoTorch's routine).
        reason: Why this path, in a sentence (recorded in the fit's result).
        layout: The parameters as member rows.
        objective: ``(rows, members) -> (loss, grad)`` in raw coordinates.
    """

    path: str
    reason: str
    layout: MemberLayout
    objective: MemberObjective


def plan_fit(
    mll: MarginalLogLikelihood,
    closure: Callable[[], tuple[Tensor, Sequence[Tensor | None]]] | None,
    closure_kwargs: Mapping[str, Any] | None,
    options: FitOptions,
) -> FitPlan:
    """Choose the path for an exact GP's fit (see the module docstring).

    ``mll`` must be in train mode. Nothing is optimized here; the probes leave the
    parameters as they were.
    """
    bounds = options.bounds
    if closure is not None:
        layout = build_layout(mll, torch.Size([]), bounds=bounds, single=True)
        return FitPlan(
            "closure",
            "a user closure returns one loss for the whole model: one problem",
            layout,
            _closure_objective(closure, dict(closure_kwargs or {}), layout),
        )
    model = mll.model
    targets = getattr(model, "train_targets", None)
    member_shape = targets.shape[:-1] if isinstance(targets, Tensor) else torch.Size([])
    layout = build_layout(mll, member_shape, bounds=bounds)
    if layout.coupled:
        shared = [
            n
            for n, p in zip(layout.names, layout.params)
            if p.shape[: len(member_shape)] != member_shape
        ]
        return _joint(
            mll, closure_kwargs, bounds, f"parameters {shared} are shared by all batch members"
        )
    name = type(model).__name__
    notes = []
    if not closure_kwargs:
        fused = fused_loss(mll)
        if fused is not None:
            problem = _reproduces(mll, layout, fused)
            if problem is None:
                return FitPlan(
                    "fused",
                    f"{name} offers a fused per-member loss that reproduces BoTorch's loss",
                    layout,
                    make_objective(guarded(fused), layout),
                )
            logger.warning("%s's fused loss is not used: %s", name, problem)
            notes.append(f"its fused loss {problem}")
        why_not = subset_eligible(mll)
        if why_not is None:
            loss = subset_loss(mll, layout)
            problem = _reproduces(mll, layout, loss)
            if problem is None:
                return FitPlan(
                    "subset",
                    f"{name} of standard GPyTorch modules: each member evaluated on its own",
                    layout,
                    make_objective(guarded(loss), layout),
                )
            why_not = f"the subset loss {problem}"
        notes.append(why_not)
    else:
        notes.append("closure_kwargs are passed to the MLL")
    if layout.num_members > 1:
        problem = _independence_problem(mll, layout, closure_kwargs)
        if problem is None:
            return FitPlan(
                "full-batch",
                f"the {layout.num_members} members of {name} are independent; each "
                f"evaluation runs the whole batch ({notes[-1]})",
                layout,
                botorch_objective(mll, layout, closure_kwargs),
            )
        return _joint(mll, closure_kwargs, bounds, problem)
    return _joint(mll, closure_kwargs, bounds, f"one {name} ({notes[-1]})")


def _joint(mll, closure_kwargs, bounds, why: str) -> FitPlan:
    layout = build_layout(mll, torch.Size([]), bounds=bounds, single=True)
    x0, member = layout.gather(), torch.zeros(1, dtype=torch.long)
    objective = botorch_objective(mll, layout, closure_kwargs)
    f, g = objective(x0, member)
    if not bool(torch.isfinite(f).all()) and bool(torch.isfinite(g).all()):
        return FitPlan(
            "botorch",
            "BoTorch's loss is not finite at the starting values while its gradient is: "
            "BoTorch's routine runs the fit",
            layout,
            objective,
        )
    return FitPlan(
        "joint",
        f"the whole model as one problem on BoTorch's loss: {why}",
        layout,
        _FirstCallCached(objective, x0, f, g),
    )


class _FirstCallCached:
    """``objective``, answering a call at the probed starting values from the probe
    (the optimizer's first evaluation is usually there: no evaluation twice)."""

    def __init__(self, objective: MemberObjective, x0: Tensor, f: Tensor, g: Tensor) -> None:
        self.objective, self.cached = objective, (x0, f, g)

    def __call__(self, rows: Tensor, members: Tensor) -> tuple[Tensor, Tensor]:
        if self.cached is not None:
            x0, f, g = self.cached
            self.cached = None
            if rows.shape == x0.shape and bool(torch.equal(rows, x0.to(rows))):
                return f.to(rows), g.to(rows)
        return self.objective(rows, members)


def _reference(mll: MarginalLogLikelihood, B: int) -> Tensor:
    """BoTorch's loss per member, exactly (Cholesky, not CG, at any size)."""
    n = mll.model.train_targets.shape[-1]
    size = max(gpytorch.settings.max_cholesky_size.value(), n + 1)
    with torch.no_grad(), gpytorch.settings.max_cholesky_size(size):
        return botorch_losses(mll, None)().reshape(B)


def _reproduces(mll: MarginalLogLikelihood, layout: MemberLayout, loss) -> str | None:
    """``None`` if ``loss`` equals BoTorch's loss at the current values, for all
    members at once and for the last one alone; else what differs."""
    B = layout.num_members
    x0 = layout.gather()
    members = torch.arange(B, device=x0.device)
    try:
        with torch.no_grad():
            ours = loss(layout.unflatten(x0), members)
            alone = loss(layout.unflatten(x0[-1:]), members[-1:]) if B > 1 else ours[-1:]
    except Exception as err:  # any failure means: not this path
        return f"raised {type(err).__name__}: {err}"
    try:
        ref = _reference(mll, B)
    except NUMERICAL_ERRORS as err:
        logger.debug("BoTorch's loss failed at the start (%s); not compared", err)
        return None
    if ours.shape != ref.shape:
        return f"has shape {tuple(ours.shape)}, BoTorch's loss {tuple(ref.shape)}"
    f32 = x0.dtype == torch.float32
    tol = {"rtol": 1e-3, "atol": 1e-3} if f32 else {"rtol": 1e-6, "atol": 1e-6}
    same = torch.isclose(ours, ref, equal_nan=True, **tol)
    same_alone = torch.isclose(alone, ref[-1:], equal_nan=True, **tol)
    if not bool(same.all()) or not bool(same_alone.all()):
        i = int((~same).nonzero()[0]) if not bool(same.all()) else B - 1
        return (
            f"differs from BoTorch's loss at the start (member {i}: "
            f"{float(ours[i] if not bool(same.all()) else alone[0]):.6g} vs {float(ref[i]):.6g})"
        )
    return None


def _independence_problem(
    mll: MarginalLogLikelihood, layout: MemberLayout, closure_kwargs: Mapping[str, Any] | None
) -> str | None:
    """``None`` if BoTorch's loss has one value per member and a member's loss
    does not depend on other members' parameters; else what is wrong."""
    B = layout.num_members
    try:
        with torch.enable_grad():
            out = botorch_losses(mll, closure_kwargs)()
            if out.shape != layout.member_shape:
                return (
                    f"the loss has shape {tuple(out.shape)}, not one value per member "
                    f"{tuple(layout.member_shape)}"
                )
            flat = out.reshape(B)
            for j in sorted({0, B - 1}):
                grads = torch.autograd.grad(
                    flat[j], layout.params, retain_graph=True, allow_unused=True
                )
                rows = torch.cat(
                    [
                        (torch.zeros_like(p) if g is None else g).reshape(B, -1)
                        for p, g in zip(layout.params, grads)
                    ],
                    dim=-1,
                )
                others = torch.cat([rows[:j], rows[j + 1 :]])
                if not bool(torch.isfinite(others).all()) or bool((others != 0).any()):
                    return f"member {j}'s loss depends on other members' parameters"
    except NUMERICAL_ERRORS as err:
        return f"the model could not be evaluated at the start ({err})"
    return None


def _closure_objective(closure, closure_kwargs: dict[str, Any], layout: MemberLayout):
    """One joint problem on a user closure (its loss is a single number)."""
    order = list(getattr(closure, "parameters", {}).keys()) or layout.names
    positions = [order.index(n) if n in order else None for n in layout.names]

    def objective(rows: Tensor, members: Tensor) -> tuple[Tensor, Tensor]:
        layout.scatter(rows)
        loss, grads = closure(**closure_kwargs)
        flat = []
        for p, pos in zip(layout.params, positions):
            grad = None if pos is None else grads[pos]
            flat.append((torch.zeros_like(p) if grad is None else grad).reshape(-1))
        return loss.detach().reshape(1), torch.cat(flat).detach().reshape(1, -1)

    return objective
