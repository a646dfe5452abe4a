"""Test-set prior covariances for ``ScalarChoiceGP``'s posterior, kept lazy.

GPyTorch 1.15's ``ExactGP._get_test_prior_mean_and_covariances`` evaluates the
full ``n x n`` test-test kernel matrix for every posterior, although most
callers want only the marginal variances (its diagonal). For a few test points
that costs little (GPyTorch evaluates problems of up to
``gpytorch.settings.max_eager_kernel_size`` training plus test points densely
anyway; BoTorch sets it to 4096), but the chunks of 4,096 points of Ax's
sensitivity analysis are ``16.7e6`` kernel entries each, through
``ScalarChoiceKernel``'s four correlations. This version leaves the
test-test block as GPyTorch's lazily evaluated kernel tensor, so the posterior
variance costs one ``diag=True`` kernel call and a full covariance (e.g. for
joint samples) is still evaluated when asked for. It is the override GPyTorch
documents for customizing test-set covariances; everything else is GPyTorch's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from gpytorch.lazy import LazyEvaluatedKernelTensor
from gpytorch.models import ExactGP
from torch import Tensor


def lazy_test_prior(
    model: ExactGP, train_inputs: Iterable[Tensor], test_inputs: Iterable[Tensor], **kwargs: Any
) -> tuple:
    """GPyTorch's test prior, with the test-test block left lazy.

    Args:
        model: The ``ExactGP`` (in eval mode, with a prediction strategy).
        train_inputs: The training inputs.
        test_inputs: The test inputs.
        **kwargs: Passed to the model's ``forward``.

    Returns:
        ``(test_mean, test_test_covar, test_train_covar, batch_shape, test_shape,
        posterior_class)``, as ``ExactGP._get_test_prior_mean_and_covariances``.
    """
    full_inputs = []
    batch_shape = train_inputs[0].shape[:-2]
    for train_input, test_input in zip(train_inputs, test_inputs, strict=True):
        if batch_shape != train_input.shape[:-2]:
            batch_shape = torch.broadcast_shapes(batch_shape, train_input.shape[:-2])
            train_input = train_input.expand(*batch_shape, *train_input.shape[-2:])
        if batch_shape != test_input.shape[:-2]:
            batch_shape = torch.broadcast_shapes(batch_shape, test_input.shape[:-2])
            train_input = train_input.expand(*batch_shape, *train_input.shape[-2:])
            test_input = test_input.expand(*batch_shape, *test_input.shape[-2:])
        full_inputs.append(torch.cat([train_input, test_input], dim=-2))
    # the joint prior (lazy kernel), as ExactGP's own method computes it
    full_output = super(ExactGP, model).__call__(*full_inputs, **kwargs)
    joint_mean, joint_covar = full_output.loc, full_output.lazy_covariance_matrix
    batch_shape = full_output.batch_shape
    joint_shape = full_output.event_shape
    num_test = joint_shape[0] - model.prediction_strategy.train_shape[0]
    test_shape = torch.Size([num_test, *joint_shape[1:]])
    num_train = model.prediction_strategy.num_train
    test_mean = joint_mean[..., num_train:]
    test_test_covar = joint_covar[..., num_train:, num_train:]
    if not isinstance(test_test_covar, LazyEvaluatedKernelTensor):
        test_test_covar = test_test_covar.evaluate_kernel()
    test_train_covar = joint_covar[..., num_train:, :num_train].evaluate_kernel()
    return (
        test_mean,
        test_test_covar,
        test_train_covar,
        batch_shape,
        test_shape,
        full_output.__class__,
    )
