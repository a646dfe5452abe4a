r"""A single-task GP for mixed scalar / choice spaces with ScalarChoiceKernel."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from botorch.exceptions.errors import BotorchTensorDimensionError, UnsupportedError
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import ChainedInputTransform, InputTransform, Normalize
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
from ax_ext.models._auto_prior import auto_prior_inputs, fit_auto, initial_strengths
from ax_ext.models._encoding import (
    ChoiceOneHot,
    ChoiceSpec,
    check_categorical,
    check_value_names,
    encode_dims,
    encoded_columns,
    expand_names,
)
from ax_ext.models._fused_loss import ScalarChoiceFusedLoss
from ax_ext.models._prediction import lazy_test_prior
from ax_ext.models._validation import (
    AX_ONE_HOT_INFIX,
    check_bounds,
    check_choice_columns,
    check_dtypes,
    check_finite,
    check_outcome_scale,
    check_shapes,
    is_binary_column,
    resolve_dims,
)
from ax_ext.models.prior_selection import AUTO

logger = logging.getLogger(__name__)

__all__ = ["SINGLE_MODEL_RESTARTS", "ScalarChoiceGP"]

#: extra starts, drawn from the priors, for fitting a single (unbatched)
#: ``ScalarChoiceGP`` (see :meth:`ScalarChoiceGP.custom_fit`)
SINGLE_MODEL_RESTARTS = 4


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
        categorical_features: Coded choice columns, ``{column: values}``, each
            holding one of its values (or ``{column: k}`` for the codes ``0 ..
            k-1``), as Ax's ``BO_MIXED`` transforms produce. The model one-hot
            encodes them with a :class:`~ax_ext.models.ChoiceOneHot` input
            transform, so the kernel's choice part sees one 0/1 column per value;
            ``scalar_dims``, ``choice_dims``, ``bounds`` and ``feature_names`` refer
            to the columns of ``train_X`` as given, while the kernel's dims and
            ``self.feature_names`` (``"name=value"``) refer to the encoded columns.
        likelihood: A likelihood; default as in ``SingleTaskGP``.
        covar_module: A kernel; default a ``ScalarChoiceKernel`` over the dims with
            ``batch_shape`` equal to the model's augmented batch shape.
        mean_module: A mean; default ``ConstantMean``.
        outcome_transform: Default ``Standardize`` (batched); ``None`` for none.
        input_transform: Default ``Normalize`` over the scalar columns (batched,
            with ``bounds`` or the training data's range); ``None`` for none. With
            ``categorical_features`` the one-hot encoding runs first.
        bounds: Optional ``2 x d`` lower and upper bounds of the columns (e.g. the
            search space's), used by the default ``Normalize`` instead of the
            training data's range.
        scalar_lengthscale_prior: Strength name ("tight", "default", "loose",
            "looser"), ``Prior`` or ``None``, for the scalar lengthscales. See
            :mod:`ax_ext.kernels.priors`. Ignored if ``covar_module`` is given.
            ``"auto"``: chosen from the data at every fit
            (:mod:`ax_ext.models.prior_selection`).
        choice_lengthscale_prior: The same for the choice lengthscales.
        feature_names: Optional names of the ``d`` columns, used by
            :func:`ax_ext.expressions.model_expression`.
        choice_value_names: Optional display names of the values of coded
            choice columns, ``{column: names}`` with one name per value in
            ``categorical_features`` (e.g. the strings behind Ax's codes ``0 ..
            k-1``), used in ``self.feature_names`` (``"optimizer=adam"`` rather
            than ``"optimizer=0"``).
        prior_selection_folds: With a prior ``"auto"``: score the candidate
            strengths by refit cross-validation with this many folds (default 5),
            or ``None`` for the cheaper closed-form leave-one-out.

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
        categorical_features: ChoiceSpec | None = None,
        bounds: Tensor | None = None,
        choice_value_names: Mapping[int, Sequence[str]] | None = None,
        prior_selection_folds: int | None = 5,
    ) -> None:
        check_dtypes(train_X=train_X, train_Y=train_Y, train_Yvar=train_Yvar)
        self._validate_tensor_args(X=train_X, Y=train_Y, Yvar=train_Yvar)
        check_shapes(train_X, train_Y, train_Yvar)
        check_finite(train_X=train_X, train_Y=train_Y, train_Yvar=train_Yvar)
        check_outcome_scale(train_Y)
        auto = AUTO in (scalar_lengthscale_prior, choice_lengthscale_prior)
        candidates = self_inputs = None
        if auto:
            candidates, self_inputs = auto_prior_inputs(
                scalar_lengthscale_prior,
                choice_lengthscale_prior,
                prior_selection_folds,
                train_X=train_X,
                train_Y=train_Y,
                train_Yvar=train_Yvar,
                modules={
                    "covar_module": covar_module,
                    "likelihood": likelihood,
                    "mean_module": mean_module,
                },
                kwargs={
                    "scalar_dims": scalar_dims,
                    "choice_dims": choice_dims,
                    "feature_names": feature_names,
                    "categorical_features": categorical_features,
                    "bounds": bounds,
                    "choice_value_names": choice_value_names,
                    "outcome_transform": outcome_transform,
                    "input_transform": input_transform,
                },
            )
            # before the first fit: the fixed part's strength, else BoTorch's prior
            scalar_lengthscale_prior, choice_lengthscale_prior = initial_strengths(candidates)
        d = train_X.shape[-1]
        if feature_names is not None:
            feature_names = [str(n) for n in feature_names]
            if len(feature_names) != d:
                raise UnsupportedError(
                    f"Expected {d} feature_names (one per column of train_X), got "
                    f"{len(feature_names)}: {feature_names!r}."
                )
        if bounds is not None:
            if tuple(bounds.shape) != (2, d):
                raise BotorchTensorDimensionError(
                    f"Expected bounds of shape 2 x d = (2, {d}), got {tuple(bounds.shape)}."
                )
            check_dtypes(bounds=bounds)
            check_bounds(bounds)
        encoder = None
        X_enc = train_X
        if choice_value_names and not categorical_features:
            raise UnsupportedError(
                f"choice_value_names {dict(choice_value_names)!r} names values of coded "
                "choice columns, but categorical_features is empty; pass both."
            )
        if categorical_features:
            categorical = check_categorical(train_X, categorical_features)
            encoder, columns = ChoiceOneHot(d, categorical), encoded_columns(d, categorical)
            scalar_dims = encode_dims("scalar_dims", scalar_dims, columns, categorical)
            choice_dims = encode_dims("choice_dims", choice_dims, columns, categorical)
            if choice_dims is not None:
                encoded = {c for i in categorical for c in columns[i]}
                choice_dims = sorted(set(choice_dims) | encoded)
            if bounds is not None:
                bounds = bounds[..., [i for i in range(d) for _ in columns[i]]]
            X_enc = encoder.transform(train_X)
            value_names = check_value_names(choice_value_names or {}, categorical)
            if feature_names is not None:
                feature_names = expand_names(feature_names, categorical, value_names)
        scalar, choice = resolve_dims(X_enc, scalar_dims, choice_dims)
        check_choice_columns(X_enc, choice)
        d_enc = X_enc.shape[-1]
        batch_shape = train_X.shape[:-2]
        if input_transform is DEFAULT:
            input_transform = (
                Normalize(
                    d=d_enc,
                    indices=scalar,
                    bounds=None if bounds is None else bounds.to(train_X),
                    batch_shape=batch_shape,
                )
                if scalar
                else None
            )
        if encoder is not None:
            encoder.to(train_X)
            input_transform = (
                encoder
                if input_transform is None
                else ChainedInputTransform(encode=encoder, normalize=input_transform)
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
        #: the ``(scalar, choice)`` strengths ``"auto"`` chooses among (else ``None``)
        self.prior_candidates = candidates
        self.prior_selection_folds = prior_selection_folds
        #: the latest :class:`~ax_ext.models.prior_selection.PriorSelection` (``"auto"``)
        self.lengthscale_prior_selection = None
        self._prior_selection_inputs = self_inputs

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
        ``ScalarChoiceGP`` is always fitted by ax_ext: member by member with the
        vectorized L-BFGS-B and its fused loss, or by BoTorch's routine where the
        arguments ask for it (an explicit ``optimizer``, another ``method``), once:
        :func:`ax_ext.fit.fit_gpytorch_mll_directly` never calls ``custom_fit``
        again. Arguments are those of ``fit_gpytorch_mll``.

        With a lengthscale prior ``"auto"``, every candidate strength is fitted
        (one batched run) and the best by closed-form leave-one-out is kept
        (:mod:`ax_ext.models.prior_selection`); ``self.lengthscale_prior_selection``
        records the choice.
        """
        if self.prior_candidates is not None and closure is None:
            fit_kwargs = {"optimizer_kwargs": optimizer_kwargs, "closure_kwargs": closure_kwargs}
            selection = fit_auto(self, mll, {**fit_kwargs, **kwargs})
            if selection is not None:
                self.lengthscale_prior_selection = selection
                return mll
        return fit_gpytorch_mll_directly(
            mll,
            closure=closure,
            closure_kwargs=closure_kwargs,
            optimizer_kwargs=optimizer_kwargs,
            **kwargs,
        )

    def default_fit_options(self, mll: MarginalLogLikelihood) -> dict[str, Any]:
        r"""ax_ext's fitter's defaults for this model (:mod:`ax_ext.fit.protocol`).

        A single (unbatched) model is also started from
        :data:`SINGLE_MODEL_RESTARTS` draws of its priors, all in one vectorized
        run, and keeps the best optimum: the likelihood of a mixture of an
        additive and a joint kernel has several optima (either part can explain
        the same effect), and the default start does not always reach the best
        (``docs/fitting.md`` measures it). Pass ``restarts=0`` for a single start;
        batched models (e.g. leave-one-out folds) get no extra starts unless asked.
        """
        return {"restarts": SINGLE_MODEL_RESTARTS} if self.train_targets.dim() == 1 else {}

    def _get_test_prior_mean_and_covariances(
        self, train_inputs: Any, test_inputs: Any, **kwargs: Any
    ) -> tuple:
        """GPyTorch's test prior with the test-test covariance left lazy.

        The posterior's marginal variances then cost one diagonal kernel call
        instead of the full ``n x n`` test-test matrix (see
        :mod:`ax_ext.models._prediction`); predictions are unchanged.
        """
        return lazy_test_prior(self, train_inputs, test_inputs, **kwargs)

    def fused_member_loss(self, mll: MarginalLogLikelihood) -> ScalarChoiceFusedLoss | None:
        """The fused per-member loss for ax_ext's fitter (:mod:`ax_ext.fit.protocol`)."""
        return ScalarChoiceFusedLoss.build(mll)

    @classmethod
    def construct_inputs(
        cls,
        training_data: SupervisedDataset,
        categorical_features: Sequence[int] | ChoiceSpec | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        r"""Model keyword arguments from a ``SupervisedDataset`` (used by Ax).

        Choice columns are the one-hot columns produced by Ax's ``OneHot`` transform
        (feature names containing ``"_OH_PARAM_"``) and the columns Ax reports as
        ``categorical_features``; every other column is scalar. Categorical columns
        holding only 0/1 are used as they are; other categorical columns are
        coded choices and become ``categorical_features`` of the model, with the
        values taken from the mapping if one is given (as ``ax_ext.generation`` does,
        from Ax's search-space digest) or else from the training data (logged as a
        warning: a value never observed would be missing). Explicit ``scalar_dims`` /
        ``choice_dims`` in ``kwargs`` (Ax's ``model_options``) take precedence.

        Args:
            training_data: The training data, with feature names.
            categorical_features: Column indices Ax treats as categorical, or a
                mapping from those indices to their numbers of values.
            **kwargs: Other model options, passed to the constructor.

        Returns:
            A dict of keyword arguments for ``ScalarChoiceGP``.
        """
        inputs = super().construct_inputs(training_data=training_data)
        names = list(training_data.feature_names)
        X = training_data.X
        integer_coded: dict[int, Any] = {}
        if isinstance(categorical_features, Mapping):
            integer_coded = dict(categorical_features)
        elif categorical_features:
            binary = is_binary_column(X).tolist()
            for c in categorical_features:
                if not binary[c]:
                    integer_coded[c] = torch.unique(X[..., c]).tolist()
            if integer_coded:
                logger.warning(
                    "Coded choice columns %s came without their values; using the values "
                    "observed in the training data (%s), so a value not yet observed cannot "
                    "be modelled. Import ax_ext.generation (which passes them from the "
                    "search space) or pass categorical_features as {column: values} in "
                    "model_options.",
                    sorted(integer_coded),
                    integer_coded,
                )
        if integer_coded and "categorical_features" not in kwargs:
            kwargs["categorical_features"] = integer_coded
        if "scalar_dims" not in kwargs and "choice_dims" not in kwargs:
            choice = set(categorical_features or [])
            choice |= {i for i, n in enumerate(names) if AX_ONE_HOT_INFIX in n}
            kwargs["choice_dims"] = sorted(choice)
            kwargs["scalar_dims"] = [i for i in range(len(names)) if i not in choice]
        kwargs.setdefault("feature_names", names)
        return {**inputs, **kwargs}
