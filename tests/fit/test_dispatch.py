"""How ``fit_gpytorch_mll`` chooses its path, and the validation of its options."""

from __future__ import annotations

import warnings
from unittest import mock

import botorch.fit
import pytest
import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models import SingleTaskGP, SingleTaskVariationalGP
from botorch.models.kernels.orthogonal_additive_kernel import OrthogonalAdditiveKernel
from botorch.optim.fit import fit_gpytorch_mll_torch
from botorch.utils.testing import BotorchTestCase
from gpytorch.kernels import RBFKernel, RQKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood, VariationalELBO
from gpytorch.priors import GammaPrior

from ax_ext import ScalarChoiceGP
from ax_ext.fit import FitOptions, fit_gpytorch_mll, fit_mll_members, get_fit_result
from ax_ext.fit.options import parse_fit_arguments
from tests.fit.test_fit import FAST, _data, _mll


def _scalar_choice_mll():
    X, Y = _data(n=12, d=2)
    choice = torch.eye(2, dtype=X.dtype)[torch.arange(12) % 2]
    model = ScalarChoiceGP(torch.cat([X, choice], -1), Y)
    return ExactMarginalLogLikelihood(model.likelihood, model)


class _MixingRBF(RBFKernel):
    """An RBF kernel whose batch members share their lengthscales' mean: members
    that look independent by shape but are not."""

    def forward(self, x1, x2, **params):
        ls = self.lengthscale.mean(0, keepdim=True).expand_as(self.lengthscale)
        return torch.exp(
            -0.5 * ((x1.unsqueeze(-2) - x2.unsqueeze(-3)) / ls.unsqueeze(-2)).pow(2).sum(-1)
        )


class _WrongFused(SingleTaskGP):
    """A SingleTaskGP whose fused loss is off by a constant: it must not be used."""

    def fused_member_loss(self, mll):
        from ax_ext.fit._losses import subset_loss
        from ax_ext.fit._params import build_layout

        loss = subset_loss(mll, build_layout(mll, self.train_targets.shape[:-1]))
        return lambda params, members: loss(params, members) + 0.5


