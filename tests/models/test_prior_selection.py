import math

import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models import SingleTaskGP
from botorch.utils.testing import BotorchTestCase
from gpytorch.kernels import RBFKernel
from gpytorch.mlls import ExactMarginalLogLikelihood

from ax_ext.fit import fit_gpytorch_mll, get_fit_result
from ax_ext.kernels.priors import LENGTHSCALE_PRIOR_STRENGTHS, lengthscale_prior
from ax_ext.models import ScalarChoiceGP
from ax_ext.models.prior_selection import (
    AUTO_CANDIDATES,
    PriorSelection,
    candidate_strengths,
    loo_log_predictive_density,
    strength_prior,
)

FAST = {"optimizer_kwargs": {"options": {"maxiter": 60}}}


def smooth(n: int, seed: int):
    """A nearly linear function of six scalars: long lengthscales fit it."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 6, generator=g, dtype=torch.double)
    y = 0.3 * X.sum(-1) + 0.01 * torch.randn(n, generator=g, dtype=torch.double)
    return X, y.unsqueeze(-1)


def mixed(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 3, generator=g, dtype=torch.double)
    C = torch.eye(3, dtype=torch.double)[torch.randint(0, 3, (n,), generator=g)]
    y = X[:, :1].sin() + C @ torch.tensor([[0.0], [0.5], [1.0]], dtype=torch.double)
    return torch.cat([X, C], -1), y + 0.05 * torch.randn(n, 1, generator=g, dtype=torch.double)


def fit(model, **kwargs):
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), **{**FAST, **kwargs})
    return model


def mode_gp(n: int, seed: int):
    """A noisy GP draw with every lengthscale at the priors' common mode: the tight
    prior's pull towards that mode is right (refit leave-one-out agrees,
    ``benchmarks/prior_selection.py``)."""
    from ax_ext.kernels.priors import default_lengthscale_mode

    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 6, generator=g, dtype=torch.double)
    d2 = ((X.unsqueeze(-2) - X.unsqueeze(-3)) / default_lengthscale_mode(6)).square().sum(-1)
    K = torch.exp(-0.5 * d2) + 1e-8 * torch.eye(n, dtype=torch.double)
    f = torch.linalg.cholesky(K) @ torch.randn(n, generator=g, dtype=torch.double)
    return X, (f + 0.3 * torch.randn(n, generator=g, dtype=torch.double)).unsqueeze(-1)


class TestClosedFormLOO(BotorchTestCase):
    def test_matches_conditioning_on_the_other_points(self):
        g = torch.Generator().manual_seed(0)
        X = torch.rand(9, 2, generator=g, dtype=torch.double)
        Y = X.sum(-1, keepdim=True).sin() + 0.1 * torch.randn(9, 1, generator=g, dtype=torch.double)
        model = SingleTaskGP(X, Y, covar_module=RBFKernel(), outcome_transform=None)
        with torch.no_grad():
            model.covar_module.lengthscale = 0.4
            model.likelihood.noise = 0.05
        want = []
        for i in range(9):
            keep = [j for j in range(9) if j != i]
            fold = SingleTaskGP(X[keep], Y[keep], covar_module=RBFKernel(), outcome_transform=None)
            fold.load_state_dict(model.state_dict(), strict=False)
            fold.eval()
            post = fold.posterior(X[i : i + 1], observation_noise=True)
            mean, var = post.mean.item(), post.variance.item()
            want.append(-0.5 * (math.log(2 * math.pi * var) + (Y[i].item() - mean) ** 2 / var))
        got = loo_log_predictive_density(model)
        self.assertAlmostEqual(float(got), sum(want) / 9, places=8)
        self.assertTrue(model.training)  # mode restored

    def test_batched(self):
        X, Y = smooth(10, 0)
        model = SingleTaskGP(X.expand(3, 10, 6), Y.expand(3, 10, 1))
        got = loo_log_predictive_density(model)
        self.assertEqual(got.shape, torch.Size([3]))
        self.assertTrue(torch.allclose(got, got[0].expand(3)))


class TestStrengthPrior(BotorchTestCase):
    def test_each_member_is_the_named_strength(self):
        prior = strength_prior(["tight", "looser"], num_dims=5, batch_ndim=1)
        self.assertEqual(tuple(prior.loc.shape), (2, 1, 1, 1))
        for i, name in enumerate(["tight", "looser"]):
            want = lengthscale_prior(name, 5)
            self.assertAlmostEqual(float(prior.loc[i]), float(want.loc), places=5)
            self.assertAlmostEqual(float(prior.scale[i]), LENGTHSCALE_PRIOR_STRENGTHS[name])

    def test_candidates(self):
        self.assertEqual(candidate_strengths("auto", "auto")[0], ("tight", "tight"))
        self.assertEqual(candidate_strengths("loose", "auto")[-1], ("loose", "looser"))
        with self.assertRaisesRegex(UnsupportedError, "named strength"):
            candidate_strengths("auto", None)


class TestAutoPrior(BotorchTestCase):
    def test_smooth_function_gets_a_weak_prior(self):
        # a nearly linear function: the tight pull towards short lengthscales is wrong
        X, Y = smooth(30, 0)
        model = fit(ScalarChoiceGP(X, Y, scalar_lengthscale_prior="auto"))
        sel = model.lengthscale_prior_selection
        self.assertIsInstance(sel, PriorSelection)
        self.assertIn(sel.scalar, ("loose", "looser"))
        scores = dict(zip(AUTO_CANDIDATES, sel.scores.tolist(), strict=True))
        self.assertGreater(scores[sel.scalar], scores["tight"] + 0.5)

    def test_noisy_draw_at_the_mode_gets_the_tight_prior(self):
        X, Y = mode_gp(30, 0)
        model = fit(ScalarChoiceGP(X, Y, scalar_lengthscale_prior="auto"))
        sel = model.lengthscale_prior_selection
        self.assertEqual(sel.scalar, "tight")
        scores = dict(zip(AUTO_CANDIDATES, sel.scores.tolist(), strict=True))
        self.assertGreater(scores["tight"], scores["looser"] + 0.2)
        # the closed form, which does not refit, picks a weak prior here
        closed = fit(
            ScalarChoiceGP(X, Y, scalar_lengthscale_prior="auto", prior_selection_folds=None)
        )
        self.assertNotEqual(closed.lengthscale_prior_selection.scalar, "tight")

    def test_the_chosen_fit_is_kept(self):
        X, Y = mixed(20, 1)
        model = fit(
            ScalarChoiceGP(X, Y, scalar_lengthscale_prior="auto", choice_lengthscale_prior="auto")
        )
        sel = model.lengthscale_prior_selection
        self.assertEqual(sel.scores.shape, torch.Size([4]))
        self.assertEqual(int(sel.chosen), int(sel.scores.argmax()))
        self.assertEqual(sel.scalar, sel.choice)  # both auto: tied
        # the kernel now carries the chosen strength's prior
        kernel = model.covar_module
        want = lengthscale_prior(sel.scalar, len(model.scalar_dims))
        self.assertAlmostEqual(
            float(kernel.factorized_scalar_lengthscale_prior.loc), float(want.loc)
        )
        # and the chosen candidate's hyperparameters: its fitted loss is the model's
        model.train()
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with torch.no_grad():
            loss = -mll(model(*model.train_inputs), model.train_targets)
        self.assertAlmostEqual(float(loss), float(sel.losses[sel.chosen]), places=6)
        self.assertEqual(sel.criterion, "refit_5fold_mlpd")
        result = get_fit_result(model)
        self.assertEqual(len(result.members), 1)
        self.assertAlmostEqual(result.members[0].loss, float(sel.losses[sel.chosen]))
        model.eval()
        self.assertFalse(model.posterior(X[:3]).mean.isnan().any())
        self.assertEqual(sel.to_dict()["scalar_lengthscale_prior"], sel.scalar)

    def test_batched_members_choose_independently(self):
        X1, Y1 = smooth(16, 0)
        X2, Y2 = smooth(16, 1)
        X2, Y2 = X2, torch.sin(12 * X2[:, :1]) + 0.3 * torch.sin(9 * X2[:, 1:2])
        batch = fit(
            ScalarChoiceGP(
                torch.stack([X1, X2]), torch.stack([Y1, Y2]), scalar_lengthscale_prior="auto"
            )
        )
        alone = [
            fit(ScalarChoiceGP(X, Y, scalar_lengthscale_prior="auto"), restarts=0)
            for X, Y in ((X1, Y1), (X2, Y2))
        ]
        sel = batch.lengthscale_prior_selection
        self.assertEqual(sel.scalar, [a.lengthscale_prior_selection.scalar for a in alone])
        self.assertTrue(
            torch.allclose(
                sel.scores,
                torch.stack([a.lengthscale_prior_selection.scores for a in alone], -1),
                atol=1e-4,
            )
        )
        self.assertFalse(batch.posterior(torch.stack([X1, X2])[:, :2]).mean.isnan().any())

    def test_fixed_strength_is_not_selected(self):
        X, Y = mixed(12, 2)
        model = fit(ScalarChoiceGP(X, Y, scalar_lengthscale_prior="loose"))
        self.assertIsNone(model.lengthscale_prior_selection)
        self.assertIsNone(model.prior_candidates)

    def test_multi_output_keeps_the_fixed_strengths(self):
        X, Y = mixed(12, 4)
        model = fit(ScalarChoiceGP(X, torch.cat([Y, -Y], -1), scalar_lengthscale_prior="auto"))
        self.assertIsNone(model.lengthscale_prior_selection)
        want = lengthscale_prior("default", len(model.scalar_dims))
        got = model.covar_module.factorized_scalar_lengthscale_prior
        self.assertAlmostEqual(float(got.loc), float(want.loc), places=5)

    def test_bad_combinations(self):
        X, Y = mixed(8, 3)
        with self.assertRaisesRegex(UnsupportedError, "covar_module"):
            ScalarChoiceGP(X, Y, scalar_lengthscale_prior="auto", covar_module=RBFKernel())
        with self.assertRaisesRegex(UnsupportedError, "prior_selection_folds"):
            ScalarChoiceGP(X, Y, scalar_lengthscale_prior="auto", prior_selection_folds=1)
        with self.assertRaisesRegex(UnsupportedError, "named strength"):
            ScalarChoiceGP(
                X,
                Y,
                scalar_lengthscale_prior="auto",
                choice_lengthscale_prior=lengthscale_prior("tight", 3),
            )
