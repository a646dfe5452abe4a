import pickle

import torch
from botorch.cross_validation import gen_loo_cv_folds
from botorch.exceptions.errors import BotorchTensorDimensionError, InputDataError, UnsupportedError
from botorch.models.transforms.input import ChainedInputTransform
from botorch.utils.datasets import SupervisedDataset
from botorch.utils.testing import BotorchTestCase
from gpytorch.mlls import ExactMarginalLogLikelihood

from ax_ext.expressions import model_expression
from ax_ext.fit import fit_gpytorch_mll
from ax_ext.models import ChoiceOneHot, ScalarChoiceGP

WIDTHS = [32.0, 64.0, 128.0]


def coded_data(n=10, dtype=torch.double, seed=0):
    """2 scalars in [0, 10], an index-coded choice (3 values), a value-coded one."""
    gen = torch.Generator().manual_seed(seed)
    s = 10 * torch.rand(n, 2, generator=gen, dtype=dtype)
    opt = (torch.arange(n) % 3).to(dtype).unsqueeze(-1)
    width = torch.tensor(WIDTHS, dtype=dtype)[(torch.arange(n) + 1) % 3]
    X = torch.cat([s, opt, width.unsqueeze(-1)], dim=-1)
    Y = (s[:, :1] / 3).sin() + 0.5 * opt - 0.01 * width.unsqueeze(-1)
    return X, Y


class TestChoiceOneHot(BotorchTestCase):
    def test_transform(self):
        for dtype in (torch.float32, torch.float64):
            tf = ChoiceOneHot(4, {2: 3, 3: WIDTHS})
            X = torch.tensor([[0.5, 1.0, 2.0, 64.0], [0.1, 0.2, 0.0, 128.0]], dtype=dtype)
            expected = torch.tensor(
                [[0.5, 1.0, 0, 0, 1, 0, 1, 0], [0.1, 0.2, 1, 0, 0, 0, 0, 1]], dtype=dtype
            )
            self.assertAllClose(tf.transform(X), expected)
            # batch shapes pass through
            self.assertEqual(tf.transform(X.expand(5, 2, 4)).shape, torch.Size([5, 2, 8]))

    def test_off_lattice_values_mean_the_nearest_value(self):
        # consumers (BoTorch's continuous relaxation, Ax's sensitivity sampling of
        # numeric choices) evaluate coded columns between codes: the nearest value
        # is meant, ties to the smaller one (as BoTorch's round_discrete_dims)
        tf = ChoiceOneHot(3, {1: 3, 2: WIDTHS})
        X = torch.tensor(
            [[0.5, 0.4, 47.0], [0.5, 1.5, 48.0], [0.5, 7.0, 1000.0], [0.5, -2.0, 97.0]],
            dtype=torch.double,
        )
        rounded = torch.tensor(
            [[0.5, 0.0, 32.0], [0.5, 1.0, 32.0], [0.5, 2.0, 128.0], [0.5, 0.0, 128.0]],
            dtype=torch.double,
        )
        out = tf.transform(X)
        self.assertAllClose(out, tf.transform(rounded))
        # one hot column per choice column, never all-zero
        self.assertAllClose(out[:, 1:4].sum(-1), torch.ones(4, dtype=torch.double))
        self.assertAllClose(out[:, 4:].sum(-1), torch.ones(4, dtype=torch.double))

    def test_equals_and_pickle(self):
        tf = ChoiceOneHot(3, {1: WIDTHS})
        self.assertTrue(tf.equals(ChoiceOneHot(3, {1: WIDTHS})))
        self.assertFalse(tf.equals(ChoiceOneHot(3, {1: [1.0, 2.0, 3.0]})))
        self.assertTrue(pickle.loads(pickle.dumps(tf)).equals(tf))

    def test_bad_values(self):
        with self.assertRaisesRegex(UnsupportedError, "at least 2 distinct values"):
            ChoiceOneHot(2, {0: [1.0]})
        with self.assertRaisesRegex(UnsupportedError, "at least 2 distinct values"):
            ChoiceOneHot(2, {0: [1.0, 1.0]})


