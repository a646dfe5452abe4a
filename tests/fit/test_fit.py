import inspect
import warnings

import botorch.fit
import pytest
import torch
from botorch.exceptions.errors import ModelFittingError, UnsupportedError
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models import ModelListGP, SingleTaskGP
from botorch.optim.core import OptimizationStatus
from botorch.optim.fit import fit_gpytorch_mll_scipy, fit_gpytorch_mll_torch
from botorch.utils.testing import BotorchTestCase
from gpytorch.mlls import ExactMarginalLogLikelihood, SumMarginalLogLikelihood

from ax_ext.fit import _losses, fit_gpytorch_mll, get_fit_result

DTYPES = (torch.float32, torch.float64)
FAST = {"options": {"maxiter": 60}}


def _data(batch=(), n=12, d=3, seed=0, dtype=torch.double):
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(*batch, n, d, generator=gen, dtype=dtype)
    Y = torch.sin(X @ torch.arange(1, d + 1, dtype=dtype)).unsqueeze(-1)
    Y = Y + 0.05 * torch.randn(*batch, n, 1, generator=gen, dtype=dtype)
    return X, Y


def _mll(X, Y):
    model = SingleTaskGP(X, Y)
    return ExactMarginalLogLikelihood(model.likelihood, model)


def _member_mll(mll):
    mll.train()
    with torch.no_grad():
        out = mll(mll.model(*mll.model.train_inputs), mll.model.train_targets)
    mll.eval()
    return out.reshape(-1)


