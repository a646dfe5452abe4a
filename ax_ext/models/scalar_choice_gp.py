r"""A single-task GP for mixed scalar / choice spaces with ScalarChoiceKernel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import InputTransform, Normalize
from botorch.models.transforms.outcome import OutcomeTransform
from botorch.utils.datasets import SupervisedDataset
from botorch.utils.types import DEFAULT, _DefaultType
from gpytorch.likelihoods import Likelihood
from gpytorch.means import Mean
from gpytorch.mlls import MarginalLogLikelihood
from gpytorch.module import Module
from torch import Tensor

from ax_ext.fit import fit_gpytorch_mll_directly
from ax_ext.kernels import LengthscalePriorSpec, ScalarChoiceKernel
from ax_ext.models._fused_loss import ScalarChoiceFusedLoss
from ax_ext.models._validation import (
    AX_ONE_HOT_INFIX,
    check_choice_columns,
    check_finite,
    check_shapes,
    resolve_dims,
)

__all__ = ["ScalarChoiceGP"]


class ScalarChoiceGP(SingleTaskGP):
    r"""A ``SingleTaskGP`` with :class:`~ax_ext.kernels.ScalarChoiceKernel`.

    Constant mean, Gaussian noise with BoTorch's ``LogNormal(-4, 1)`` noise prior
    (or fixed noise if ``train_Yvar`` is given), the factorized-plus-joint scalar /
    choice kernel, ``Normalize`` on the scalar columns only (choice columns stay
    0/1), and ``Standardize`` on the outcomes. Batched training data (e.g. the
    ``n x (n-1) x d`` leave-one-out folds of BoTorch's ``gen_loo_cv_folds``) give one
    independent set of hyperparameters per batch member; transforms are batched too,
    so no fold sees another fold's data.

    Args:
        train_X: A ``batch_shape x n x d`` tensor of training features.
        train_Y: A ``batch_shape x n x m`` tensor of training observations.
        train_Yvar: An optional ``batch_shape x n x m`` tensor of observed noise.
        scalar_dims: Columns of ``train_X`` holding scalar (continuous, integer or
            log-scaled) parameters. If only one of ``scalar_dims`` and
            ``choice_dims`` is given, the other is its complement; if neither is,
            columns whose training values are all 0 or 1 are choice columns.
        choice_dims: Columns holding one-hot / n-hot encoded choice parameters
            (values 0 or 1).
        likelihood: A likelihood; default as in ``SingleTaskGP``.
        covar_module: A kernel; default a ``ScalarChoiceKernel`` over the dims with
            ``batch_shape`` equal to the model's augmented batch shape.
        mean_module: A mean; default ``ConstantMean``.
        outcome_transform: Default ``Standardize`` (batched); ``None`` for none.
        input_transform: Default ``Normalize`` over the scalar columns (batched,
            bounds from the training data); ``None`` for none.
        scalar_lengthscale_prior: Strength name ("tight", "default", "loose",
            "looser"), ``Prior`` or ``None``, for the scalar lengthscales. See
            :mod:`ax_ext.kernels.priors`. Ignored if ``covar_module`` is given.
        choice_lengthscale_prior: The same for the choice lengthscales.
        feature_names: Optional names of the ``d`` columns, used by
            :func:`ax_ext.expressions.model_expression`.

    Example:
        >>> import torch
        >>> X = torch.cat([torch.rand(8, 2, dtype=torch.double),
        ...                torch.eye(2, dtype=torch.double)[torch.arange(8) % 2]], -1)
        >>> Y = X[:, :1].sin() + X[:, 2:3]
        >>> model = ScalarChoiceGP(X, Y)
        >>> model.scalar_dims, model.choice_dims
        ([0, 1], [2, 3])
    """

    def __init__(
        self,
        train_X: Tensor,
        train_Y: Tensor,
        train_Yvar: Tensor | None = None,
        scalar_dims: Sequence[int] | None = None,
        choice_dims: Sequence[int] | None = None,
        likelihood: Likelihood | None = None,
        covar_module: Module | None = None,
        mean_module: Mean | None = None,
        outcome_transform: OutcomeTransform | _DefaultType | None = DEFAULT,
        input_transform: InputTransform | _DefaultType | None = DEFAULT,
        scalar_lengthscale_prior: LengthscalePriorSpec = "default",
        choice_lengthscale_prior: LengthscalePriorSpec = "default",
        feature_names: Sequence[str] | None = None,
    ) -> None:
        self._validate_tensor_args(X=train_X, Y=train_Y, Yvar=train_Yvar)
        check_shapes(train_X, train_Y, train_Yvar)
        check_finite(train_X=train_X, train_Y=train_Y, train_Yvar=train_Yvar)
        scalar, choice = resolve_dims(train_X, scalar_dims, choice_dims)
        check_choice_columns(train_X, choice)
        d = train_X.shape[-1]
        if feature_names is not None:
            feature_names = [str(n) for n in feature_names]
            if len(feature_names) != d:
                raise UnsupportedError(
                    f"Expected {d} feature_names (one per column of train_X), got "
                    f"{len(feature_names)}: {feature_names!r}."
                )
        batch_shape = train_X.shape[:-2]
        if input_transform is DEFAULT:
            input_transform = (
                Normalize(d=d, indices=scalar, batch_shape=batch_shape) if scalar else None
            )
        m = train_Y.shape[-1]
        aug_batch_shape = batch_shape + torch.Size([m] if m > 1 else [])
        if covar_module is None:
            covar_module = ScalarChoiceKernel(
                scalar_dims=scalar,
                choice_dims=choice,
                batch_shape=aug_batch_shape,
                scalar_lengthscale_prior=scalar_lengthscale_prior,
                choice_lengthscale_prior=choice_lengthscale_prior,
            )
            # where the output dimension sits in each parameter (for subset_output)
            subset_batch_dict = {"mean_module.raw_constant": -1}
            for name in covar_module.hyperparameter_names:
                is_ls = name.endswith("lengthscale")
                subset_batch_dict[f"covar_module.raw_{name}"] = -3 if is_ls else -1
            if train_Yvar is None:
                subset_batch_dict["likelihood.noise_covar.raw_noise"] = -2
        else:
            subset_batch_dict = None
        super().__init__(
            train_X=train_X,
            train_Y=train_Y,
            train_Yvar=train_Yvar,
            likelihood=likelihood,
            covar_module=covar_module,
            mean_module=mean_module,
            outcome_transform=outcome_transform,
            input_transform=input_transform,
        )
        if subset_batch_dict is not None:
            self._subset_batch_dict = subset_batch_dict
        self.scalar_dims = scalar
        self.choice_dims = choice
        self.feature_names = feature_names

    def custom_fit(
        self,
        mll: MarginalLogLikelihood,
        closure: Callable | None = None,
        closure_kwargs: dict[str, Any] | None = None,
        optimizer_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> MarginalLogLikelihood:
        r"""BoTorch 0.18's fitting hook: fit with :func:`ax_ext.fit.fit_gpytorch_mll`.

        ``botorch.fit.fit_gpytorch_mll`` (and so Ax) calls this, so a
        ``ScalarChoiceGP`` is always fitted member by member with ax_ext's
        vectorized L-BFGS-B and its fused loss. Arguments are those of
        ``fit_gpytorch_mll``; an explicit ``optimizer`` goes to BoTorch's routine.
        """
        return fit_gpytorch_mll_directly(
            mll,
            closure=closure,
            closure_kwargs=closure_kwargs,
            optimizer_kwargs=optimizer_kwargs,
            **kwargs,
        )

    def fused_member_loss(self, mll: MarginalLogLikelihood) -> ScalarChoiceFusedLoss | None:
        """The fused per-member loss for ax_ext's fitter (:mod:`ax_ext.fit.protocol`)."""
        return ScalarChoiceFusedLoss.build(mll)

    @classmethod
    def construct_inputs(
        cls,
        training_data: SupervisedDataset,
        categorical_features: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        r"""Model keyword arguments from a ``SupervisedDataset`` (used by Ax).

        Choice columns are those Ax reports as ``categorical_features`` plus the
        one-hot columns produced by Ax's ``OneHot`` transform (feature names
        containing ``"_OH_PARAM_"``); every other column is scalar. Explicit
        ``scalar_dims`` / ``choice_dims`` in ``kwargs`` (Ax's ``model_options``)
        take precedence.

        Args:
            training_data: The training data, with feature names.
            categorical_features: Column indices Ax treats as categorical.
            **kwargs: Other model options, passed to the constructor.

        Returns:
            A dict of keyword arguments for ``ScalarChoiceGP``.
        """
        inputs = super().construct_inputs(training_data=training_data)
        names = list(training_data.feature_names)
        if "scalar_dims" not in kwargs and "choice_dims" not in kwargs:
            choice = set(categorical_features or [])
            choice |= {i for i, n in enumerate(names) if AX_ONE_HOT_INFIX in n}
            kwargs["choice_dims"] = sorted(choice)
            kwargs["scalar_dims"] = [i for i in range(len(names)) if i not in choice]
        kwargs.setdefault("feature_names", names)
        return {**inputs, **kwargs}
