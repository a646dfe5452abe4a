import logging
import math

import torch
from botorch.exceptions.errors import (
    BotorchTensorDimensionError,
    InputDataError,
    UnsupportedError,
)
from botorch.fit import fit_gpytorch_mll
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.utils.datasets import SupervisedDataset
from botorch.utils.testing import BotorchTestCase
from gpytorch.mlls import ExactMarginalLogLikelihood

from ax_ext.kernels import ScalarChoiceKernel, default_lengthscale_mode
from ax_ext.models import ScalarChoiceGP
from ax_ext.synthetic import mixed_dataset

DTYPES = (torch.float32, torch.float64)


def _fit(model, maxiter=200):
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}})
    return model


class TestScalarChoiceGP(BotorchTestCase):
    def test_structure(self):
        data = mixed_dataset(n=12)
        model = ScalarChoiceGP(data.X, data.Y, scalar_dims=data.scalar_dims)
        self.assertEqual(model.choice_dims, data.choice_dims)
        self.assertIsInstance(model.covar_module, ScalarChoiceKernel)
        self.assertEqual(model.covar_module.scalar_dims, data.scalar_dims)
        self.assertIsInstance(model.input_transform, Normalize)
        self.assertEqual(model.input_transform.indices.tolist(), data.scalar_dims)
        self.assertIsInstance(model.outcome_transform, Standardize)
        self.assertIsNotNone(model.likelihood.noise_covar.noise_prior)
        # choice columns reach the kernel untouched, scalar columns are normalized
        model.train()
        tX = model.transform_inputs(data.X)
        self.assertAllClose(tX[:, 4:], data.X[:, 4:])
        self.assertAllClose(tX[:, :4].min(0).values, torch.zeros(4, dtype=tX.dtype))
        self.assertAllClose(tX[:, :4].max(0).values, torch.ones(4, dtype=tX.dtype))

    def test_dims_inferred_given_or_complemented(self):
        data = mixed_dataset(n=12)
        with self.assertLogs("ax_ext.models._validation", level=logging.INFO) as logs:
            inferred = ScalarChoiceGP(data.X, data.Y)
        self.assertIn("Inferred column roles", logs.output[0])
        self.assertEqual(
            (inferred.scalar_dims, inferred.choice_dims), ([0, 1, 2, 3], data.choice_dims)
        )
        given_choice = ScalarChoiceGP(data.X, data.Y, choice_dims=[4, 5, 6, 7, 8])
        self.assertEqual(given_choice.scalar_dims, [0, 1, 2, 3])
        both = ScalarChoiceGP(
            data.X, data.Y, scalar_dims=[0, 1, 2, 3], choice_dims=[4, 5, 6, 7, -1]
        )
        self.assertEqual(both.choice_dims, [4, 5, 6, 7, 8])
        scalar_only = ScalarChoiceGP(data.X[:, :4], data.Y)
        self.assertEqual(scalar_only.choice_dims, [])
        self.assertFalse(scalar_only.covar_module.is_mixed)
        choice_only = ScalarChoiceGP(data.X[:, 4:], data.Y)
        self.assertIsNone(getattr(choice_only, "input_transform", None))
        self.assertEqual(
            choice_only.covar_module.hyperparameter_names[1], "factorized_choice_lengthscale"
        )

    def test_fit_predicts_better_than_constant(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                data = mixed_dataset(n=240, seed=1, dtype=dtype)
                X, Y, Xt, Yt = data.X[:40], data.Y[:40], data.X[40:], data.Y[40:]
                model = _fit(ScalarChoiceGP(X, Y, scalar_dims=data.scalar_dims))
                with torch.no_grad():
                    post = model.posterior(Xt)
                self.assertEqual(post.mean.dtype, dtype)
                rmse = (post.mean - Yt).square().mean().sqrt().item()
                rmse_const = (Y.mean() - Yt).square().mean().sqrt().item()
                self.assertLess(rmse, 0.3 * rmse_const)

    def test_custom_fit_restarts_single_models(self):
        from ax_ext.fit import get_fit_result
        from ax_ext.models.scalar_choice_gp import SINGLE_MODEL_RESTARTS

        data = mixed_dataset(n=16, seed=3)
        opts = {"options": {"maxiter": 40}}

        def evals(X, Y, **kwargs):
            model = ScalarChoiceGP(X, Y, scalar_dims=data.scalar_dims)
            mll = ExactMarginalLogLikelihood(model.likelihood, model)
            fit_gpytorch_mll(mll, optimizer_kwargs=opts, **kwargs)  # BoTorch's entry
            res = get_fit_result(mll)
            return [m.num_evaluations for m in res.members], res.losses

        # one model: the default start plus SINGLE_MODEL_RESTARTS prior draws
        default, loss = evals(data.X, data.Y)
        explicit, loss_explicit = evals(data.X, data.Y, restarts=SINGLE_MODEL_RESTARTS)
        single, loss_single = evals(data.X, data.Y, restarts=0)
        self.assertEqual(default, explicit)
        self.assertAllClose(loss, loss_explicit, atol=0, rtol=0)
        self.assertGreater(default[0], single[0])
        self.assertLessEqual(float(loss), float(loss_single) + 1e-8)
        # batched models (e.g. folds) get no extra starts unless asked
        X = data.X.expand(2, *data.X.shape).clone()
        Y = data.Y.expand(2, *data.Y.shape).clone()
        self.assertEqual(evals(X, Y)[0], evals(X, Y, restarts=0)[0])

    def test_batched_folds_and_multi_output(self):
        data = mixed_dataset(n=10)
        X = data.X.expand(3, 10, 9).clone()
        Y = data.Y.expand(3, 10, 1) + torch.arange(3, dtype=data.Y.dtype).view(3, 1, 1)
        model = ScalarChoiceGP(X, Y, scalar_dims=data.scalar_dims)
        self.assertEqual(model.covar_module.batch_shape, torch.Size([3]))
        self.assertEqual(model.input_transform.batch_shape, torch.Size([3]))
        self.assertEqual(model.outcome_transform.means.shape, torch.Size([3, 1, 1]))
        with torch.no_grad():
            self.assertEqual(model.posterior(data.X[:4]).mean.shape, torch.Size([3, 4, 1]))
        # two outputs: one kernel member per output, and subset_output works
        Y2 = torch.cat([data.Y, -data.Y], dim=-1)
        model2 = ScalarChoiceGP(data.X, Y2, scalar_dims=data.scalar_dims)
        self.assertEqual(model2.covar_module.batch_shape, torch.Size([2]))
        sub = model2.subset_output([1])
        self.assertEqual(sub.covar_module.batch_shape, torch.Size([]))
        self.assertAllClose(sub.covar_module.outputscale, model2.covar_module.outputscale[1])

    def test_looser_prior_lets_lengthscales_move_further(self):
        # one fast-varying scalar column and three irrelevant ones: the data want a
        # short lengthscale on x0 and long ones elsewhere, far from the prior mode
        gen = torch.Generator().manual_seed(0)
        s = torch.rand(50, 4, generator=gen, dtype=torch.double)
        c = torch.eye(2, dtype=torch.double)[torch.randint(2, (50,), generator=gen)]
        X = torch.cat([s, c], dim=-1)
        Y = torch.sin(6 * math.pi * s[:, :1]) + 0.5 * c[:, :1]
        deviation = {}
        for strength in ("tight", "default", "loose"):
            model = _fit(
                ScalarChoiceGP(
                    X,
                    Y,
                    scalar_dims=[0, 1, 2, 3],
                    scalar_lengthscale_prior=strength,
                    choice_lengthscale_prior=strength,
                )
            )
            k = model.covar_module
            devs = []
            for name, part in k.lengthscale_names_and_parts():
                mode = default_lengthscale_mode(4 if part == "scalar" else 2)
                devs.append((getattr(k, name).detach().log() - math.log(mode)).abs().flatten())
            deviation[strength] = torch.cat(devs).mean().item()
        self.assertLess(deviation["tight"], deviation["default"])
        self.assertLess(deviation["default"], deviation["loose"])

    def test_construct_inputs_from_ax_dataset(self):
        data = mixed_dataset(n=8)
        names = ["lr", "wd", "bs", "ep", "opt_OH_PARAM_0", "opt_OH_PARAM_1", "opt_OH_PARAM_2"]
        names += ["act_OH_PARAM_0", "act_OH_PARAM_1"]
        ds = SupervisedDataset(data.X, data.Y, feature_names=names, outcome_names=["loss"])
        inputs = ScalarChoiceGP.construct_inputs(ds)
        self.assertEqual(inputs["choice_dims"], [4, 5, 6, 7, 8])
        self.assertEqual(inputs["scalar_dims"], [0, 1, 2, 3])
        self.assertEqual(inputs["feature_names"], names)
        model = ScalarChoiceGP(**inputs)
        self.assertEqual(model.feature_names, names)
        # categorical_features, as Ax passes them for mixed spaces, are choice columns
        ds2 = SupervisedDataset(
            data.X, data.Y, feature_names=[f"x{i}" for i in range(9)], outcome_names=["y"]
        )
        inputs2 = ScalarChoiceGP.construct_inputs(ds2, categorical_features=[4, 5, 6, 7, 8])
        self.assertEqual(inputs2["choice_dims"], [4, 5, 6, 7, 8])
        # explicit model options win
        inputs3 = ScalarChoiceGP.construct_inputs(ds2, scalar_dims=list(range(9)))
        self.assertNotIn("choice_dims", inputs3)

    def test_bad_input(self):
        data = mixed_dataset(n=8)
        X, Y = data.X, data.Y
        nan_X = X.clone()
        nan_X[2, 1] = float("nan")
        inf_Y = Y.clone()
        inf_Y[5, 0] = float("inf")
        bad_choice = X.clone()
        bad_choice[0, 4] = 0.5
        int_coded = torch.cat([X[:, :4], X[:, 4:7].argmax(-1, keepdim=True).to(X)], -1)
        cases = [
            (
                {"train_X": nan_X, "train_Y": Y},
                InputDataError,
                r"finite values in train_X.*rows \[2\]",
            ),
            ({"train_X": X, "train_Y": inf_Y}, InputDataError, r"train_Y.*rows \[5\]"),
            (
                {"train_X": bad_choice, "train_Y": Y, "choice_dims": [4, 5, 6, 7, 8]},
                InputDataError,
                r"columns \[4\] hold other values",
            ),
            (
                {"train_X": int_coded, "train_Y": Y, "choice_dims": [4]},
                InputDataError,
                "one 0/1 column per value",
            ),
            (
                {"train_X": X, "train_Y": Y, "scalar_dims": [0, 1], "choice_dims": [1, 4]},
                UnsupportedError,
                "in both",
            ),
            (
                {"train_X": X, "train_Y": Y, "scalar_dims": [0, 9]},
                UnsupportedError,
                "has 9 columns",
            ),
            (
                {"train_X": X, "train_Y": Y, "scalar_dims": [0, 1], "choice_dims": [4, 5, 6, 7, 8]},
                UnsupportedError,
                r"Columns \[2, 3\].*in neither",
            ),
            ({"train_X": X, "train_Y": Y[:5]}, BotorchTensorDimensionError, "one row of train_Y"),
            ({"train_X": X, "train_Y": Y[:, 0]}, BotorchTensorDimensionError, "explicit output"),
            (
                {"train_X": X, "train_Y": Y, "train_Yvar": torch.ones(8, 2, dtype=X.dtype)},
                BotorchTensorDimensionError,
                "Expected Yvar with shape",
            ),
            (
                {"train_X": X, "train_Y": Y, "feature_names": ["a"]},
                UnsupportedError,
                "Expected 9 feature_names",
            ),
        ]
        for kwargs, error, msg in cases:
            with self.subTest(msg=msg), self.assertRaisesRegex(error, msg):
                ScalarChoiceGP(**kwargs)

    def test_bad_bounds_dtypes_and_overflowing_targets(self):
        data = mixed_dataset(n=8)
        X, Y = data.X, data.Y
        bounds = torch.stack([torch.zeros(9), torch.ones(9)]).to(X)
        swapped = bounds.clone()
        swapped[:, 2] = torch.tensor([1.0, 0.0]).to(X)
        cases = [
            (
                {"train_X": X, "train_Y": Y, "bounds": swapped},
                r"lower < upper.*columns \[2\].*lower 1, upper 0",
            ),
            ({"train_X": X, "train_Y": Y * 1e300}, r"values reach [\d.]+e\+(299|300).*Rescale"),
            ({"train_X": (X * 10).long(), "train_Y": Y}, r"train_X to be a floating-point.*int64"),
            ({"train_X": X, "train_Y": (Y * 10).long()}, r"train_Y to be a floating-point.*int64"),
        ]
        for kwargs, msg in cases:
            with self.subTest(msg=msg), self.assertRaisesRegex(InputDataError, msg):
                ScalarChoiceGP(**kwargs)
        # targets large but whose variance fits are fine
        ScalarChoiceGP(X, Y * 1e150, bounds=bounds)