class TestFitGpytorchMll(BotorchTestCase):
    def test_follows_scipy_lbfgsb_trajectory(self):
        # one model in BoTorch's raw coordinates (log_scale=False): the loss after
        # every step equals SciPy L-BFGS-B's (via BoTorch), with ax_ext's torch port
        # and with the SciPy engine "auto" picks here
        X, Y = _data()
        ref = _mll(X, Y)
        ref.train()
        trace = []
        fit_gpytorch_mll_scipy(ref, callback=lambda p, r: trace.append(r.fval))
        for engine in ("torch", "auto"):
            with self.subTest(engine=engine):
                mll = fit_gpytorch_mll(
                    _mll(X, Y), optimizer_kwargs={"engine": engine, "log_scale": False}
                )
                ours = get_fit_result(mll).members[0].loss_trace[1:]
                self.assertEqual(len(ours), len(trace))
                self.assertAllClose(
                    torch.tensor(ours, dtype=torch.double),
                    torch.tensor(trace, dtype=torch.double),
                    atol=1e-8,
                    rtol=1e-8,
                )
                for a, b in zip(ref.model.parameters(), mll.model.parameters()):
                    self.assertAllClose(a, b, atol=1e-6, rtol=1e-5)

    def test_batched_equals_independent_fits(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                X, Y = _data(batch=(4,), dtype=dtype)
                batched = fit_gpytorch_mll(_mll(X, Y), optimizer_kwargs=FAST)
                res = get_fit_result(batched)
                self.assertEqual(res.path, "subset")
                self.assertEqual(len(res.members), 4)
                singles = []
                for i in range(4):
                    # the torch engine: the batched fit's port, run on one member
                    single = fit_gpytorch_mll(
                        _mll(X[i], Y[i]), optimizer_kwargs={**FAST, "engine": "torch"}
                    )
                    singles.append(get_fit_result(single).members[0].loss)
                    if dtype == torch.float64:
                        # same trajectory, step for step
                        self.assertAllClose(
                            batched.model.covar_module.lengthscale[i],
                            single.model.covar_module.lengthscale,
                            atol=1e-7,
                            rtol=1e-7,
                        )
                        self.assertEqual(
                            res.members[i].num_evaluations,
                            get_fit_result(single).members[0].num_evaluations,
                        )
                if dtype == torch.float32:
                    # float32 rounding depends on the batch composition (and on thread
                    # scheduling), so trajectories may part; the optima stay comparable
                    losses = torch.tensor([m.loss for m in res.members])
                    self.assertTrue(bool(torch.isfinite(losses).all()))
                    self.assertAlmostEqual(losses.mean().item(), sum(singles) / 4, delta=2e-2)

    def test_matches_botorch_batched_fit(self):
        X, Y = _data(batch=(5,), n=15)
        ours = _member_mll(fit_gpytorch_mll(_mll(X, Y)))
        theirs = _member_mll(botorch.fit.fit_gpytorch_mll(_mll(X, Y)))
        self.assertTrue(bool((ours >= theirs - 1e-5).all()), (ours - theirs).tolist())

    def test_member_losses_never_increase(self):
        X, Y = _data(batch=(6,), n=10, seed=3)
        mll = fit_gpytorch_mll(_mll(X, Y), optimizer_kwargs=FAST)
        for member in get_fit_result(mll).members:
            trace = torch.tensor(member.loss_trace)
            self.assertGreater(len(trace), 2)
            self.assertTrue(bool((trace[1:] <= trace[:-1]).all()), member.index)
            self.assertAlmostEqual(member.loss, member.loss_trace[-1])

    def test_converged_members_are_not_evaluated(self):
        X, Y = _data(batch=(6,), n=10, seed=4)
        calls = []
        original = _losses._SubsetLoss.__call__

        def spy(self, params, members):
            calls.append(members.tolist())
            return original(self, params, members)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_losses._SubsetLoss, "__call__", spy)
            mll = fit_gpytorch_mll(_mll(X, Y))
        res = get_fit_result(mll)
        # before optimizing, the plan checks the subset loss against BoTorch's for all
        # members and for the last one alone
        self.assertEqual(calls[:2], [list(range(6)), [5]])
        calls = calls[2:]
        # every evaluation is counted, per member, and nothing else was evaluated
        self.assertEqual(sum(len(c) for c in calls), res.total_evaluations)
        for i, member in enumerate(res.members):
            self.assertEqual(sum(i in c for c in calls), member.num_evaluations)
        # members finish at different times and the active set shrinks
        iterations = [m.num_iterations for m in res.members]
        self.assertGreater(max(iterations), min(iterations))
        self.assertLess(min(len(c) for c in calls), 6)
        self.assertLess(res.total_evaluations, len(calls) * 6)

    def test_warm_start(self):
        X, Y = _data(n=30, d=2, seed=5)
        full = fit_gpytorch_mll(_mll(X, Y))
        folds_X = torch.stack([torch.cat([X[:i], X[i + 1 :]]) for i in range(30)])
        folds_Y = torch.stack([torch.cat([Y[:i], Y[i + 1 :]]) for i in range(30)])
        cold = fit_gpytorch_mll(_mll(folds_X, folds_Y))
        warm = _mll(folds_X, folds_Y)
        fit_gpytorch_mll(warm, warm_start=full.model)
        cold_res, warm_res = get_fit_result(cold), get_fit_result(warm)
        self.assertLess(warm_res.total_evaluations, cold_res.total_evaluations)
        # it started from the full model's hyperparameters
        start = _mll(folds_X, folds_Y)
        full_params = dict(full.model.named_parameters())
        with torch.no_grad():
            for name, p in start.model.named_parameters():
                p.copy_(full_params[name].expand_as(p))
        first = torch.tensor([m.loss_trace[0] for m in warm_res.members], dtype=torch.double)
        self.assertAllClose(first, -_member_mll(start), atol=1e-6, rtol=1e-6)
        # several starts per member: each member keeps its best, evaluations add up
        both = _mll(folds_X, folds_Y)
        fit_gpytorch_mll(both, warm_start=[full.model, None])
        both_res = get_fit_result(both)
        best = torch.minimum(cold_res.losses, warm_res.losses)
        self.assertAllClose(both_res.losses, best, atol=1e-9, rtol=0)
        self.assertEqual(
            both_res.total_evaluations, cold_res.total_evaluations + warm_res.total_evaluations
        )
        # a state dict works too, and a mismatching one is rejected clearly
        fit_gpytorch_mll(_mll(folds_X, folds_Y), warm_start=full.model.state_dict())
        with self.assertRaisesRegex(UnsupportedError, "matched none of the parameters"):
            fit_gpytorch_mll(_mll(folds_X, folds_Y), warm_start={"foo": torch.ones(1)})
        bad = {"covar_module.raw_lengthscale": torch.ones(5, 5)}
        with self.assertRaisesRegex(UnsupportedError, "does not broadcast"):
            fit_gpytorch_mll(_mll(folds_X, folds_Y), warm_start=bad)

    def test_abnormal_end_below_a_converged_start_is_kept(self):
        # member 0: the abnormal start is lowest, the other converged: kept, no retry;
        # member 1: every start abnormal: unsettled (retried from the priors)
        from ax_ext.fit import _lbfgs
        from ax_ext.fit._starts import best_of_starts, is_unsettled

        res = _lbfgs.LbfgsResult(
            x=torch.arange(8, dtype=torch.double).view(4, 2),
            f=torch.tensor([1.0, 3.0, 2.0, 4.0], dtype=torch.double),
            status=torch.tensor(
                [_lbfgs.ABNORMAL, _lbfgs.ABNORMAL, _lbfgs.CONVERGED_F, _lbfgs.ABNORMAL]
            ),  # fmt: skip
            num_iterations=torch.tensor([5, 6, 7, 8]),
            num_evaluations=torch.tensor([10, 11, 12, 13]),
        )
        merged, traces, settled = best_of_starts(res, [[1], [2], [3], [4]], 2, 2)
        self.assertEqual(merged.status.tolist(), [_lbfgs.ABNORMAL, _lbfgs.ABNORMAL])
        self.assertEqual(merged.f.tolist(), [1.0, 3.0])
        self.assertEqual(merged.num_evaluations.tolist(), [22, 24])
        self.assertEqual(traces, [[1], [2]])
        self.assertEqual(settled.tolist(), [True, False])
        self.assertEqual((is_unsettled(merged.status) & ~settled).tolist(), [False, True])

    def test_timeout(self):
        X, Y = _data(batch=(3,), n=30, d=4)
        with self.assertWarnsRegex(OptimizationWarning, "timed out"):
            mll = fit_gpytorch_mll(_mll(X, Y), optimizer_kwargs={"timeout_sec": 0.0})
        res = get_fit_result(mll)
        self.assertTrue(res.timed_out)
        self.assertFalse(mll.training)
        self.assertTrue(all(m.status == OptimizationStatus.STOPPED for m in res.members))

    def test_failed_member_is_isolated(self):
        X, Y = _data(batch=(3,), n=10, seed=6)
        mll = _mll(X, Y)
        mll.model.train_targets[1, 4] = float("nan")  # one fold's data is broken
        with self.assertWarnsRegex(
            OptimizationWarning, r"1 of 3 batch members \(indices \[\(1,\)\]"
        ):
            fit_gpytorch_mll(mll, optimizer_kwargs=FAST)
        res = get_fit_result(mll)
        self.assertEqual(res.members[1].status, OptimizationStatus.FAILURE)
        self.assertEqual(res.members[1].attempts, 5)
        self.assertEqual([m.attempts for m in (res.members[0], res.members[2])], [1, 1])
        # the other members are exactly what they would be without the broken one
        clean = fit_gpytorch_mll(_mll(X[[0, 2]], Y[[0, 2]]), optimizer_kwargs=FAST)
        self.assertAllClose(
            mll.model.covar_module.lengthscale[[0, 2]], clean.model.covar_module.lengthscale
        )
        self.assertFalse(mll.training)

    def test_all_members_failing_raises(self):
        X, Y = _data(batch=(2,), n=8)
        mll = _mll(X, Y)
        mll.model.train_targets[:, 0] = float("nan")
        with self.assertRaisesRegex(ModelFittingError, "All attempts to fit the model have failed"):
            fit_gpytorch_mll(mll, optimizer_kwargs=FAST, max_attempts=2)
        self.assertTrue(mll.training)

    def test_model_list(self):
        X, Y = _data(n=12)
        models = [SingleTaskGP(X, Y), SingleTaskGP(X, -Y)]
        model = ModelListGP(*models)
        mll = fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
        self.assertFalse(mll.training)
        for sub in model.models:
            self.assertIsNotNone(get_fit_result(sub))
            alone = fit_gpytorch_mll(_mll(X, sub.train_targets.unsqueeze(-1)))
            self.assertAllClose(sub.covar_module.lengthscale, alone.model.covar_module.lengthscale)

    def test_bounds_are_respected(self):
        X, Y = _data(n=12)
        mll = _mll(X, Y)
        bounds = {"model.covar_module.raw_lengthscale": (0.05, 0.3)}
        fit_gpytorch_mll(mll, optimizer_kwargs={"bounds": bounds})
        ls = mll.model.covar_module.lengthscale
        self.assertTrue(bool(((ls >= 0.05) & (ls <= 0.3 + 1e-12)).all()), ls)
        self.assertGreaterEqual(float(mll.model.likelihood.noise.min()), 1e-4)

    def test_shared_parameters_fit_jointly(self):
        # a batched model whose kernel is shared by all members: one joint problem
        from gpytorch.kernels import RBFKernel

        X, Y = _data(batch=(3,), n=10)
        model = SingleTaskGP(X, Y, covar_module=RBFKernel())
        mll = fit_gpytorch_mll(
            ExactMarginalLogLikelihood(model.likelihood, model), optimizer_kwargs=FAST
        )
        res = get_fit_result(mll)
        self.assertEqual(len(res.members), 1)
        self.assertEqual(res.path, "joint")
        self.assertIn("shared by all batch members", res.reason)
        self.assertTrue(res.success)

    def test_drop_in_contract(self):
        ours = inspect.signature(fit_gpytorch_mll)
        theirs = inspect.signature(botorch.fit.fit_gpytorch_mll)
        self.assertEqual(list(ours.parameters), list(theirs.parameters))
        X, Y = _data(n=10)
        mll = _mll(X, Y)
        self.assertIs(fit_gpytorch_mll(mll, optimizer_kwargs=FAST), mll)
        self.assertFalse(mll.training)
        # an explicit optimizer runs BoTorch's routine with it
        mll2 = _mll(X, Y)
        fit_gpytorch_mll(mll2, optimizer=fit_gpytorch_mll_torch, optimizer_kwargs={"step_limit": 5})
        res2 = get_fit_result(mll2)
        self.assertEqual((res2.path, res2.members), ("botorch", []))
        self.assertIn("fit_gpytorch_mll_torch", res2.reason)
        self.assertFalse(mll2.training)
        # a user closure: one joint problem on its (summed) loss
        Xb, Yb = _data(batch=(2,), n=10)
        mll3 = _mll(Xb, Yb)
        from botorch.optim.closures import get_loss_closure_with_grads
        from botorch.optim.utils import get_parameters

        closure = get_loss_closure_with_grads(
            mll3, parameters=get_parameters(mll3, requires_grad=True)
        )
        mll3.train()
        fit_gpytorch_mll(mll3, closure=closure, optimizer_kwargs=FAST)
        self.assertEqual(get_fit_result(mll3).path, "closure")
        self.assertFalse(mll3.training)
        with self.assertRaisesRegex(UnsupportedError, "Unknown optimizer options"):
            fit_gpytorch_mll(_mll(X, Y), optimizer_kwargs={"options": {"max_iter": 3}})
        # an unknown keyword is an error that names the known ones; BoTorch's legacy
        # `sequential` is accepted and ignored, as BoTorch's routine ignores it
        with self.assertRaisesRegex(UnsupportedError, "some_unknown_flag.*Known.*max_attempts"):
            fit_gpytorch_mll(_mll(X, Y), optimizer_kwargs=FAST, some_unknown_flag=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fit_gpytorch_mll(_mll(X, Y), optimizer_kwargs=FAST, sequential=False)

    def test_callback_and_result_tables(self):
        X, Y = _data(batch=(2,), n=10)
        seen = []
        mll = fit_gpytorch_mll(
            _mll(X, Y),
            optimizer_kwargs={**FAST, "callback": lambda params, result: seen.append(result)},
        )
        self.assertGreater(len(seen), 3)
        self.assertEqual(seen[0].status, OptimizationStatus.RUNNING)
        res = get_fit_result(mll)
        df = res.to_dataframe()
        self.assertEqual(list(df["member"]), [0, 1])
        trace = res.trace_dataframe()
        self.assertEqual(set(trace.columns), {"member", "step", "loss"})
        self.assertEqual(len(trace), sum(len(m.loss_trace) for m in res.members))

    def test_prior_restarts(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                X, Y = _data(batch=(3,), n=10, seed=2, dtype=dtype)
                one = get_fit_result(fit_gpytorch_mll(_mll(X, Y), optimizer_kwargs=FAST))
                rng = torch.random.get_rng_state()
                fits = [
                    fit_gpytorch_mll(
                        _mll(X, Y), optimizer_kwargs=FAST, restarts=3, restart_seed=seed
                    )
                    for seed in (7, 7, 8)
                ]
                # seeded draws, and torch's global random state is left alone
                self.assertTrue(torch.equal(rng, torch.random.get_rng_state()))
                res = [get_fit_result(f) for f in fits]
                self.assertAllClose(res[0].losses, res[1].losses, atol=0, rtol=0)
                for r in res:
                    # the current values are one of the starts: never worse than them
                    tol = 1e-4 if dtype == torch.float32 else 1e-8
                    self.assertTrue(bool((r.losses <= one.losses + tol).all()))
                    if dtype == torch.float64:  # (float32 single starts may retry)
                        for m, m1 in zip(r.members, one.members):
                            self.assertGreater(m.num_evaluations, m1.num_evaluations)
        with self.assertRaisesRegex(UnsupportedError, "non-negative integer"):
            fit_gpytorch_mll(_mll(X, Y), restarts=-1)
        with self.assertRaisesRegex(UnsupportedError, "non-negative integer"):
            fit_gpytorch_mll(_mll(X, Y), restarts=1.5)

    def test_closure_takes_one_start(self):
        from botorch.optim.closures import get_loss_closure_with_grads
        from botorch.optim.utils import get_parameters

        X, Y = _data(n=10)
        mll = _mll(X, Y)
        closure = get_loss_closure_with_grads(
            mll, parameters=get_parameters(mll, requires_grad=True)
        )
        with self.assertRaisesRegex(UnsupportedError, "takes one start"):
            fit_gpytorch_mll(mll, closure=closure, restarts=2)
