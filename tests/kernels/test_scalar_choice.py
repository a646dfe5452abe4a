import math
import pickle
import unittest

import torch
from botorch.exceptions.errors import BotorchTensorDimensionError, UnsupportedError
from botorch.utils.testing import BotorchTestCase
from gpytorch.priors import GammaPrior, LogNormalPrior
from gpytorch.test.base_kernel_test_case import BaseKernelTestCase

from ax_ext.kernels import ScalarChoiceKernel

DTYPES = (torch.float32, torch.float64)


class TestScalarChoiceKernelContract(BaseKernelTestCase, unittest.TestCase):
    """GPyTorch's kernel contract suite (active_dims, batches, getitem, pickle, dtype)."""

    seed = 0

    def create_kernel_no_ard(self, **kwargs):
        return ScalarChoiceKernel(scalar_dims=[0], choice_dims=[1], **kwargs)

    def create_kernel_ard(self, num_dims, **kwargs):
        dims = list(range(num_dims))
        return ScalarChoiceKernel(scalar_dims=dims[:-1], choice_dims=dims[-1:], **kwargs)


def _mixed_inputs(n, n_scalar=3, n_choice_groups=(3, 2), batch=(), dtype=torch.double, seed=0):
    gen = torch.Generator().manual_seed(seed)
    s = torch.rand(*batch, n, n_scalar, generator=gen, dtype=dtype)
    groups = []
    for k in n_choice_groups:
        idx = torch.randint(k, (*batch, n), generator=gen)
        groups.append(torch.eye(k, dtype=dtype)[idx])
    return torch.cat([s, *groups], dim=-1)


def _randomize(kernel, seed=0):
    """Give every hyperparameter a distinct random value."""
    gen = torch.Generator().manual_seed(seed)
    for name in kernel.hyperparameter_names:
        current = getattr(kernel, name)
        if name.endswith("weight"):
            value = 0.1 + 0.8 * torch.rand(current.shape, generator=gen)
        else:
            value = 0.3 + 2.0 * torch.rand(current.shape, generator=gen)
        setattr(kernel, name, value.to(current))
    return kernel


def _reference(kernel, x1, x2):
    """The kernel formula computed entry by entry, for one unbatched kernel."""
    sd, cd = kernel.scalar_dims, kernel.choice_dims

    def m52(r):
        return (1 + math.sqrt(5) * r + 5.0 / 3.0 * r**2) * math.exp(-math.sqrt(5) * r)

    def l2(a, b, ls):
        return math.sqrt(sum(((a[i] - b[i]) / ls[j]) ** 2 for j, i in enumerate(sd)))

    def l1(a, b, ls):
        return sum(abs(a[i] - b[i]) / ls[j] for j, i in enumerate(cd))

    os_ = kernel.outputscale.item()
    out = torch.zeros(x1.shape[0], x2.shape[0], dtype=torch.double)
    a_all, b_all = x1.double().tolist(), x2.double().tolist()
    for p, a in enumerate(a_all):
        for q, b in enumerate(b_all):
            if kernel.is_mixed:
                fw, sw = kernel.factorized_weight.item(), kernel.scalar_weight.item()
                fs = kernel.factorized_scalar_lengthscale.flatten().tolist()
                fc = kernel.factorized_choice_lengthscale.flatten().tolist()
                js = kernel.joint_scalar_lengthscale.flatten().tolist()
                jc = kernel.joint_choice_lengthscale.flatten().tolist()
                fact = sw * m52(l2(a, b, fs)) + (1 - sw) * math.exp(-l1(a, b, fc))
                joint = m52(l2(a, b, js)) * math.exp(-l1(a, b, jc))
                out[p, q] = os_ * (fw * fact + (1 - fw) * joint)
            elif kernel.has_scalar_part:
                out[p, q] = os_ * m52(l2(a, b, kernel.factorized_scalar_lengthscale.flatten()))
            else:
                out[p, q] = os_ * math.exp(
                    -l1(a, b, kernel.factorized_choice_lengthscale.flatten())
                )
    return out


