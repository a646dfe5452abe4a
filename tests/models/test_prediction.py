import gpytorch
import torch
from botorch.utils.testing import BotorchTestCase
from gpytorch.lazy import LazyEvaluatedKernelTensor
from linear_operator.operators import SumLinearOperator

from ax_ext.fit import fit_gpytorch_mll
from ax_ext.models import ScalarChoiceGP
from ax_ext.synthetic import mixed_dataset


class TestLazyTestCovariance(BotorchTestCase):
    def setUp(self):
        super().setUp()
        data = mixed_dataset(n=30, seed=0)
        self.model = ScalarChoiceGP(data.X, data.Y, scalar_dims=data.scalar_dims)
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(self.model.likelihood, self.model)
        fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": 30}})
        self.model.eval()
        # more test points than GPyTorch evaluates eagerly (max_eager_kernel_size,
        # which BoTorch sets to 4096), as in Ax's sensitivity analysis
        self.X = mixed_dataset(n=4100, seed=1).X

    def test_many_points_keep_the_test_covariance_lazy(self):
        self.model.posterior(self.X[:5])  # sets up GPyTorch's prediction strategy
        with torch.no_grad():
            mvn = self.model(self.model.transform_inputs(self.X))
        covar = mvn.lazy_covariance_matrix
        self.assertIsInstance(covar, SumLinearOperator)
        self.assertTrue(any(isinstance(op, LazyEvaluatedKernelTensor) for op in covar.linear_ops))

    def test_same_posterior_as_the_dense_path(self):
        lazy = self.model.posterior(self.X)
        with gpytorch.settings.lazily_evaluate_kernels(False):
            dense = self.model.posterior(self.X)
        self.assertFalse(
            any(
                isinstance(op, LazyEvaluatedKernelTensor)
                for op in getattr(dense.distribution.lazy_covariance_matrix, "linear_ops", [])
            )
        )
        self.assertAllClose(lazy.mean, dense.mean)
        self.assertAllClose(lazy.variance, dense.variance)
        # the full covariance is still there when asked for
        self.assertAllClose(
            lazy.distribution.covariance_matrix[:50, :50],
            dense.distribution.covariance_matrix[:50, :50],
        )

    def test_few_points_and_batches(self):
        # below GPyTorch's eager size and with a q-batch, as in acquisition functions
        X = self.X[:40].reshape(4, 10, -1)
        lazy = self.model.posterior(X)
        with gpytorch.settings.lazily_evaluate_kernels(False):
            dense = self.model.posterior(X)
        self.assertAllClose(lazy.mean, dense.mean)
        self.assertAllClose(
            lazy.distribution.covariance_matrix, dense.distribution.covariance_matrix
        )
        torch.manual_seed(0)
        self.assertEqual(lazy.rsample(torch.Size([3])).shape, torch.Size([3, 4, 10, 1]))
