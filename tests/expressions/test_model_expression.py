import re

import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models import SingleTaskGP
from botorch.utils.testing import BotorchTestCase

from ax_ext.expressions import model_expression
from ax_ext.expressions._render import fmt
from ax_ext.models import ScalarChoiceGP
from ax_ext.synthetic import mixed_dataset


def _model(batch=None, **kwargs):
    data = mixed_dataset(n=10)
    X, Y = data.X, data.Y
    if batch is not None:
        X = X.expand(batch, *X.shape).clone()
        Y = Y.expand(batch, *Y.shape) * torch.arange(1, batch + 1, dtype=Y.dtype).view(-1, 1, 1)
    model = ScalarChoiceGP(
        X, Y, scalar_dims=data.scalar_dims, feature_names=data.feature_names, **kwargs
    )
    k = model.covar_module
    # distinct, recognisable values
    k.factorized_weight = torch.full_like(k.factorized_weight, 0.625)
    k.scalar_weight = torch.full_like(k.scalar_weight, 0.25)
    k.outputscale = torch.full_like(k.outputscale, 1.75)
    ls = torch.arange(1, 5, dtype=X.dtype) * 0.5
    k.factorized_scalar_lengthscale = ls.expand_as(k.factorized_scalar_lengthscale)
    return model, data


class TestModelExpression(BotorchTestCase):
    def test_text_structure_and_numbers(self):
        model, data = _model()
        text = str(model_expression(model))
        # feature names come from the model's feature_names when set, else the call
        for name in data.feature_names:
            self.assertIn(f"compare('{name}')", text)
        self.assertIn("# Kernel: Factorized scalar vs choice parameters", text)
        self.assertIn("# Kernel: Joint scalar and choice parameters", text)
        self.assertIn("Covariance: 1.75 * sum([", text)
        self.assertIn("0.625 * sum([", text)
        self.assertIn("0.25 * matern_25(norm_l2([", text)
        self.assertIn("0.75 * exp(-norm_l1([", text)
        self.assertIn("0.375 * prod([", text)
        self.assertIn("compare('log_lr') / 0.5,", text)
        self.assertIn("compare('epochs_frac') / 2,", text)
        noise = model.likelihood.noise.item()
        self.assertIn(f"Noise: when comparing a point to itself, add {fmt(noise)}", text)
        self.assertIn(f"Mean: constant {fmt(model.mean_module.constant.item())}", text)
        offset = model.outcome_transform.means.item()
        self.assertIn(f"Outcome: y = {fmt(offset)} + ", text)
        # joint lengthscales are listed with their own values
        joint = model.covar_module.joint_choice_lengthscale.flatten().tolist()
        self.assertIn(f"compare('activation=tanh') / {fmt(joint[-1])},", text)

    def test_feature_names_argument_and_defaults(self):
        model, _ = _model()
        model.feature_names = None
        self.assertIn("compare('x8')", str(model_expression(model)))
        names = [f"p{i}" for i in range(9)]
        self.assertIn("compare('p3') / 2,", str(model_expression(model, names)))
        with self.assertRaisesRegex(UnsupportedError, "Expected 9 feature names"):
            model_expression(model, ["a", "b"])

    def test_html(self):
        model, _ = _model()
        names = [f"p{i}" for i in range(8)] + ["act=<tanh>"]
        html = model_expression(model, names)._repr_html_()
        self.assertIn("<style>", html)
        self.assertEqual(html.count('class="ax-ext-expr"'), 1)
        self.assertIn('<span class="weight" title="mixing weight in [0, 1]">0.625</span>', html)
        self.assertIn('class="lengthscale"', html)
        self.assertIn("&#x27;act=&lt;tanh&gt;&#x27;", html)  # escaped, never raw
        self.assertNotIn("<tanh>", html)
        # the text inside the HTML is the text view
        inner = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
        inner = re.sub(r"<[^>]+>", "", inner).replace("&#x27;", "'").replace("&lt;", "<")
        inner = inner.replace("&gt;", ">").strip()
        self.assertEqual(inner, str(model_expression(model, names)))

    def test_batched_members(self):
        model, _ = _model(batch=3)
        model.covar_module.outputscale = torch.tensor([1.0, 2.0, 3.0])
        expr = model_expression(model)
        self.assertEqual(len(expr), 3)
        text = str(expr)
        self.assertEqual(text.count("# ScalarChoiceGP, batch member"), 3)
        self.assertIn("batch member (2,) of batch shape (3,)", text)
        one = model_expression(model, member=1)
        self.assertEqual(len(one), 1)
        self.assertIn("Covariance: 2 * sum([", str(one))
        self.assertNotIn("Covariance: 3 * sum([", str(one))
        self.assertIn("Covariance: 3 * sum([", str(expr[2]))
        # outcome standardization differs per member (Y scaled by member)
        offsets = [m["outcome_offset"] for m in expr.members]
        self.assertAlmostEqual(offsets[1], 2 * offsets[0], places=5)
        with self.assertRaisesRegex(UnsupportedError, "does not exist"):
            model_expression(model, member=3)

    def test_records_and_dataframe(self):
        model, data = _model(batch=2)
        expr = model_expression(model)
        df = expr.to_dataframe()
        # per member: outputscale, 2 weights, 4+5+4+5 lengthscales, noise, mean
        self.assertEqual(len(df), 2 * (1 + 2 + 18 + 2))
        self.assertEqual(sorted(df["member"].unique().tolist()), [0, 1])
        ls = df[(df.parameter == "factorized_scalar_lengthscale") & (df.member == 0)]
        self.assertEqual(ls["feature"].tolist(), data.feature_names[:4])
        self.assertEqual(ls["value"].tolist(), [0.5, 1.0, 1.5, 2.0])
        # original units: lengthscale times the Normalize range of the column
        ranges = model.input_transform.coefficient[0, 0].tolist()
        for got, ls_value, width in zip(ls["value_original_units"], ls["value"], ranges):
            self.assertAlmostEqual(got, ls_value * width, places=5)
        choice = df[df.parameter == "joint_choice_lengthscale"]
        self.assertTrue(choice["value_original_units"].isna().all())
        self.assertEqual(set(df["term"].dropna()), {"factorized", "joint"})

    def test_single_part_and_fixed_noise(self):
        data = mixed_dataset(n=10)
        scalar = ScalarChoiceGP(data.X[:, :4], data.Y, train_Yvar=torch.full_like(data.Y, 0.01))
        text = str(model_expression(scalar))
        self.assertIn("Covariance: 1 * matern_25(norm_l2([", text)
        self.assertNotIn("sum([", text)
        self.assertIn("add its observed noise (mean", text)
        choice = ScalarChoiceGP(data.X[:, 4:], data.Y)
        self.assertIn("Covariance: 1 * exp(-norm_l1([", str(model_expression(choice)))

    def test_rejects_other_models(self):
        data = mixed_dataset(n=6)
        with self.assertRaisesRegex(UnsupportedError, "covar_module is a ScalarChoiceKernel"):
            model_expression(SingleTaskGP(data.X, data.Y))