class TestScalarChoiceKernel(BotorchTestCase):
    def test_formula_matches_hand_computation(self):
        for dtype in DTYPES:
            for scalar_dims, choice_dims in (
                ([0, 1, 2], [3, 4, 5, 6, 7]),
                ([0, 1, 2], None),
                (None, [3, 4, 5, 6, 7]),
                ([2, 0], [7, 3, 5]),  # unordered, partial column use
            ):
                with self.subTest(dtype=dtype, scalar=scalar_dims, choice=choice_dims):
                    k = ScalarChoiceKernel(scalar_dims, choice_dims).to(dtype)
                    _randomize(k)
                    x1 = _mixed_inputs(6, dtype=dtype, seed=1)
                    x2 = _mixed_inputs(4, dtype=dtype, seed=2)
                    got = k(x1, x2).to_dense()
                    self.assertEqual(got.dtype, dtype)
                    tol = 1e-5 if dtype == torch.float32 else 1e-10
                    self.assertAllClose(got.double(), _reference(k, x1, x2), atol=tol, rtol=tol)

    def test_positive_semi_definite(self):
        for dtype in DTYPES:
            k = _randomize(ScalarChoiceKernel([0, 1, 2], [3, 4, 5, 6, 7]).to(dtype), seed=3)
            x = _mixed_inputs(40, dtype=dtype, seed=4)
            K = k(x).to_dense().double()
            self.assertAllClose(K, K.T)
            eig = torch.linalg.eigvalsh(K)
            self.assertGreater(eig.min().item(), -1e-5 * eig.max().item())
            # n-hot codes (several bits on) and a continuous relaxation are PSD too
            x_relaxed = x.clone()
            x_relaxed[:, 3:] = torch.rand(
                40, 5, dtype=dtype, generator=torch.Generator().manual_seed(0)
            )
            eig = torch.linalg.eigvalsh(k(x_relaxed).to_dense().double())
            self.assertGreater(eig.min().item(), -1e-5 * eig.max().item())

    def test_gradcheck(self):
        k = _randomize(ScalarChoiceKernel([0, 1, 2], [3, 4, 5, 6, 7]).double(), seed=5)
        x1 = _mixed_inputs(5, seed=6)
        x2 = _mixed_inputs(4, seed=7)
        names = [n for n, _ in k.named_parameters()]
        raws = [p.detach().clone().requires_grad_(True) for p in k.parameters()]

        def f(*values):
            for name, v in zip(names, values):
                k._parameters[name] = v
            return k(x1, x2).to_dense()

        self.assertTrue(torch.autograd.gradcheck(f, raws))

        def f_diag(*values):
            for name, v in zip(names, values):
                k._parameters[name] = v
            return k(x1, x1, diag=True)

        self.assertTrue(torch.autograd.gradcheck(f_diag, raws))

    def test_batch_members_are_independent(self):
        for dtype in DTYPES:
            batch = torch.Size([4])
            k = _randomize(ScalarChoiceKernel([0, 1, 2], [3, 4, 5, 6, 7], batch_shape=batch))
            k = k.to(dtype)
            x = _mixed_inputs(7, batch=batch, dtype=dtype, seed=8)
            K = k(x).to_dense()
            self.assertEqual(K.shape, torch.Size([4, 7, 7]))
            for i in range(4):
                self.assertAllClose(K[i], k[i](x[i]).to_dense())
            # an unbatched x is broadcast over the kernel's batch
            self.assertEqual(k(x[0]).to_dense().shape, torch.Size([4, 7, 7]))
            # two batch dimensions
            k2 = ScalarChoiceKernel([0, 1, 2], [3, 4, 5, 6, 7], batch_shape=torch.Size([2, 3]))
            x2 = _mixed_inputs(5, batch=(2, 3), seed=9).to(dtype)
            self.assertEqual(k2.to(dtype)(x2).to_dense().shape, torch.Size([2, 3, 5, 5]))

    def test_diag(self):
        for dtype in DTYPES:
            k = _randomize(
                ScalarChoiceKernel([0, 1, 2], [3, 4, 5, 6, 7], batch_shape=torch.Size([3]))
            )
            k = k.to(dtype)
            x1 = _mixed_inputs(6, batch=(3,), dtype=dtype, seed=10)
            x2 = _mixed_inputs(6, batch=(3,), dtype=dtype, seed=11)
            full = k(x1, x2).to_dense()
            self.assertAllClose(k(x1, x2, diag=True), full.diagonal(dim1=-2, dim2=-1))
            # k(x, x) on the diagonal is the outputscale
            self.assertAllClose(k(x1, diag=True), k.outputscale.unsqueeze(-1).expand(3, 6))

    def test_reduces_to_the_part_that_exists(self):
        x = _mixed_inputs(6, seed=12)
        scalar_only = ScalarChoiceKernel([0, 1, 2], [])
        self.assertIsNone(scalar_only.factorized_weight)
        self.assertIsNone(scalar_only.joint_scalar_lengthscale)
        self.assertIsNone(scalar_only.factorized_choice_lengthscale)
        self.assertEqual(
            scalar_only.hyperparameter_names, ["outputscale", "factorized_scalar_lengthscale"]
        )
        # it equals the mixed kernel with both weights at 1 (and vice versa for choices)
        mixed = ScalarChoiceKernel([0, 1, 2], [3, 4, 5, 6, 7])
        mixed.factorized_weight = 1.0
        mixed.scalar_weight = 1.0
        self.assertAllClose(scalar_only(x).to_dense(), mixed(x).to_dense(), atol=1e-6)
        choice_only = ScalarChoiceKernel(None, [3, 4, 5, 6, 7])
        mixed.scalar_weight = 0.0
        self.assertAllClose(choice_only(x).to_dense(), mixed(x).to_dense(), atol=1e-6)
        with self.assertRaisesRegex(UnsupportedError, "has no factorized_weight"):
            scalar_only.factorized_weight = 0.5

    def test_properties_and_setters(self):
        k = ScalarChoiceKernel([0, 1], [2, 3, 4], batch_shape=torch.Size([2]))
        self.assertEqual(k.outputscale.shape, torch.Size([2]))
        self.assertEqual(k.factorized_weight.shape, torch.Size([2]))
        self.assertEqual(k.factorized_scalar_lengthscale.shape, torch.Size([2, 1, 2]))
        self.assertEqual(k.joint_choice_lengthscale.shape, torch.Size([2, 1, 3]))
        for name in k.hyperparameter_names:
            value = torch.full_like(getattr(k, name), 0.37)
            setattr(k, name, value)
            self.assertAllClose(getattr(k, name), value)
        # weights are kept in [0, 1] by their constraint
        k.scalar_weight = torch.tensor([0.999, 0.001])
        self.assertTrue(((k.scalar_weight > 0) & (k.scalar_weight < 1)).all())

    def test_is_stationary(self):
        # the covariance depends on x1 - x2 only: shifting both inputs changes nothing
        for dims in (([0, 1], [2, 3, 4]), ([0, 1], None), (None, [0, 1, 2])):
            k = ScalarChoiceKernel(*dims)
            self.assertTrue(k.is_stationary)
        k = ScalarChoiceKernel([0, 1], None)
        x = torch.rand(5, 2, generator=torch.Generator().manual_seed(0))
        self.assertAllClose(k(x).to_dense(), k(x + 0.3).to_dense(), atol=1e-6)

    def test_pickle_with_priors(self):
        k = _randomize(
            ScalarChoiceKernel(
                [0, 1, 2],
                [3, 4, 5, 6, 7],
                batch_shape=torch.Size([2]),
                scalar_lengthscale_prior="loose",
                choice_lengthscale_prior=GammaPrior(3.0, 6.0),
            )
        )
        k2 = pickle.loads(pickle.dumps(k))
        x = _mixed_inputs(5, seed=13)
        self.assertAllClose(k(x).to_dense(), k2(x).to_dense())
        priors = {name: prior for name, _, prior, _, _ in k2.named_priors()}
        self.assertEqual(len(priors), 7)
        self.assertIsInstance(priors["factorized_choice_lengthscale_prior"], GammaPrior)
        self.assertIsInstance(priors["joint_scalar_lengthscale_prior"], LogNormalPrior)
        # the prior closures read the live values
        for name, module, prior, closure, _ in k2.named_priors():
            self.assertTrue(torch.isfinite(prior.log_prob(closure(module))).all(), name)

    def test_priors_can_be_disabled(self):
        k = ScalarChoiceKernel(
            [0, 1],
            [2, 3],
            scalar_lengthscale_prior=None,
            choice_lengthscale_prior=None,
            outputscale_prior=None,
            factorized_weight_prior=None,
            scalar_weight_prior=None,
        )
        self.assertEqual(list(k.named_priors()), [])

    def test_active_dims(self):
        x = _mixed_inputs(5, seed=14)
        padded = torch.cat([torch.rand(5, 2, dtype=x.dtype), x], dim=-1)
        k = ScalarChoiceKernel([0, 1, 2], [3, 4, 5, 6, 7], active_dims=list(range(2, 10)))
        k_plain = ScalarChoiceKernel([0, 1, 2], [3, 4, 5, 6, 7])
        self.assertAllClose(k(padded).to_dense(), k_plain(x).to_dense())

    def test_bad_input(self):
        cases = [
            (([0, 1], [1, 2]), "both scalar_dims"),
            (([0, -1], [2]), "non-negative integer"),
            (([0, 0], [2]), "repeated"),
            (([], []), "at least one scalar or choice"),
            (([0.5], [1]), "non-negative integer"),
            (([True], [1]), "non-negative integer"),
        ]
        for (scalar, choice), msg in cases:
            with self.subTest(scalar=scalar, choice=choice):
                with self.assertRaisesRegex(UnsupportedError, msg):
                    ScalarChoiceKernel(scalar, choice)
        with self.assertRaisesRegex(UnsupportedError, "instead of `ard_num_dims`"):
            ScalarChoiceKernel([0], [1], ard_num_dims=2)
        with self.assertRaisesRegex(UnsupportedError, "Unknown lengthscale prior strength"):
            ScalarChoiceKernel([0], [1], scalar_lengthscale_prior="lose")
        with self.assertRaisesRegex(UnsupportedError, "got an object of type float"):
            ScalarChoiceKernel([0], [1], choice_lengthscale_prior=2.0)
        with self.assertRaisesRegex(UnsupportedError, "Expected a gpytorch.priors.Prior"):
            ScalarChoiceKernel([0], [1], outputscale_prior="gamma")
        k = ScalarChoiceKernel([0, 1], [4])
        with self.assertRaisesRegex(BotorchTensorDimensionError, "only 3 columns"):
            k(torch.rand(4, 3)).to_dense()


