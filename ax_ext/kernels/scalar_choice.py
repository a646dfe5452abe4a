r"""A factorized-plus-joint kernel for mixed scalar / choice hyperparameter spaces."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from botorch.exceptions.errors import BotorchTensorDimensionError, UnsupportedError
from botorch.models.utils.priors import BetaPrior
from botorch.utils.types import DEFAULT, _DefaultType
from gpytorch.constraints import GreaterThan, Interval, Positive
from gpytorch.constraints.constraints import Interval as _IntervalBase
from gpytorch.kernels import Kernel
from gpytorch.priors import GammaPrior, Prior
from torch import Tensor

from ax_ext.kernels._functional import (
    PAIRED_MAX_ELEMENTS,
    l2_distance,
    matern52,
    paired_corr,
    scaled_l1_distance,
)
from ax_ext.kernels.columns import check_column_indices
from ax_ext.kernels.hyperparameters import ScalarChoiceHyperparameters
from ax_ext.kernels.priors import (
    LengthscalePriorSpec,
    default_lengthscale_mode,
    lengthscale_prior,
)

__all__ = ["ScalarChoiceKernel"]

#: Lower bound on every lengthscale, as in BoTorch's default kernel.
MIN_LENGTHSCALE = 2.5e-2

# (public name, part) for the four lengthscales
_LENGTHSCALES = (
    ("factorized_scalar_lengthscale", "scalar"),
    ("factorized_choice_lengthscale", "choice"),
    ("joint_scalar_lengthscale", "scalar"),
    ("joint_choice_lengthscale", "choice"),
)


def _check_dims(name: str, dims: Sequence[int] | None) -> list[int]:
    return [] if dims is None else check_column_indices(name, dims)


def _as_index(dims: list[int]) -> slice | list[int]:
    """A slice (a view, no copy) for contiguous ascending columns, else the list."""
    if dims and dims == list(range(dims[0], dims[-1] + 1)):
        return slice(dims[0], dims[-1] + 1)
    return dims


class ScalarChoiceKernel(Kernel):
    r"""Matern-5/2 over scalar columns and exp(-L1) over one-hot choice columns,
    combined both additively ("factorized") and multiplicatively ("joint").

    With scalar columns ``s`` and one-hot choice columns ``c``:

    .. code-block:: text

        k(x, x') = outputscale * [
            factorized_weight * (
                scalar_weight * M52(||(s - s') / ls_fs||_2)
                + (1 - scalar_weight) * exp(-||(c - c') / ls_fc||_1))
            + (1 - factorized_weight)
                * M52(||(s - s') / ls_js||_2) * exp(-||(c - c') / ls_jc||_1)]

    where ``M52`` is the Matern-5/2 correlation. The factorized and the joint
    term have their own ARD lengthscales. If the kernel has only scalar columns it
    is ``outputscale * M52(||(s - s') / ls_fs||_2)``, and with only choice columns
    ``outputscale * exp(-||(c - c') / ls_fc||_1)``; the weights and the joint
    lengthscales then do not exist (their properties return ``None``).

    The kernel accepts any real values in the choice columns (an acquisition
    optimizer may evaluate a continuous relaxation); the training data are
    checked to be 0/1 by :class:`~ax_ext.models.ScalarChoiceGP`.

    Priors (the defaults follow the kernel of the outerloop post "Expressions are
    Pragmatic Model Visualizations" and BoTorch's dimension-scaled priors, Hvarfner et al.,
    2024):

    - lengthscales: dimension-scaled log-normal priors of a named strength, see
      :mod:`ax_ext.kernels.priors`; scalar and choice lengthscales separately;
    - ``outputscale``: ``Gamma(2, 0.15)``;
    - ``factorized_weight`` and ``scalar_weight``: ``Beta(2, 2)``.

    Args:
        scalar_dims: Columns (of the input after ``active_dims``) that hold
            scalar parameters, normalized to about [0, 1].
        choice_dims: Columns that hold one-hot / n-hot encoded choice
            parameters (0 or 1).
        batch_shape: Batch shape of the hyperparameters, e.g. ``torch.Size([60])``
            for 60 independent leave-one-out fold models.
        scalar_lengthscale_prior: Prior on both scalar lengthscales (factorized
            and joint): a strength name, a ``Prior`` or ``None``.
        choice_lengthscale_prior: Prior on both choice lengthscales.
        scalar_lengthscale_constraint: Constraint on the scalar lengthscales;
            default ``GreaterThan(0.025)`` without a transform, as in BoTorch.
        choice_lengthscale_constraint: Constraint on the choice lengthscales.
        outputscale_prior: Prior on the outputscale (``None`` for none).
        outputscale_constraint: Constraint on the outputscale; default
            ``Positive()``.
        factorized_weight_prior: Prior on ``factorized_weight``.
        factorized_weight_constraint: Constraint; default ``Interval(0, 1)``.
        scalar_weight_prior: Prior on ``scalar_weight``.
        scalar_weight_constraint: Constraint; default ``Interval(0, 1)``.
        **kwargs: Passed to ``gpytorch.kernels.Kernel`` (e.g. ``active_dims``).

    Example:
        >>> import torch
        >>> kernel = ScalarChoiceKernel(scalar_dims=[0, 1], choice_dims=[2, 3])
        >>> X = torch.tensor([[0.1, 0.5, 1.0, 0.0], [0.7, 0.2, 0.0, 1.0]])
        >>> kernel(X).to_dense().shape
        torch.Size([2, 2])
        >>> kernel.factorized_scalar_lengthscale.shape
        torch.Size([1, 2])
    """

    has_lengthscale = False  # four named lengthscales instead of one

    @property
    def is_stationary(self) -> bool:
        """True: the covariance depends on ``x1 - x2`` only (GPyTorch's default reads
        ``has_lengthscale``, which is False here because the lengthscales are named)."""
        return True

    def __init__(
        self,
        scalar_dims: Sequence[int] | None,
        choice_dims: Sequence[int] | None,
        batch_shape: torch.Size | None = None,
        scalar_lengthscale_prior: LengthscalePriorSpec = "default",
        choice_lengthscale_prior: LengthscalePriorSpec = "default",
        scalar_lengthscale_constraint: _IntervalBase | None = None,
        choice_lengthscale_constraint: _IntervalBase | None = None,
        outputscale_prior: Prior | None | _DefaultType = DEFAULT,
        outputscale_constraint: _IntervalBase | None = None,
        factorized_weight_prior: Prior | None | _DefaultType = DEFAULT,
        factorized_weight_constraint: _IntervalBase | None = None,
        scalar_weight_prior: Prior | None | _DefaultType = DEFAULT,
        scalar_weight_constraint: _IntervalBase | None = None,
        **kwargs,
    ) -> None:
        if "ard_num_dims" in kwargs or "lengthscale_prior" in kwargs:
            raise UnsupportedError(
                "ScalarChoiceKernel takes `scalar_dims` and `choice_dims` instead of "
                "`ard_num_dims`, and `scalar_lengthscale_prior` / "
                "`choice_lengthscale_prior` instead of `lengthscale_prior`."
            )
        super().__init__(batch_shape=batch_shape, **kwargs)
        scalar = _check_dims("scalar_dims", scalar_dims)
        choice = _check_dims("choice_dims", choice_dims)
        overlap = sorted(set(scalar) & set(choice))
        if overlap:
            raise UnsupportedError(
                f"Columns {overlap} are listed in both scalar_dims {scalar} and "
                f"choice_dims {choice}. Each column must be either scalar or choice."
            )
        if not scalar and not choice:
            raise UnsupportedError(
                "ScalarChoiceKernel needs at least one scalar or choice column; got "
                "empty scalar_dims and choice_dims."
            )
        # python ints for shape checks (no device sync in forward)
        self._min_width = max(scalar + choice) + 1
        # Plain lists, not buffers: Kernel.__getitem__ would index buffers as if
        # they were batched hyperparameters.
        self.scalar_dims: list[int] = scalar
        self.choice_dims: list[int] = choice
        self._scalar_index = _as_index(scalar)
        self._choice_index = _as_index(choice)
        self.num_scalar_dims = len(scalar)
        self.num_choice_dims = len(choice)
        self.has_scalar_part = bool(scalar)
        self.has_choice_part = bool(choice)
        self.is_mixed = self.has_scalar_part and self.has_choice_part

        bs = self.batch_shape
        self._register(
            "outputscale",
            torch.zeros(bs),
            outputscale_constraint or Positive(),
            GammaPrior(2.0, 0.15) if outputscale_prior is DEFAULT else outputscale_prior,
            initial_value=1.0,
        )
        if self.is_mixed:
            for name, prior, constraint in (
                ("factorized_weight", factorized_weight_prior, factorized_weight_constraint),
                ("scalar_weight", scalar_weight_prior, scalar_weight_constraint),
            ):
                self._register(
                    name,
                    torch.zeros(bs),
                    constraint or Interval(0.0, 1.0),
                    BetaPrior(2.0, 2.0) if prior is DEFAULT else prior,
                    initial_value=0.5,
                )
        specs = {
            "scalar": (scalar_lengthscale_prior, scalar_lengthscale_constraint),
            "choice": (choice_lengthscale_prior, choice_lengthscale_constraint),
        }
        for name, part in self.lengthscale_names_and_parts():
            num = self.num_scalar_dims if part == "scalar" else self.num_choice_dims
            spec, constraint = specs[part]
            mode = default_lengthscale_mode(num)
            if constraint is None:
                constraint = GreaterThan(MIN_LENGTHSCALE, transform=None)
            self._register(
                name,
                torch.zeros(*bs, 1, num),
                constraint,
                lengthscale_prior(spec, num),
                initial_value=mode,
            )

    # ------------------------------------------------------------------ params
    def lengthscale_names_and_parts(self) -> list[tuple[str, str]]:
        """The lengthscales this kernel has, with the part each belongs to."""
        out = []
        for name, part in _LENGTHSCALES:
            if name.startswith("joint") and not self.is_mixed:
                continue
            if part == "scalar" and not self.has_scalar_part:
                continue
            if part == "choice" and not self.has_choice_part:
                continue
            out.append((name, part))
        return out

    @property
    def hyperparameter_names(self) -> list[str]:
        """Names of the hyperparameters this kernel has (depends on its parts)."""
        names = ["outputscale"]
        if self.is_mixed:
            names += ["factorized_weight", "scalar_weight"]
        return names + [n for n, _ in self.lengthscale_names_and_parts()]

    def _register(self, name, zeros, constraint, prior, initial_value) -> None:
        raw = f"raw_{name}"
        self.register_parameter(raw, torch.nn.Parameter(zeros))
        self.register_constraint(raw, constraint)
        if prior is not None:
            if not isinstance(prior, Prior):
                raise UnsupportedError(
                    f"Expected a gpytorch.priors.Prior (or None) for {name}, got "
                    f"{type(prior).__name__}."
                )
            # A fresh copy per hyperparameter: the same object given for two
            # hyperparameters must not become one shared submodule.
            self.register_prior(
                f"{name}_prior",
                copy.deepcopy(prior),
                self._param_getter(name),
                self._param_setter(name),
            )
        self._set_hyperparameter(name, initial_value)

    def hyperparameters(self) -> ScalarChoiceHyperparameters:
        """The constrained hyperparameter values, as one typed view (``None`` for a
        part this kernel does not have); differentiable, like the properties."""
        return ScalarChoiceHyperparameters.from_getter(self._get_hyperparameter)

    def hyperparameter_of_prior(self, closure) -> str | None:
        """The name of the hyperparameter a prior's closure reads, if it is one of
        this kernel's (registered by :meth:`register_prior` above), else None.

        The fused loss (``ax_ext.models``) computes these hyperparameters itself and
        evaluates their priors on the values it already has.
        """
        return closure.name if isinstance(closure, _Getter) else None

    @staticmethod
    def _param_getter(name: str):
        # a bound method of a picklable helper: kernels with priors pickle
        return _Getter(name)

    @staticmethod
    def _param_setter(name: str):
        return _Setter(name)

    def _get_hyperparameter(self, name: str) -> Tensor | None:
        raw_name = f"raw_{name}"
        if raw_name not in self._parameters:
            return None
        constraint = getattr(self, f"{raw_name}_constraint")
        return constraint.transform(self._parameters[raw_name])

    def _set_hyperparameter(self, name: str, value: Tensor | float) -> None:
        raw_name = f"raw_{name}"
        if raw_name not in self._parameters:
            raise UnsupportedError(
                f"This ScalarChoiceKernel has no {name}: it has "
                f"{'only scalar' if self.has_scalar_part else 'only choice'} columns, "
                f"so its hyperparameters are {self.hyperparameter_names}."
            )
        raw = self._parameters[raw_name]
        if not torch.is_tensor(value):
            value = torch.as_tensor(value, dtype=raw.dtype, device=raw.device)
        value = value.to(raw)
        constraint = getattr(self, f"{raw_name}_constraint")
        self.initialize(**{raw_name: constraint.inverse_transform(value)})

    outputscale = property(
        lambda self: self._get_hyperparameter("outputscale"),
        lambda self, v: self._set_hyperparameter("outputscale", v),
        doc="Overall scale, shape ``batch_shape``.",
    )
    factorized_weight = property(
        lambda self: self._get_hyperparameter("factorized_weight"),
        lambda self, v: self._set_hyperparameter("factorized_weight", v),
        doc="Weight of the factorized (additive) term in [0, 1], ``batch_shape``; "
        "None without both parts.",
    )
    scalar_weight = property(
        lambda self: self._get_hyperparameter("scalar_weight"),
        lambda self, v: self._set_hyperparameter("scalar_weight", v),
        doc="Weight of the scalar part inside the factorized term, ``batch_shape``; "
        "None without both parts.",
    )
    factorized_scalar_lengthscale = property(
        lambda self: self._get_hyperparameter("factorized_scalar_lengthscale"),
        lambda self, v: self._set_hyperparameter("factorized_scalar_lengthscale", v),
        doc="``batch_shape x 1 x n_scalar`` lengthscales of the factorized Matern.",
    )
    factorized_choice_lengthscale = property(
        lambda self: self._get_hyperparameter("factorized_choice_lengthscale"),
        lambda self, v: self._set_hyperparameter("factorized_choice_lengthscale", v),
        doc="``batch_shape x 1 x n_choice`` lengthscales of the factorized exp(-L1).",
    )
    joint_scalar_lengthscale = property(
        lambda self: self._get_hyperparameter("joint_scalar_lengthscale"),
        lambda self, v: self._set_hyperparameter("joint_scalar_lengthscale", v),
        doc="``batch_shape x 1 x n_scalar`` lengthscales of the joint Matern.",
    )
    joint_choice_lengthscale = property(
        lambda self: self._get_hyperparameter("joint_choice_lengthscale"),
        lambda self, v: self._set_hyperparameter("joint_choice_lengthscale", v),
        doc="``batch_shape x 1 x n_choice`` lengthscales of the joint exp(-L1).",
    )

    # ----------------------------------------------------------------- forward
    def _check_width(self, x: Tensor) -> None:
        if x.shape[-1] < self._min_width:
            raise BotorchTensorDimensionError(
                f"ScalarChoiceKernel's scalar_dims {self.scalar_dims} and "
                f"choice_dims {self.choice_dims} reference column "
                f"{self._min_width - 1}, but the input has only {x.shape[-1]} columns "
                f"(shape {tuple(x.shape)}). Check the dims against the input's layout "
                "(after `active_dims` selection, if any)."
            )

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, **params) -> Tensor:
        if params.get("last_dim_is_batch", False):
            raise UnsupportedError("ScalarChoiceKernel does not support last_dim_is_batch.")
        self._check_width(x1)
        self._check_width(x2)
        lead = (..., None) if diag else (..., None, None)
        outputscale = self.outputscale[lead]
        if self.has_scalar_part:
            s1 = x1[..., self._scalar_index]
            s2 = x2[..., self._scalar_index]
        if self.has_choice_part:
            c1 = x1[..., self._choice_index]
            c2 = x2[..., self._choice_index]

        def scalar_corr(ls: Tensor) -> Tensor:
            return matern52(l2_distance(s1 / ls, s2 / ls, diag=diag))

        def choice_corr(ls: Tensor) -> Tensor:
            return torch.exp(-scaled_l1_distance(c1, c2, ls, diag=diag))

        if not self.is_mixed:
            if self.has_scalar_part:
                return outputscale * scalar_corr(self.factorized_scalar_lengthscale)
            return outputscale * choice_corr(self.factorized_choice_lengthscale)
        fw = self.factorized_weight[lead]
        sw = self.scalar_weight[lead]
        fs_ls, js_ls = self.factorized_scalar_lengthscale, self.joint_scalar_lengthscale
        fc_ls, jc_ls = self.factorized_choice_lengthscale, self.joint_choice_lengthscale
        size = max(x1.shape[:-2].numel(), x2.shape[:-2].numel(), fw.shape[:-2].numel())
        size *= x1.shape[-2] * x2.shape[-2] * max(s1.shape[-1], c1.shape[-1])
        if not diag and size <= PAIRED_MAX_ELEMENTS:
            # small inputs (e.g. in an acquisition function): fewer, fused operations
            fs, js = paired_corr(s1, s2, (fs_ls, js_ls), "matern52")
            fc, jc = paired_corr(c1, c2, (fc_ls, jc_ls), "exp_l1")
        else:
            fs, js = scalar_corr(fs_ls), scalar_corr(js_ls)
            fc, jc = choice_corr(fc_ls), choice_corr(jc_ls)
        factorized = sw * fs + (1.0 - sw) * fc
        return outputscale * (fw * factorized + (1.0 - fw) * js * jc)


class _Getter:
    """Picklable prior closure returning a named hyperparameter of a kernel."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, module: ScalarChoiceKernel) -> Tensor:
        return module._get_hyperparameter(self.name)


class _Setter:
    """Picklable prior closure setting a named hyperparameter of a kernel."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, module: ScalarChoiceKernel, value: Tensor) -> None:
        module._set_hyperparameter(self.name, value)
