import torch
from botorch.models import SingleTaskGP
from botorch.utils.testing import BotorchTestCase
from gpytorch.constraints import GreaterThan, Interval, Positive
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood

from ax_ext.fit import fit_gpytorch_mll, get_fit_result
from ax_ext.fit._coordinates import make_coordinates
from ax_ext.fit._params import build_layout

DTYPES = (torch.float32, torch.float64)


def _folds(n=24, d=6, folds=8, seed=0, dtype=torch.double):
    """Leave-one-out-like members: ``folds`` data sets sharing most points; only the
    first two of ``d`` inputs matter, so the other lengthscales grow large."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=gen, dtype=dtype)
    y = torch.sin(6 * X[:, 0]) + (X[:, 1] - 0.5) ** 2
    y = y + 0.05 * torch.randn(n, generator=gen, dtype=dtype)
    keep = [torch.cat([torch.arange(i), torch.arange(i + 1, n)]) for i in range(folds)]
    return torch.stack([X[k] for k in keep]), torch.stack([y[k] for k in keep]).unsqueeze(-1)


def _scaled_mll(X, Y, noise_constraint=None):
    """A SingleTaskGP with a softplus-enforced outputscale (Positive) and an interval."""
    covar = ScaleKernel(
        MaternKernel(
            nu=2.5,
            ard_num_dims=X.shape[-1],
            batch_shape=X.shape[:-2],
            lengthscale_constraint=Interval(0.01, 50.0),
        ),
        batch_shape=X.shape[:-2],
        outputscale_constraint=Positive(),
    )
    likelihood = GaussianLikelihood(
        batch_shape=X.shape[:-2],
        noise_constraint=noise_constraint or GreaterThan(1e-4, transform=None),
    )
    model = SingleTaskGP(X, Y, covar_module=covar, likelihood=likelihood)
    return ExactMarginalLogLikelihood(model.likelihood, model)


def _layout(mll):
    return build_layout(mll, mll.model.train_targets.shape[:-1])


class TestCoordinates(BotorchTestCase):
    def test_columns_chosen_by_constraint(self):
        X, Y = _folds(folds=3)
        mll = _scaled_mll(X, Y)
        layout = _layout(mll)
        coords = make_coordinates(mll, layout)
        kinds = {}
        offset = 0
        for name, size in zip(layout.names, layout.sizes):
            cols = slice(offset, offset + size)
            kinds[name.split(".")[-1]] = (
                bool(coords.shifted[cols].all()),
                bool(coords.softplus[cols].all()),
                bool(coords.logged[cols].any()),
            )
            offset += size
        # non-enforced GreaterThan: raw = bound + exp(z)
        self.assertEqual(kinds["raw_noise"], (True, False, True))
        # enforced Positive (softplus): softplus(raw) = exp(z)
        self.assertEqual(kinds["raw_outputscale"], (False, True, True))
        # an Interval (sigmoid) and an unbounded constant stay raw
        self.assertEqual(kinds["raw_lengthscale"][2], False)
        self.assertEqual(kinds["raw_constant"][2], False)
        self.assertTrue(bool(torch.isneginf(coords.lower[coords.logged]).all()))
        self.assertTrue(bool(torch.isposinf(coords.upper[coords.logged]).all()))
        self.assertTrue(make_coordinates(mll, layout, log_scale=False).identity)

    def test_round_trip_and_jacobian(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                X, Y = _folds(folds=3, dtype=dtype)
                mll = _scaled_mll(X, Y)
                layout = _layout(mll)
                coords = make_coordinates(mll, layout)
                gen = torch.Generator().manual_seed(1)
                raw = layout.gather()
                lower = torch.where(torch.isfinite(layout.lower), layout.lower, raw - 3)
                # feasible rows spanning small to large values (and very negative
                # softplus raws, the linear branch of the map)
                raw = lower + 1e-3 + 40 * torch.rand(raw.shape, generator=gen, dtype=dtype)
                raw[0, coords.softplus] = -45.0
                back, _ = coords.to_raw(coords.to_free(raw))
                tol = 1e-5 if dtype == torch.float32 else 1e-10
                self.assertAllClose(back, raw, rtol=tol, atol=tol)
                z = coords.to_free(raw).double().requires_grad_(True)
                coords64 = make_coordinates(
                    _scaled_mll(X.double(), Y.double()),
                    _layout(_scaled_mll(X.double(), Y.double())),
                )
                out, jac = coords64.to_raw(z)
                (auto,) = torch.autograd.grad(out.sum(), z)
                self.assertAllClose(jac, auto, rtol=1e-8, atol=1e-12)

    def test_start_on_the_bound_moves_inside(self):
        X, Y = _folds(folds=2)
        mll = _scaled_mll(X, Y)
        mll.likelihood.noise = 1e-4  # exactly on GreaterThan(1e-4)
        layout = _layout(mll)
        coords = make_coordinates(mll, layout)
        z = coords.to_free(layout.gather())
        self.assertTrue(bool(torch.isfinite(z).all()))
        raw, _ = coords.to_raw(z)
        self.assertTrue(bool((raw[:, coords.shifted] > layout.lower[coords.shifted]).all()))

    def test_log_scale_fit_reaches_raw_optimum_in_fewer_iterations(self):
        # same members, same loss: log coordinates (the default) are no worse than
        # BoTorch's raw coordinates and need far fewer iterations when lengthscales
        # of irrelevant inputs grow large
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                X, Y = _folds(n=16, d=5, dtype=dtype)
                # float32 line searches end on rounding long before float64's
                # tolerances: capped, one attempt
                kw = {"options": {"maxiter": 150}} if dtype == torch.float32 else {}
                extra = {"max_attempts": 1} if dtype == torch.float32 else {}
                fits = [
                    fit_gpytorch_mll(
                        ExactMarginalLogLikelihood(*_likelihood_and_model(X, Y)),
                        optimizer_kwargs={**kw, "log_scale": log_scale},
                        **extra,
                    )
                    for log_scale in (False, True)
                ]
                r_raw, r_log = (get_fit_result(f) for f in fits)
                tol = 1e-3 if dtype == torch.float32 else 1e-5
                self.assertTrue(
                    bool((r_log.losses <= r_raw.losses + tol).all()),
                    (r_log.losses - r_raw.losses).tolist(),
                )
                its_raw = sum(m.num_iterations for m in r_raw.members)
                its_log = sum(m.num_iterations for m in r_log.members)
                self.assertLess(its_log, 0.5 * its_raw)
                # the bounds of the raw problem hold
                log = fits[1]
                self.assertTrue(bool((log.model.covar_module.lengthscale >= 0.025).all()))
                self.assertTrue(bool((log.model.likelihood.noise >= 1e-4).all()))

    def test_softplus_parameters_fit(self):
        # an enforced Positive outputscale is optimized as log(outputscale); the fit
        # is as good as in raw coordinates
        X, Y = _folds(folds=4)
        losses = []
        for log_scale in (False, True):
            mll = fit_gpytorch_mll(_scaled_mll(X, Y), optimizer_kwargs={"log_scale": log_scale})
            losses.append(get_fit_result(mll).losses)
            self.assertTrue(bool((mll.model.covar_module.outputscale > 0).all()))
        self.assertTrue(bool((losses[1] <= losses[0] + 1e-4).all()))


def _likelihood_and_model(X, Y):
    model = SingleTaskGP(X, Y)
    return model.likelihood, model
