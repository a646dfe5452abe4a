import itertools

import torch
from botorch.utils.testing import BotorchTestCase

from ax_ext.kernels import ScalarChoiceKernel
from ax_ext.kernels.fused import choice_operand, scalar_choice_covariance
from ax_ext.kernels.hyperparameters import ScalarChoiceHyperparameters

from .test_scalar_choice import _mixed_inputs, _randomize


def _args(kernel, X, binary=True):
    """The fused Function's arguments for one batched kernel and training inputs
    (one-hot choice columns as 0/1 columns, or as absolute differences)."""
    k, n = X.shape[0], X.shape[-2]
    s = choice = None
    if kernel.has_scalar_part:
        s = X[..., kernel.scalar_dims]
        s = s - s.mean(-2, keepdim=True)
    if kernel.has_choice_part:
        c = X[..., kernel.choice_dims]
        choice, found = choice_operand(c)
        assert found  # one-hot inputs
        if not binary:
            choice = (c.unsqueeze(-2) - c.unsqueeze(-3)).abs().reshape(k, n * n, -1)

    def get(name, flat=False):
        v = getattr(kernel, name)
        return (
            None
            if v is None
            else v.detach().clone().reshape(k, -1).squeeze(-1)
            if flat
            else v.detach().clone().reshape(k, -1)
        )

    hp = ScalarChoiceHyperparameters.from_getter(
        lambda name: get(name, flat=not name.endswith("lengthscale"))
    )
    return s, choice, binary and choice is not None, hp


CASES = (([0, 1, 2], [3, 4, 5, 6, 7]), ([0, 1, 2], []), ([], [3, 4, 5, 6, 7]))


class TestFusedCovariance(BotorchTestCase):
    def test_values_match_the_kernel(self):
        for dtype in (torch.float32, torch.float64):
            for (scalar, choice), binary in itertools.product(CASES, (True, False)):
                with self.subTest(dtype=dtype, scalar=scalar, choice=choice, binary=binary):
                    kernel = ScalarChoiceKernel(scalar, choice, batch_shape=torch.Size([3]))
                    kernel = _randomize(kernel).to(dtype)
                    X = _mixed_inputs(7, batch=(3,), dtype=dtype, seed=1)
                    want = kernel(X).to_dense()
                    got = scalar_choice_covariance(*_args(kernel, X, binary))
                    tol = 1e-5 if dtype == torch.float32 else 1e-12
                    self.assertAllClose(got, want, atol=tol, rtol=tol)

    def test_gradcheck(self):
        for (scalar, choice), binary in itertools.product(CASES, (True, False)):
            with self.subTest(scalar=scalar, choice=choice, binary=binary):
                kernel = _randomize(ScalarChoiceKernel(scalar, choice, batch_shape=torch.Size([2])))
                X = _mixed_inputs(5, batch=(2,), seed=2)
                *fixed, hp = _args(kernel.double(), X, binary)
                names = [name for name, _ in hp.items()]
                inputs = [v.requires_grad_(True) for _, v in hp.items()]

                def f(*h, fixed=fixed, names=names):
                    view = ScalarChoiceHyperparameters(**dict(zip(names, h)))
                    return scalar_choice_covariance(*fixed, view)

                self.assertTrue(torch.autograd.gradcheck(f, inputs))