class TestPairedPath(BotorchTestCase):
    def test_small_and_large_input_paths_agree(self):
        # small inputs take the fused two-lengthscale path, large ones the matmul path
        from ax_ext.kernels import _functional, scalar_choice

        for dtype in (torch.float32, torch.float64):
            with self.subTest(dtype=dtype):
                x = _mixed_inputs(7, batch=(2,), dtype=dtype, seed=3)
                kernel = ScalarChoiceKernel([0, 1, 2], [3, 4, 5, 6, 7], batch_shape=torch.Size([2]))
                kernel = _randomize(kernel.to(dtype), seed=5)
                outs = []
                for limit in (_functional.PAIRED_MAX_ELEMENTS, 0):
                    xr = x.clone().requires_grad_(True)
                    original = scalar_choice.PAIRED_MAX_ELEMENTS
                    scalar_choice.PAIRED_MAX_ELEMENTS = limit
                    try:
                        K = kernel.forward(xr, xr[..., :5, :])
                    finally:
                        scalar_choice.PAIRED_MAX_ELEMENTS = original
                    (g,) = torch.autograd.grad(K.sum(), xr)
                    outs.append((K.detach(), g))
                tol = {"atol": 1e-5, "rtol": 1e-4} if dtype == torch.float32 else {}
                self.assertAllClose(outs[0][0], outs[1][0], **tol)
                self.assertAllClose(outs[0][1], outs[1][1], **tol)


