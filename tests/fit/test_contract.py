"""The drop-in contract, per model family: where BoTorch's ``fit_gpytorch_mll``
fits a model, ax_ext's fits the same copy without an exception and to a training
MLL no lower than BoTorch's by more than 1e-3 per member, on the path
``docs/fitting.md#paths`` names for it."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import botorch.fit
import torch
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models import (
    ModelListGP,
    MultiTaskGP,
    SingleTaskGP,
    SingleTaskMultiFidelityGP,
    SingleTaskVariationalGP,
)
from botorch.models.contextual import LCEAGP
from botorch.models.gp_regression_mixed import MixedSingleTaskGP
from botorch.models.kernels.orthogonal_additive_kernel import OrthogonalAdditiveKernel
from botorch.models.map_saas import EnsembleMapSaasSingleTaskGP
from botorch.models.pairwise_gp import PairwiseGP, PairwiseLaplaceMarginalLogLikelihood
from botorch.models.transforms.input import Normalize, Warp
from botorch.utils.testing import BotorchTestCase
from gpytorch.kernels import RBFKernel
from gpytorch.mlls import (
    ExactMarginalLogLikelihood,
    MarginalLogLikelihood,
    SumMarginalLogLikelihood,
    VariationalELBO,
)

from ax_ext import ScalarChoiceGP
from ax_ext.fit import fit_gpytorch_mll, get_fit_result

#: iteration cap for both fitters (the problems are small: both converge well before)
CAP = {"options": {"maxiter": 100}}
TOL = 1e-3


def _data(n=12, d=3, seed=0, dtype=torch.double):
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=gen, dtype=dtype)
    Y = (X @ torch.linspace(1.0, 2.0, d, dtype=dtype)).sin().unsqueeze(-1)
    return X, Y + 0.05 * torch.randn(n, 1, generator=gen, dtype=dtype)


def _training_mll(mll: MarginalLogLikelihood) -> torch.Tensor:
    """The fitted MLL per member, as BoTorch's loss closure computes it."""
    from botorch.optim.closures import get_loss_closure

    mll.train()
    with torch.no_grad():
        value = -get_loss_closure(mll)()
    mll.eval()
    return value.reshape(-1)


def _list_mll(mll: SumMarginalLogLikelihood) -> torch.Tensor:
    return torch.cat([_training_mll(sub) for sub in mll.mlls])


