import torch
from botorch.models import SingleTaskGP
from botorch.models.utils.priors import BetaPrior
from botorch.utils.testing import BotorchTestCase
from gpytorch.priors import GammaPrior, HalfCauchyPrior, LogNormalPrior, NormalPrior

from ax_ext.fit.dense import prior_log_prob
from ax_ext.fit.stacked_priors import log_density
from tests.fit.test_fit import DTYPES, _data


class TestPriorLogProb(BotorchTestCase):
    def test_closed_forms_match_gpytorch(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                x = torch.rand(4, 3, dtype=dtype) * 0.9 + 0.05  # in the support of every prior
                tk = {"dtype": dtype}
                priors = [
                    LogNormalPrior(torch.tensor(1.2, **tk), torch.tensor(0.7, **tk)),
                    LogNormalPrior(torch.rand(3, **tk), torch.rand(3, **tk) + 0.5),
                    GammaPrior(torch.tensor(3.0, **tk), torch.tensor(6.0, **tk)),
                    NormalPrior(torch.tensor(-0.5, **tk), torch.tensor(2.0, **tk)),
                    BetaPrior(torch.tensor(2.0, **tk), torch.tensor(3.0, **tk)),
                    # a transform, or another prior type: gpytorch's own log_prob
                    GammaPrior(
                        torch.tensor(2.0, **tk), torch.tensor(1.0, **tk), transform=torch.exp
                    ),
                    HalfCauchyPrior(torch.tensor(1.0, **tk)),
                ]
                for prior in priors:
                    xr = x.clone().requires_grad_(True)
                    ours = log_density(prior, xr)
                    theirs = prior.log_prob(x)
                    self.assertAllClose(
                        ours, theirs, rtol=1e-5 if dtype == torch.float32 else 1e-12
                    )
                    (grad,) = torch.autograd.grad(ours.sum(), xr)
                    self.assertTrue(bool(torch.isfinite(grad).all()))

    def test_same_rounding_as_gpytorch(self):
        # float32 prior parameters (BoTorch's defaults) on float64 values: identical bits
        x = torch.rand(50, dtype=torch.double) * 0.98 + 0.01
        priors = (LogNormalPrior(1.4, 1.7), GammaPrior(1.1, 0.05), NormalPrior(0.3, 0.9))
        for prior in (*priors, BetaPrior(2.0, 2.0)):
            self.assertTrue(bool((log_density(prior, x) == prior.log_prob(x)).all()))

    def test_model_priors_per_member(self):
        X, Y = _data(batch=(3,), n=8)
        model = SingleTaskGP(X, Y)
        ours = prior_log_prob(model, 3, list(model.named_priors()))
        expected = torch.zeros(3, dtype=X.dtype)
        for _, module, prior, closure, _ in model.named_priors():
            expected = expected + prior.log_prob(closure(module)).reshape(3, -1).sum(-1)
        self.assertAllClose(ours, expected)
        self.assertAllClose(prior_log_prob(model, 3), expected)