class TestOneHotMatmulPath(BotorchTestCase):
    def test_binary_l1_distance_matches_the_difference_tensor(self):
        from ax_ext.kernels._functional import binary_l1_distance, l1_distance

        gen = torch.Generator().manual_seed(0)
        x1 = torch.randint(0, 2, (2, 9, 5), generator=gen).double()
        x2 = torch.randint(0, 2, (2, 4, 5), generator=gen).double()
        w = torch.rand(2, 1, 5, generator=gen, dtype=torch.double) + 0.1
        self.assertAllClose(binary_l1_distance(x1, x2, w), l1_distance(x1 * w, x2 * w))

    def test_large_one_hot_inputs_agree_with_small_blocks(self):
        # a large kernel matrix (one-hot choice columns: the matrix-product path)
        # equals the same entries computed block by block on the small-input path
        # and, for fractional choice values, the difference-tensor path is kept
        kernel = _randomize(ScalarChoiceKernel([0, 1, 2], [3, 4, 5, 6, 7]).double(), seed=2)
        x = _mixed_inputs(300, dtype=torch.double, seed=4)
        with torch.no_grad():
            K = kernel.forward(x, x)
            blocks = torch.cat([kernel.forward(x[i : i + 20], x[:20]) for i in range(0, 300, 20)])
            self.assertAllClose(K[:, :20], blocks)
            relaxed = x.clone()
            relaxed[:, 3:] = 0.5 * relaxed[:, 3:] + 0.25
            K_relaxed = kernel.forward(relaxed, relaxed)
            blocks = torch.cat(
                [kernel.forward(relaxed[i : i + 20], relaxed[:20]) for i in range(0, 300, 20)]
            )
            self.assertAllClose(K_relaxed[:, :20], blocks)
