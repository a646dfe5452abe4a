import botorch.fit
import torch
from botorch.cross_validation import gen_loo_cv_folds
from botorch.utils.testing import BotorchTestCase
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import NormalPrior

from ax_ext.fit import get_fit_result
from ax_ext.fit._params import build_layout
from ax_ext.models import ScalarChoiceGP
from ax_ext.models._fused_loss import ScalarChoiceFusedLoss
from ax_ext.synthetic import mixed_dataset

FAST = {"options": {"maxiter": 40}}


def _loo_mll(n=9, cols=slice(None), **kwargs):
    data = mixed_dataset(n=n, seed=2)
    folds = gen_loo_cv_folds(train_X=data.X[:, cols], train_Y=data.Y)
    model = ScalarChoiceGP(folds.train_X, folds.train_Y, **kwargs)
    return ExactMarginalLogLikelihood(model.likelihood, model)


def _mean_constant(module):
    return module.constant


def _reference(mll):
    mll.train()
    with torch.no_grad():
        return -mll(mll.model(*mll.model.train_inputs), mll.model.train_targets)


class TestScalarChoiceFusedLoss(BotorchTestCase):
    def test_equals_gpytorch_mll(self):
        cases = {
            "mixed": {},
            "scalar only": {"cols": slice(0, 4)},
            "choice only": {"cols": slice(4, 9)},
            "fixed noise": {"train_Yvar": None},
        }
        for name, kwargs in cases.items():
            with self.subTest(name):
                if name == "fixed noise":
                    data = mixed_dataset(n=9, seed=2)
                    folds = gen_loo_cv_folds(
                        train_X=data.X, train_Y=data.Y, train_Yvar=torch.full_like(data.Y, 0.01)
                    )
                    model = ScalarChoiceGP(folds.train_X, folds.train_Y, folds.train_Yvar)
                    mll = ExactMarginalLogLikelihood(model.likelihood, model)
                else:
                    mll = _loo_mll(**kwargs)
                layout = build_layout(mll, mll.model.train_targets.shape[:-1])
                gen = torch.Generator().manual_seed(0)
                x = layout.gather() + 0.2 * torch.rand(
                    layout.gather().shape, generator=gen, dtype=torch.double
                )
                layout.scatter(x)
                fused = ScalarChoiceFusedLoss.build(mll)
                members = torch.arange(layout.num_members)
                got = fused(layout.unflatten(x), members)
                want = _reference(mll)
                self.assertAllClose(got, want, atol=1e-10, rtol=1e-10)
                some = torch.tensor([1, 4, 7])
                self.assertAllClose(
                    fused(layout.unflatten(x[some]), some), want[some], atol=1e-10, rtol=1e-10
                )
                # as many rows as members, but repeated members (several starts per
                # member): each row is its own member's loss, not the stored order's
                mixed = torch.tensor([3, 3, 0, 8, 8, 8, 1, 2, 5])
                self.assertAllClose(
                    fused(layout.unflatten(x[mixed]), mixed), want[mixed], atol=1e-10, rtol=1e-10
                )

    def test_prior_through_its_closure(self):
        # a prior the loss cannot map to a value it computes (here on the mean) is
        # evaluated through its closure, for all members and for a subset
        mll = _loo_mll()
        prior = NormalPrior(0.3, 2.0)
        mll.model.mean_module.register_prior("constant_prior", prior, _mean_constant)
        layout = build_layout(mll, mll.model.train_targets.shape[:-1])
        x = layout.gather() + 0.1
        layout.scatter(x)
        fused = ScalarChoiceFusedLoss.build(mll)
        self.assertEqual(len(fused.other_priors), 1)
        want = _reference(mll)
        got = fused(layout.unflatten(x), torch.arange(layout.num_members))
        self.assertAllClose(got, want, atol=1e-10, rtol=1e-10)
        some = torch.tensor([2, 5])
        got = fused(layout.unflatten(x[some]), some)
        self.assertAllClose(got, want[some], atol=1e-10, rtol=1e-10)

    def test_botorch_entry_point_uses_ax_ext(self):
        mll = _loo_mll()
        botorch.fit.fit_gpytorch_mll(mll, optimizer_kwargs=FAST)
        result = get_fit_result(mll.model)
        self.assertIsNotNone(result)
        self.assertEqual(result.path, "fused")
        self.assertEqual(len(result.members), 9)
        self.assertFalse(mll.training)
        # the fitted values are the fused loss's optimum: the MLL agrees with it
        self.assertAllClose(result.losses, _reference(mll), atol=1e-8, rtol=1e-8)

    def test_frozen_parameter_and_fallback(self):
        mll = _loo_mll()
        mll.model.covar_module.raw_outputscale.requires_grad_(False)
        botorch.fit.fit_gpytorch_mll(mll, optimizer_kwargs=FAST)
        self.assertEqual(get_fit_result(mll).path, "fused")
        self.assertAllClose(mll.model.covar_module.outputscale, torch.ones(9, dtype=torch.double))
        # a likelihood the fused loss does not know: the generic path takes over
        mll2 = _loo_mll(likelihood=GaussianLikelihood(batch_shape=torch.Size([9])))
        self.assertIsNotNone(ScalarChoiceFusedLoss.build(mll2))
        mll2.model.likelihood.__class__ = type("MyLikelihood", (GaussianLikelihood,), {})
        self.assertIsNone(ScalarChoiceFusedLoss.build(mll2))
        botorch.fit.fit_gpytorch_mll(mll2, optimizer_kwargs=FAST)
        self.assertEqual(get_fit_result(mll2).path, "full-batch")