class TestPaths(BotorchTestCase):
    def test_explicit_optimizer_reaches_botorch_once(self):
        # ScalarChoiceGP.custom_fit hands the fit to ax_ext, which must hand an explicit
        # optimizer (or another SciPy method) to BoTorch's routine once, not loop
        for kwargs in (
            {"optimizer": fit_gpytorch_mll_torch, "optimizer_kwargs": {"step_limit": 3}},
            {"optimizer_kwargs": {"method": "TNC"}},
        ):
            with self.subTest(kwargs=kwargs):
                for entry in (fit_gpytorch_mll, botorch.fit.fit_gpytorch_mll):
                    mll = _scalar_choice_mll()
                    with (
                        mock.patch.object(
                            botorch.fit, "_fit_fallback", wraps=botorch.fit._fit_fallback
                        ) as spied,
                        warnings.catch_warnings(),
                    ):
                        warnings.simplefilter("ignore", OptimizationWarning)
                        entry(mll, **kwargs)
                    self.assertEqual(spied.call_count, 1)
                    self.assertEqual(get_fit_result(mll).path, "botorch")
                    self.assertFalse(mll.training)

    def test_with_ax_ext_swapped_into_botorch(self):
        # BoTorch-based code may have ax_ext's function in botorch.fit's place: the
        # routes to BoTorch's routine must not come back to it
        X, Y = _data(n=10, d=2)
        with mock.patch.object(botorch.fit, "fit_gpytorch_mll", fit_gpytorch_mll):
            model = SingleTaskVariationalGP(X, Y, inducing_points=4)
            mll = VariationalELBO(model.likelihood, model.model, num_data=10)
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": 5}})
            self.assertEqual(get_fit_result(mll).path, "botorch")
            mll = _scalar_choice_mll()
            fit_gpytorch_mll(
                mll, optimizer=fit_gpytorch_mll_torch, optimizer_kwargs={"step_limit": 3}
            )
            self.assertEqual(get_fit_result(mll).path, "botorch")

    def test_subset_path_only_for_known_modules(self):
        X, Y = _data(batch=(3,), n=10)
        model = SingleTaskGP(
            X,
            Y,
            covar_module=ScaleKernel(
                RQKernel(batch_shape=torch.Size([3])), batch_shape=torch.Size([3])
            ),
        )
        mll = fit_gpytorch_mll(
            ExactMarginalLogLikelihood(model.likelihood, model), optimizer_kwargs=FAST
        )
        res = get_fit_result(mll)
        self.assertEqual(res.path, "full-batch")
        self.assertIn("RQKernel", res.reason)
        self.assertEqual(len(res.members), 3)
        self.assertEqual(res.coordinates, "raw")

    def test_dependent_members_are_one_problem(self):
        X, Y = _data(batch=(3,), n=10)
        kernel = _MixingRBF(ard_num_dims=3, batch_shape=torch.Size([3]))
        model = SingleTaskGP(X, Y, covar_module=kernel)
        mll = fit_gpytorch_mll(
            ExactMarginalLogLikelihood(model.likelihood, model), optimizer_kwargs=FAST
        )
        res = get_fit_result(mll)
        self.assertEqual(res.path, "joint")
        self.assertIn("depends on other members", res.reason)
        self.assertEqual(len(res.members), 1)

    def test_a_fused_loss_that_differs_is_not_used(self):
        X, Y = _data(batch=(2,), n=10)
        model = _WrongFused(X, Y)
        with self.assertLogs("ax_ext.fit._dispatch", level="WARNING") as logs:
            mll = fit_gpytorch_mll(
                ExactMarginalLogLikelihood(model.likelihood, model), optimizer_kwargs=FAST
            )
        self.assertIn("differs from BoTorch's loss", logs.output[0])
        self.assertEqual(get_fit_result(mll).path, "subset")

    def test_infinite_loss_with_finite_gradient_goes_to_botorch(self):
        # a Gamma prior on the second-order coefficients sees a structural zero: the
        # loss is inf everywhere, its gradient finite; BoTorch's routine still steps
        X, Y = _data(n=6, d=3)
        kernel = OrthogonalAdditiveKernel(
            3,
            RBFKernel(),
            second_order=True,
            per_dim_lengthscales=False,
            coeffs_2_prior=GammaPrior(3.0, 6.0),
            dtype=X.dtype,
        )
        model = SingleTaskGP(X, Y, covar_module=kernel)
        mll = fit_gpytorch_mll(
            ExactMarginalLogLikelihood(model.likelihood, model),
            optimizer_kwargs={"options": {"maxiter": 2}},
        )
        res = get_fit_result(mll)
        self.assertEqual(res.path, "botorch")
        self.assertIn("not finite", res.reason)
        with self.assertRaisesRegex(UnsupportedError, "cannot fit this model"):
            fit_mll_members(ExactMarginalLogLikelihood(model.likelihood, model))

    def test_fit_mll_members_takes_exact_gps_only(self):
        X, Y = _data(n=10, d=2)
        model = SingleTaskVariationalGP(X, Y, inducing_points=4)
        with self.assertRaisesRegex(UnsupportedError, "approximate"):
            fit_mll_members(VariationalELBO(model.likelihood, model.model, num_data=10))
        result = fit_mll_members(_mll(X, Y), FitOptions(maxiter=40))
        self.assertEqual(result.path, "subset")
        self.assertEqual(result.coordinates, "log")

    def test_scalar_choice_gp_default_restarts(self):
        mll = fit_gpytorch_mll(_scalar_choice_mll(), optimizer_kwargs=FAST)
        member = get_fit_result(mll).members[0]
        single = fit_gpytorch_mll(_scalar_choice_mll(), optimizer_kwargs=FAST, restarts=0)
        self.assertGreater(
            member.num_evaluations, get_fit_result(single).members[0].num_evaluations
        )
        # the model's default restarts do not reach BoTorch's routine
        with mock.patch.object(
            botorch.fit, "_fit_fallback", wraps=botorch.fit._fit_fallback
        ) as spied:
            fit_gpytorch_mll(
                _scalar_choice_mll(),
                optimizer=fit_gpytorch_mll_torch,
                optimizer_kwargs={"step_limit": 2},
            )
        self.assertNotIn("pick_best_of_all_attempts", spied.call_args.kwargs)


