import torch
from botorch.models.utils.priors import BetaPrior
from botorch.utils.testing import BotorchTestCase
from gpytorch.priors import GammaPrior, HalfCauchyPrior, LogNormalPrior, NormalPrior

from ax_ext.fit.stacked_priors import StackedLogPrior
from tests.fit.test_fit import DTYPES


def _entries(dtype, B=4, seed=0):
    """(key, prior, B x m value) triples covering every family, batched prior
    parameters, a transform, and a family the table does not know."""
    gen = torch.Generator().manual_seed(seed)
    tk = {"dtype": dtype}

    def value(m):  # in (0.05, 0.95): the support of every prior below
        return torch.rand(B, m, generator=gen, dtype=dtype) * 0.9 + 0.05

    return [
        ("ls1", LogNormalPrior(torch.tensor(1.2, **tk), torch.tensor(0.7, **tk)), value(5)),
        ("ls2", LogNormalPrior(torch.rand(3, **tk), torch.rand(3, **tk) + 0.5), value(3)),
        ("noise", LogNormalPrior(-4.0, 1.0), value(1)),  # float32 parameters
        ("os", GammaPrior(torch.tensor(3.0, **tk), torch.tensor(6.0, **tk)), value(1)),
        ("mean", NormalPrior(torch.tensor(-0.5, **tk), torch.tensor(2.0, **tk)), value(2)),
        ("w1", BetaPrior(torch.tensor(2.0, **tk), torch.tensor(3.0, **tk)), value(1)),
        ("w2", BetaPrior(2.0, 2.0), value(1)),
        ("t", GammaPrior(torch.tensor(2.0, **tk), torch.tensor(1.0, **tk), transform=torch.exp),
         value(2)),
        ("hc", HalfCauchyPrior(torch.tensor(1.0, **tk)), value(2)),
    ]  # fmt: skip


def _reference(entries, values, members):
    total = 0.0
    for key, prior, _ in entries:
        v = values[key]
        total = total + prior.log_prob(v).reshape(v.shape[0], -1).sum(-1)
    return total


class TestStackedLogPrior(BotorchTestCase):
    def test_equals_priors_one_by_one(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                entries = _entries(dtype)
                table = StackedLogPrior(entries)
                self.assertEqual(len(table.others), 2)  # the transform and HalfCauchy
                values = {k: v.clone().requires_grad_(True) for k, _, v in entries}
                got = table(values, None)
                want = _reference(entries, values, None)
                tol = 1e-5 if dtype == torch.float32 else 1e-12
                self.assertEqual(got.shape, torch.Size([4]))
                self.assertAllClose(got, want, rtol=tol, atol=tol)
                grads = torch.autograd.grad(got.sum(), list(values.values()))
                want_grads = torch.autograd.grad(want.sum(), list(values.values()))
                for g, w in zip(grads, want_grads):
                    self.assertAllClose(g, w, rtol=tol, atol=tol)

    def test_member_subset(self):
        entries = _entries(torch.float64, B=5, seed=1)
        table = StackedLogPrior(entries)
        members = torch.tensor([3, 0])
        values = {k: v[members] for k, _, v in entries}
        self.assertAllClose(table(values, members), _reference(entries, values, members))

    def test_per_member_prior_parameters(self):
        # a batch of priors, one per member: each member's own parameters are used
        loc = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.double)
        prior = LogNormalPrior(loc, torch.ones_like(loc))
        x = torch.full((3, 2), 0.5, dtype=torch.double)
        table = StackedLogPrior([("x", prior, x)])
        want = prior.log_prob(x).sum(-1)
        self.assertAllClose(table({"x": x}, None), want)
        self.assertAllClose(table({"x": x[[2]]}, torch.tensor([2])), want[[2]])
        self.assertFalse(torch.allclose(want[0], want[2]))

    def test_same_rounding_as_gpytorch(self):
        # float32 distribution parameters (BoTorch's defaults) on float64 values
        x = torch.rand(1, 50, dtype=torch.double) * 0.98 + 0.01
        for prior in (LogNormalPrior(1.4, 1.7), NormalPrior(0.3, 0.9), BetaPrior(2.0, 2.0)):
            with self.subTest(prior=type(prior).__name__):
                got = StackedLogPrior([("x", prior, x)])({"x": x}, None)
                self.assertAllClose(got, prior.log_prob(x).sum(-1), rtol=1e-14, atol=1e-13)
        # torch evaluates a Gamma in its parameters' dtype (float32 here); so does the
        # table, with the terms summed in another order
        prior = GammaPrior(2.0, 0.15)
        got = StackedLogPrior([("x", prior, x)])({"x": x}, None)
        self.assertEqual(got.dtype, torch.float32)
        self.assertAllClose(got, prior.log_prob(x).sum(-1), rtol=1e-6, atol=1e-5)