class TestDropInContract(BotorchTestCase):
    def _check(
        self,
        make: Callable[[], MarginalLogLikelihood],
        path: str,
        measure: Callable[[MarginalLogLikelihood], torch.Tensor] = _training_mll,
        **fit_kwargs,
    ) -> MarginalLogLikelihood:
        torch.manual_seed(0)
        theirs = make()
        torch.manual_seed(0)
        ours = make()  # the same copy: built alike (PairwiseGP does not survive deepcopy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizationWarning)
            with torch.random.fork_rng():
                botorch.fit.fit_gpytorch_mll(theirs, optimizer_kwargs=CAP, **fit_kwargs)
            with torch.random.fork_rng():
                fit_gpytorch_mll(ours, optimizer_kwargs=CAP, **fit_kwargs)
        self.assertFalse(ours.training)
        result = get_fit_result(ours)
        self.assertEqual(result.path, path, result.reason)
        self.assertTrue(result.reason)
        mll_ours, mll_theirs = measure(ours), measure(theirs)
        self.assertEqual(mll_ours.shape, mll_theirs.shape)
        worst = float((mll_ours - mll_theirs).min())
        self.assertGreaterEqual(worst, -TOL, f"{path}: {mll_ours} vs BoTorch's {mll_theirs}")
        return ours

    def test_single_task_batched_subset(self):
        for dtype in (torch.float32, torch.float64):
            with self.subTest(dtype=dtype):
                X, Y = _data(dtype=dtype)
                Xb = torch.stack([X, X.flip(0), X.roll(3, 0)])
                Yb = torch.stack([Y, Y.flip(0), Y.roll(3, 0)])

                def make(Xb=Xb, Yb=Yb):
                    model = SingleTaskGP(Xb, Yb)
                    return ExactMarginalLogLikelihood(model.likelihood, model)

                self._check(make, "subset")

    def test_scalar_choice_gp_fused(self):
        X, Y = _data(n=14, d=2)
        choice = torch.eye(2, dtype=X.dtype)[torch.arange(14) % 2]
        Xc = torch.cat([X, choice], -1)

        def make():
            model = ScalarChoiceGP(Xc, Y + choice[:, :1])
            return ExactMarginalLogLikelihood(model.likelihood, model)

        self._check(make, "fused")

    def test_multi_task(self):
        for dtype in (torch.float32, torch.float64):
            with self.subTest(dtype=dtype):
                X, Y = _data(n=10, d=2, dtype=dtype)
                task = (torch.arange(10) % 2).to(X).unsqueeze(-1)

                def make(X=X, Y=Y, task=task):
                    model = MultiTaskGP(torch.cat([X, task], -1), Y + task, task_feature=-1)
                    return ExactMarginalLogLikelihood(model.likelihood, model)

                self._check(make, "joint")

    def test_multi_fidelity(self):
        X, Y = _data(n=14, d=3)

        def make():
            model = SingleTaskMultiFidelityGP(X, Y, data_fidelities=[2])
            return ExactMarginalLogLikelihood(model.likelihood, model)

        self._check(make, "joint")

    def test_pairwise_laplace(self):
        X, _ = _data(n=8, d=2)
        utility = X.sum(-1)
        pairs = torch.combinations(torch.arange(8), 2)
        better = utility[pairs[:, 0]] > utility[pairs[:, 1]]
        comparisons = torch.where(better.unsqueeze(-1), pairs, pairs.flip(-1))

        def make():
            model = PairwiseGP(X, comparisons)
            return PairwiseLaplaceMarginalLogLikelihood(model.likelihood, model)

        def measure(mll):
            mll.train()
            with torch.no_grad():
                value = mll(mll.model(mll.model.datapoints), mll.model.comparisons)
            mll.eval()
            return value.reshape(-1)

        self._check(make, "botorch", measure)

    def test_ensemble_map_saas(self):
        for dtype in (torch.float32, torch.float64):
            with self.subTest(dtype=dtype):
                X, Y = _data(n=10, d=3, dtype=dtype)

                def make(X=X, Y=Y):
                    model = EnsembleMapSaasSingleTaskGP(X, Y, num_taus=2)
                    return ExactMarginalLogLikelihood(model.likelihood, model)

                self._check(make, "full-batch")

    def test_contextual_lceagp(self):
        X, Y = _data(n=16, d=4)

        def make():
            model = LCEAGP(X, Y, None, decomposition={"a": [0, 1], "b": [2, 3]})
            return ExactMarginalLogLikelihood(model.likelihood, model)

        self._check(make, "joint")

    def test_variational(self):
        X, Y = _data(n=10, d=2)

        def make():
            model = SingleTaskVariationalGP(X, Y, inducing_points=4)
            return VariationalELBO(model.likelihood, model.model, num_data=X.shape[0])

        def measure(mll):
            mll.train()
            with torch.no_grad():
                value = mll(mll.model(X), Y.squeeze(-1))
            mll.eval()
            return value.reshape(-1)

        self._check(make, "botorch", measure)

    def test_orthogonal_additive_kernel(self):
        X, Y = _data(n=12, d=3)

        def make():
            kernel = OrthogonalAdditiveKernel(
                3, RBFKernel(), per_dim_lengthscales=False, dtype=X.dtype
            )
            model = SingleTaskGP(X, Y, covar_module=kernel, outcome_transform=None)
            return ExactMarginalLogLikelihood(model.likelihood, model)

        ours = self._check(make, "joint")
        self.assertEqual(get_fit_result(ours).coordinates, "raw")

    def test_learnable_input_transform_warp(self):
        X, Y = _data(n=14, d=2)
        Xb, Yb = torch.stack([X, X.flip(0)]), torch.stack([Y, Y.flip(0)])

        def make():
            warp = Warp(d=2, indices=[0, 1], batch_shape=torch.Size([2]))
            model = SingleTaskGP(Xb, Yb, input_transform=warp)
            return ExactMarginalLogLikelihood(model.likelihood, model)

        self._check(make, "full-batch")

    def test_model_list_mixing_families(self):
        X, Y = _data(n=10, d=3)
        cat = (torch.arange(10) % 3).to(X).unsqueeze(-1)

        def make():
            model = ModelListGP(
                SingleTaskGP(X, Y, input_transform=Normalize(d=3)),
                SingleTaskMultiFidelityGP(X, Y.cos(), data_fidelities=[2]),
                MixedSingleTaskGP(torch.cat([X, cat], -1), Y + cat, cat_dims=[3]),
                SingleTaskGP(X, -Y, input_transform=Warp(d=3, indices=[0, 1])),
            )
            return SumMarginalLogLikelihood(model.likelihood, model)

        ours = self._check(make, "model-list", _list_mll)
        parts = [p.path for p in get_fit_result(ours).parts]
        self.assertEqual(parts, ["subset", "joint", "joint", "joint"])