class TestOptions(BotorchTestCase):
    def test_unknown_and_misplaced_names(self):
        with pytest.raises(
            UnsupportedError, match=r"Unknown keyword argument\(s\) \['restart'\].*Known"
        ):
            parse_fit_arguments(None, {"restart": 2})
        with pytest.raises(UnsupportedError, match="optimizer option: pass it as optimizer_kwargs"):
            parse_fit_arguments(None, {"engine": "torch"})
        with pytest.raises(UnsupportedError, match="fit option: pass it as a keyword"):
            parse_fit_arguments({"restarts": 2}, {})
        with pytest.raises(UnsupportedError, match=r"Unknown optimizer_kwargs \['step_limit'\]"):
            parse_fit_arguments({"step_limit": 3}, {})
        with pytest.raises(UnsupportedError, match="Unknown optimizer options"):
            parse_fit_arguments({"options": {"max_iter": 3}}, {})

    def test_values_are_checked(self):
        for bad in (
            {"restarts": -1},
            {"restarts": 1.5},
            {"max_attempts": 0},
            {"restart_seed": True},
        ):
            with self.subTest(bad=bad), pytest.raises(UnsupportedError, match="Expected"):
                parse_fit_arguments(None, bad)
        for bad in (
            {"timeout_sec": -1},
            {"engine": "scipy"},
            {"log_scale": "yes"},
            {"callback": 3},
        ):
            with self.subTest(bad=bad), pytest.raises(UnsupportedError, match="Expected"):
                parse_fit_arguments(bad, {})
        with pytest.raises(UnsupportedError, match="Expected maxiter"):
            parse_fit_arguments({"options": {"maxiter": 2.5}}, {})

    def test_botorch_names(self):
        # SciPy accepts maxiter=1e3; BoTorch's batched names; pick_best_of_all_attempts
        parsed = parse_fit_arguments(
            {"options": {"maxiter": 1e3, "pgtol": 1e-4, "factr": 10.0}}, {}
        )
        self.assertEqual((parsed.options.maxiter, parsed.options.gtol), (1000, 1e-4))
        self.assertAlmostEqual(parsed.options.ftol, 10.0 * torch.finfo(torch.float64).eps)
        with pytest.raises(UnsupportedError, match="alias"):
            parse_fit_arguments({"options": {"gtol": 1e-3, "pgtol": 1e-4}}, {})
        parsed = parse_fit_arguments(None, {"pick_best_of_all_attempts": True, "max_attempts": 3})
        self.assertEqual(parsed.options.restarts, 2)
        self.assertIn(
            "warning_handler", parse_fit_arguments(None, {"warning_handler": print}).botorch_reason
        )
        self.assertIn("subset", parse_fit_arguments({"parameters": {}}, {}).botorch_reason)
        self.assertIsNone(parse_fit_arguments(None, {"sequential": False}).botorch_reason)

    def test_ax_ext_options_on_botorch_routine_are_an_error(self):
        X, Y = _data(n=10, d=2)
        with pytest.raises(UnsupportedError, match=r"\['engine'\] apply to ax_ext's L-BFGS-B"):
            fit_gpytorch_mll(
                _mll(X, Y), optimizer_kwargs={"method": "Nelder-Mead", "engine": "torch"}
            )
        with pytest.raises(UnsupportedError, match="warm_start"):
            fit_gpytorch_mll(_mll(X, Y), optimizer=fit_gpytorch_mll_torch, warm_start=_mll(X, Y))

    def test_restarts_map_to_botorch_best_of_attempts(self):
        X, Y = _data(n=10, d=2)
        with mock.patch.object(
            botorch.fit, "_fit_fallback", wraps=botorch.fit._fit_fallback
        ) as spied:
            rng = torch.random.get_rng_state()
            fit_gpytorch_mll(
                _mll(X, Y),
                optimizer=fit_gpytorch_mll_torch,
                optimizer_kwargs={"step_limit": 2},
                restarts=2,
            )
            self.assertTrue(torch.equal(rng, torch.random.get_rng_state()))
        kwargs = spied.call_args.kwargs
        self.assertEqual((kwargs["pick_best_of_all_attempts"], kwargs["max_attempts"]), (True, 3))