class TestCodedChoiceColumns(BotorchTestCase):
    def test_model_structure(self):
        X, Y = coded_data()
        model = ScalarChoiceGP(
            X, Y, categorical_features={2: 3, 3: WIDTHS}, feature_names=["a", "b", "opt", "w"]
        )
        self.assertEqual(model.scalar_dims, [0, 1])
        self.assertEqual(model.choice_dims, [2, 3, 4, 5, 6, 7])
        self.assertEqual(
            model.feature_names,
            ["a", "b", "opt=0", "opt=1", "opt=2", "w=32", "w=64", "w=128"],
        )
        self.assertIsInstance(model.input_transform, ChainedInputTransform)
        self.assertIsInstance(model.input_transform["encode"], ChoiceOneHot)

    def test_fit_predict_and_expression(self):
        for dtype in (torch.float32, torch.float64):
            X, Y = coded_data(dtype=dtype)
            bounds = torch.tensor([[0.0, 0.0, 0.0, 32.0], [10.0, 10.0, 2.0, 128.0]], dtype=dtype)
            model = ScalarChoiceGP(
                X,
                Y,
                categorical_features={2: 3, 3: WIDTHS},
                bounds=bounds,
                feature_names=["a", "b", "opt", "w"],
            )
            mll = ExactMarginalLogLikelihood(model.likelihood, model)
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": 50}})
            post = model.posterior(X[:4])
            self.assertEqual(post.mean.shape, torch.Size([4, 1]))
            self.assertTrue(torch.isfinite(post.variance).all())
            # normalization used the given bounds, not the data's range
            normalize = model.input_transform["normalize"]
            self.assertAllClose(normalize.coefficient.reshape(-1), bounds[1, :2] - bounds[0, :2])
            records = model_expression(model).to_records()
            names = {r["feature"] for r in records if r.get("feature")}
            self.assertEqual(names, {"a", "b", "opt=0", "opt=1", "opt=2", "w=32", "w=64", "w=128"})
            # scalar lengthscales in original units use the bounds' widths (10)
            row = next(r for r in records if r.get("feature") == "a")
            self.assertAlmostEqual(row["value_original_units"], 10 * row["value"], places=4)

    def test_same_as_one_hot_columns(self):
        # coded columns + ChoiceOneHot give the same covariance as one-hot input
        X, Y = coded_data()
        coded = ScalarChoiceGP(X, Y, categorical_features={2: 3, 3: WIDTHS})
        onehot_X = coded.input_transform["encode"].transform(X)
        plain = ScalarChoiceGP(onehot_X, Y, scalar_dims=[0, 1])
        coded.eval()
        plain.eval()
        self.assertAllClose(
            coded.posterior(X).mean, plain.posterior(onehot_X).mean, atol=1e-6, rtol=1e-6
        )

    def test_choice_value_names(self):
        X, Y = coded_data()
        model = ScalarChoiceGP(
            X,
            Y,
            categorical_features={2: 3, 3: WIDTHS},
            feature_names=["a", "b", "opt", "w"],
            choice_value_names={2: ["adam", "sgd", "rmsprop"]},
        )
        self.assertEqual(
            model.feature_names,
            ["a", "b", "opt=adam", "opt=sgd", "opt=rmsprop", "w=32", "w=64", "w=128"],
        )
        with self.assertRaisesRegex(UnsupportedError, "one name per value"):
            ScalarChoiceGP(
                X, Y, categorical_features={2: 3}, choice_value_names={2: ["adam", "sgd"]}
            )
        with self.assertRaisesRegex(UnsupportedError, "categorical_features is empty"):
            ScalarChoiceGP(X, Y, choice_value_names={2: ["a", "b", "c"]})

    def test_off_lattice_prediction_is_the_nearest_codes(self):
        X, Y = coded_data()
        model = ScalarChoiceGP(X, Y, categorical_features={2: 3, 3: WIDTHS})
        model.eval()
        off = X[:4].clone()
        off[:, 2] += torch.tensor([0.3, -0.4, 0.2, 0.45], dtype=X.dtype).clamp(max=0.45)
        off[:, 3] += 5.0
        on, moved = model.posterior(X[:4]), model.posterior(off)
        self.assertAllClose(on.mean, moved.mean)
        self.assertAllClose(on.variance, moved.variance)

    def test_batched_folds(self):
        X, Y = coded_data(n=8)
        folds = gen_loo_cv_folds(X, Y)
        model = ScalarChoiceGP(folds.train_X, folds.train_Y, categorical_features={2: 3, 3: WIDTHS})
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": 30}})
        self.assertEqual(model.posterior(folds.test_X).mean.shape, torch.Size([8, 1, 1]))

    def test_errors(self):
        X, Y = coded_data()
        with self.assertRaisesRegex(InputDataError, "holds \\[32.0"):
            ScalarChoiceGP(X, Y, categorical_features={3: 3})
        with self.assertRaisesRegex(
            UnsupportedError, "contains column 7, but the input has 4 columns"
        ):
            ScalarChoiceGP(X, Y, categorical_features={7: 3})
        with self.assertRaisesRegex(UnsupportedError, "also in scalar_dims"):
            ScalarChoiceGP(X, Y, categorical_features={2: 3}, scalar_dims=[0, 1, 2])
        with self.assertRaisesRegex(BotorchTensorDimensionError, "bounds of shape"):
            ScalarChoiceGP(X, Y, bounds=torch.zeros(2, 3, dtype=X.dtype))

    def test_construct_inputs(self):
        X, Y = coded_data()
        data = SupervisedDataset(X, Y, feature_names=["a", "b", "opt", "w"], outcome_names=["y"])
        # with values (as ax_ext.generation passes them)
        inputs = ScalarChoiceGP.construct_inputs(data, categorical_features={2: 3, 3: WIDTHS})
        self.assertEqual(inputs["categorical_features"], {2: 3, 3: WIDTHS})
        self.assertEqual(inputs["scalar_dims"], [0, 1])
        self.assertEqual(ScalarChoiceGP(**inputs).choice_dims, [2, 3, 4, 5, 6, 7])
        # Ax's plain list: values from the data, with a warning
        with self.assertLogs("ax_ext.models.scalar_choice_gp", "WARNING"):
            inputs = ScalarChoiceGP.construct_inputs(data, categorical_features=[2, 3])
        self.assertEqual(inputs["categorical_features"], {2: [0.0, 1.0, 2.0], 3: WIDTHS})
