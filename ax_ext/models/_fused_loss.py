"""A fused per-member loss for ScalarChoiceGP (see :mod:`ax_ext.fit.protocol`).

The training inputs do not change during a fit, so the centered scalar columns
(and, for choice columns that are not 0/1, their pairwise absolute differences)
are prepared once. Each evaluation then needs one small batched matrix product
per part, for both lengthscale sets at once, to get all scaled distances, the
closed-form kernel, priors evaluated together by family
(:class:`~ax_ext.fit.stacked_priors.StackedLogPrior`), and a dense Cholesky
with a hand-written backward pass (:func:`ax_ext.fit.dense.gaussian_nll`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood
from gpytorch.likelihoods.noise_models import HomoskedasticNoise
from gpytorch.means import ConstantMean
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from torch import Tensor

from ax_ext.fit.dense import (
    exact_gp_data,
    gaussian_nll,
    member_parameters,
    prior_log_prob,
    standard_exact_mll,
    swap_parameters,
)
from ax_ext.fit.stacked_priors import StackedLogPrior
from ax_ext.kernels import ScalarChoiceKernel
from ax_ext.kernels.fused import choice_operand, scalar_choice_covariance
from ax_ext.kernels.hyperparameters import ScalarChoiceHyperparameters


class ScalarChoiceFusedLoss:
    """``(params, members) -> k`` negative MLL values of a ScalarChoiceGP's members."""

    def __init__(self, mll: ExactMarginalLogLikelihood) -> None:
        model = mll.model
        kernel: ScalarChoiceKernel = model.covar_module
        self.mll, self.model, self.kernel = mll, model, kernel
        member_shape = model.train_targets.shape[:-1]
        self.shape = member_shape
        B = int(member_shape.numel())
        data = exact_gp_data(model, member_shape)
        X = data.X
        n = X.shape[-2]
        self.B, self.n = B, n
        self.order = torch.arange(B, device=X.device)
        if kernel.has_scalar_part:
            s = X[..., kernel.scalar_dims]
            self.s = s - s.mean(dim=-2, keepdim=True)  # centered, as gpytorch's kernels do

        if kernel.has_choice_part:
            c = X[..., kernel.choice_dims]
            self.choice, self.binary = choice_operand(c)
        self.y, self.fixed_noise = data.Y, data.fixed_noise
        self.names = {id(p): name for name, p in mll.named_parameters()}
        # Priors on the kernel's hyperparameters and on the noise are evaluated on
        # the values this loss computes anyway, vectorized by prior family; any
        # other prior goes through its closure with the members' parameters
        # swapped in.
        direct, self.other_priors = [], []
        nd = len(member_shape)
        with torch.no_grad():
            for entry in model.named_priors():
                _, module, prior, closure, _ = entry
                key = _direct_key(module, closure, kernel, model.likelihood)
                value = None if key is None else closure(module)
                if (
                    value is None
                    or value.shape[:nd] != member_shape  # shared across members
                    or prior.log_prob(value).shape != value.shape  # a batch of priors
                ):
                    self.other_priors.append(entry)
                else:
                    direct.append((key, _flat_prior(prior, value, B), value.reshape(B, -1)))
        self.direct_priors = StackedLogPrior(direct) if direct else None

    @classmethod
    def build(cls, mll) -> ScalarChoiceFusedLoss | None:
        """The fused loss, or ``None`` when this MLL/model is not the standard layout."""
        model = getattr(mll, "model", None)
        kernel = getattr(model, "covar_module", None)
        eligible = (
            standard_exact_mll(mll) is None
            and type(kernel) is ScalarChoiceKernel
            and kernel.active_dims is None
            and type(model.mean_module) is ConstantMean
            and type(model.likelihood) in (GaussianLikelihood, FixedNoiseGaussianLikelihood)
        )
        return cls(mll) if eligible else None

    def _value(self, params: Mapping[str, Tensor], module, raw_name: str, members: Tensor):
        """A constrained hyperparameter, per member: from ``params`` or the module."""
        raw = module._parameters[raw_name]
        name = self.names.get(id(raw))
        if name in params:
            value = params[name]
        else:  # frozen (requires_grad=False): the module's value for these members
            value = raw.detach().reshape(self.B, -1)[members]
        constraint = getattr(module, f"{raw_name}_constraint", None)
        return value if constraint is None else constraint.transform(value)

    def __call__(self, params: Mapping[str, Tensor], members: Tensor) -> Tensor:
        kern, k = self.kernel, members.numel()
        # all members in order: use the stored tensors, no copies (several starts per
        # member can also give k == B rows, with repeated members)
        everyone = k == self.B and bool((members == self.order).all())

        values: dict[str, Tensor] = {}

        def hyper(name: str) -> Tensor | None:
            if getattr(kern, f"raw_{name}", None) is None:
                return None
            value = self._value(params, kern, f"raw_{name}", members).reshape(k, -1)
            values[name] = value
            return value.squeeze(-1)

        s = choice = None
        if kern.has_scalar_part:
            s = self.s if everyone else self.s[members]
        if kern.has_choice_part:
            choice = self.choice if everyone else self.choice[members]

        def lengthscale(name: str) -> Tensor | None:
            value = hyper(name)
            return None if value is None else value.reshape(k, -1)

        model = self.model
        if self.fixed_noise is None:
            noise = self._value(params, model.likelihood.noise_covar, "raw_noise", members)
            values["noise"] = noise = noise.reshape(k, -1)
            noise = noise.expand(k, self.n)
        else:
            noise = self.fixed_noise if everyone else self.fixed_noise[members]
        hp = ScalarChoiceHyperparameters.from_getter(
            lambda name: lengthscale(name) if name.endswith("lengthscale") else hyper(name)
        )
        binary = kern.has_choice_part and self.binary
        K = scalar_choice_covariance(s, choice, binary, hp, noise)  # noise on the diagonal
        constant = self._value(params, model.mean_module, "raw_constant", members).reshape(k, 1)
        y = self.y if everyone else self.y[members]
        nll = gaussian_nll(K, y - constant)
        log_prior = None
        if self.direct_priors is not None:
            log_prior = self.direct_priors(values, None if everyone else members)
        if self.other_priors:
            member_params = member_parameters(self.mll, params, members, self.shape)
            with swap_parameters(self.mll, member_params):
                term = prior_log_prob(model, k, self.other_priors)
            log_prior = term if log_prior is None else log_prior + term
        return nll / self.n if log_prior is None else (nll - log_prior) / self.n


def _flat_prior(prior: Any, value: Tensor, B: int) -> Any:
    """A log-normal prior with batched parameters (e.g. one strength per member),
    its parameters laid out as the ``B x m`` values; any other prior unchanged."""
    if isinstance(prior, LogNormalPrior) and prior.loc.dim() > 0:
        return LogNormalPrior(
            loc=prior.loc.expand(value.shape).reshape(B, -1),
            scale=prior.scale.expand(value.shape).reshape(B, -1),
        )
    return prior


def _direct_key(module, closure, kernel: ScalarChoiceKernel, likelihood) -> str | None:
    """The hyperparameter a prior's closure reads, if the fused loss computes it."""
    if module is kernel:
        return kernel.hyperparameter_of_prior(closure)
    noise_covar = getattr(likelihood, "noise_covar", None)
    if (
        type(likelihood) is GaussianLikelihood
        and module is noise_covar
        and type(noise_covar) is HomoskedasticNoise
        and getattr(closure, "__self__", None) is module
        and getattr(closure, "__func__", None) is HomoskedasticNoise._noise_param
    ):
        return "noise"
    return None
