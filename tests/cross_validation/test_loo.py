import math

import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models import SingleTaskGP
from botorch.utils.testing import BotorchTestCase
from gpytorch.mlls import ExactMarginalLogLikelihood
from scipy.stats import spearmanr

from ax_ext.cross_validation import cv_metrics, loo_cross_validation
from ax_ext.fit import fit_gpytorch_mll
from ax_ext.models import ScalarChoiceGP
from ax_ext.synthetic import mixed_dataset

FIT = {"optimizer_kwargs": {"options": {"maxiter": 40}}}


def _data(n=9, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, generator=gen, dtype=torch.double)
    Y = (
        torch.sin(3 * X[:, :1])
        + X[:, 1:]
        + 0.05 * torch.randn(n, 1, generator=gen, dtype=torch.double)
    )
    return X, Y


def _reference(X, Y, test_idx):
    """Fit one model on the data without ``test_idx`` and predict those points."""
    keep = torch.tensor([i for i in range(X.shape[0]) if i not in set(test_idx)])
    model = SingleTaskGP(X[keep], Y[keep])
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), **FIT)
    with torch.no_grad():
        post = model.posterior(X[test_idx], observation_noise=True)
    return post.mean[:, 0], post.variance[:, 0].sqrt()


class TestLooCrossValidation(BotorchTestCase):
    def test_loo_matches_fold_by_fold_reference(self):
        X, Y = _data()
        res = loo_cross_validation(SingleTaskGP, X, Y, warm_start=False, fit_kwargs=FIT)
        self.assertEqual(len(res.fold_fits), 1)
        self.assertEqual(len(res.fold_fits[0].members), 9)
        for i in range(9):
            mean, std = _reference(X, Y, [i])
            self.assertAllClose(res.mean[i : i + 1], mean, atol=1e-6, rtol=1e-6)
            self.assertAllClose(res.std[i : i + 1], std, atol=1e-6, rtol=1e-6)
        self.assertAllClose(res.observed, Y[:, 0])
        self.assertEqual(res.metrics, cv_metrics(res.observed, res.mean, res.std))

    def test_k_fold_with_unequal_folds(self):
        X, Y = _data(n=10)
        res = loo_cross_validation(SingleTaskGP, X, Y, folds=3, warm_start=False, fit_kwargs=FIT)
        self.assertEqual(sorted(torch.bincount(res.fold).tolist()), [3, 3, 4])
        self.assertEqual(len(res.fold_fits), 2)  # one batch per training-set size
        for f in range(3):
            idx = (res.fold == f).nonzero().flatten().tolist()
            mean, std = _reference(X, Y, idx)
            self.assertAllClose(res.mean[idx], mean, atol=1e-6, rtol=1e-6)
            self.assertAllClose(res.std[idx], std, atol=1e-6, rtol=1e-6)

    def test_warm_start_and_no_refit(self):
        X, Y = _data(n=8, seed=1)
        cold = loo_cross_validation(SingleTaskGP, X, Y, warm_start=False, fit_kwargs=FIT)
        warm = loo_cross_validation(SingleTaskGP, X, Y, fit_kwargs=FIT)
        # every fold keeps the better of its warm and cold optimum
        self.assertTrue(bool((warm.fold_fits[0].losses <= cold.fold_fits[0].losses + 1e-9).all()))
        fixed = loo_cross_validation(SingleTaskGP, X, Y, refit=False, fit_kwargs=FIT)
        self.assertEqual(fixed.fold_fits, [])
        self.assertEqual(fixed.mean.shape, torch.Size([8]))

    def test_scalar_choice_gp_with_model_kwargs(self):
        data = mixed_dataset(n=10)
        res = loo_cross_validation(
            ScalarChoiceGP,
            data.X,
            data.Y,
            model_kwargs={"scalar_dims": data.scalar_dims},
            fit_kwargs=FIT,
        )
        self.assertEqual(res.fold_fits[0].path, "fused")
        self.assertTrue(math.isfinite(res.metrics["mean_log_predictive_density"]))
        self.assertEqual(len(res.to_dataframe()), 10)

    def test_bad_input(self):
        X, Y = _data(n=6)
        with self.assertRaisesRegex(UnsupportedError, "2 <= folds <= n = 6"):
            loo_cross_validation(SingleTaskGP, X, Y, folds=7)
        with self.assertRaisesRegex(UnsupportedError, "unbatched single-output"):
            loo_cross_validation(SingleTaskGP, X.expand(2, 6, 2), Y.expand(2, 6, 1))


class TestCvMetrics(BotorchTestCase):
    def test_values(self):
        obs = torch.tensor([0.0, 1.0, 2.0, 3.0])
        mean = torch.tensor([0.5, 1.0, 0.5, 3.0])
        std = torch.ones(4)
        m = cv_metrics(obs, mean, std)
        self.assertAlmostEqual(m["mse"], (0.25 + 0 + 2.25 + 0) / 4)
        self.assertAlmostEqual(m["coverage_68"], 0.75)  # |0.5 - 2.0| / 1 > 1
        self.assertAlmostEqual(m["coverage_95"], 1.0)
        expected = -0.5 * ((obs - mean) ** 2).mean() - 0.5 * math.log(2 * math.pi)
        self.assertAlmostEqual(m["mean_log_predictive_density"], float(expected))
        self.assertAlmostEqual(m["rank_correlation"], float(spearmanr(obs, mean).statistic))
        self.assertTrue(math.isnan(cv_metrics(obs[:2], mean[:2], std[:2])["rank_correlation"]))


class TestWarmStartFullOnly(BotorchTestCase):
    def test_warm_start_full_only(self):
        X, Y = _data(n=7, seed=2)
        calls = []

        def fit(mll, **kwargs):
            calls.append(kwargs.get("warm_start"))
            return fit_gpytorch_mll(mll, **kwargs)

        res = loo_cross_validation(SingleTaskGP, X, Y, warm_start="full", fit=fit, fit_kwargs=FIT)
        self.assertIsNone(calls[0])  # the full-data fit
        self.assertIsInstance(calls[1], SingleTaskGP)  # folds start from it alone
        self.assertEqual(res.fold_fits[0].members[0].attempts, 1)
