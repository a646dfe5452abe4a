"""Benchmark: cold leave-one-out fits under loose lengthscale priors.

The workload of ``fit_loo.py`` (60 points, 20 scalar + 4 one-hot choice columns,
60 folds of 59 points, float64, CPU), ``ScalarChoiceGP`` fitted by ax_ext under
each prior strength (both parts the same strength). For every strength it reports
the cold fit's wall time, the L-BFGS-B iterations per fold (median and maximum),
and how the folds' optima compare with a second way to reach them: first the
``"default"`` fit, then every fold warm-started from it under the looser prior
(``continued``) and that plus the cold start kept if better (``continued+cold``).
Fewer iterations would make a cold fit cheaper; a fold whose continued optimum is
lower than its cold one shows that the cold fit stopped in a worse local optimum.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/loose_priors.py   # benchmarks/out/loose_priors.json
    python benchmarks/loose_priors.py --smoke
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from _out import add_out_argument, write_results
from botorch.cross_validation import gen_loo_cv_folds
from gpytorch.mlls import ExactMarginalLogLikelihood

sys.path.insert(0, str(Path(__file__).parent))
from fit_loo import N_SCALAR, make_data  # noqa: E402

from ax_ext.fit import fit_gpytorch_mll, get_fit_result  # noqa: E402
from ax_ext.models import ScalarChoiceGP  # noqa: E402

#: a fold's optimum counts as different beyond this (negative MLL per data point)
TOLERANCE = 1e-4


def _mll(folds, strength: str) -> ExactMarginalLogLikelihood:
    model = ScalarChoiceGP(
        folds.train_X,
        folds.train_Y,
        scalar_dims=list(range(N_SCALAR)),
        scalar_lengthscale_prior=strength,
        choice_lengthscale_prior=strength,
    )
    return ExactMarginalLogLikelihood(model.likelihood, model)


def _fit(folds, strength: str, fit_kwargs: dict, warm_start=None):
    mll = _mll(folds, strength)
    start = time.perf_counter()
    fit_gpytorch_mll(mll, warm_start=warm_start, **fit_kwargs)
    seconds = time.perf_counter() - start
    return mll, seconds, get_fit_result(mll)


def _compare(losses: torch.Tensor, cold: torch.Tensor) -> dict:
    diff = losses - cold
    return {
        "folds_better_than_cold": int((diff < -TOLERANCE).sum()),
        "folds_worse_than_cold": int((diff > TOLERANCE).sum()),
        "largest_gain_per_point": float(-diff.min()),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60, help="data points (folds = n)")
    parser.add_argument("--strengths", nargs="+", default=["default", "loose", "looser"])
    parser.add_argument("--smoke", action="store_true", help="12 points, 20 iterations")
    add_out_argument(parser, "loose_priors")
    args = parser.parse_args(argv)
    fit_kwargs = {}
    if args.smoke:
        args.n = 12
        fit_kwargs = {"optimizer_kwargs": {"options": {"maxiter": 20}}}
    X, Y = make_data(args.n)
    folds = gen_loo_cv_folds(X, Y)
    rows, default = [], None
    print(
        f"{'strength':8s} {'cold [s]':>8s} {'ratio':>6s} {'iters med':>9s} {'iters max':>9s} "
        f"{'continued [s]':>13s} {'better':>6s} {'worse':>5s} {'+cold better':>12s}"
    )
    for strength in args.strengths:
        mll, seconds, result = _fit(folds, strength, fit_kwargs)
        iterations = [m.num_iterations for m in result.members]
        row = {
            "strength": strength,
            "cold_seconds": seconds,
            "iterations_median": statistics.median(iterations),
            "iterations_max": max(iterations),
        }
        if default is None:
            default = (mll, seconds)
        else:
            row["cold_over_default"] = seconds / default[1]
            cold = result.losses
            _, cont_s, cont = _fit(folds, strength, fit_kwargs, warm_start=default[0].model)
            row["continued_seconds"] = default[1] + cont_s
            row["continued"] = _compare(cont.losses, cold)
            _, _, both = _fit(folds, strength, fit_kwargs, warm_start=[default[0].model, None])
            row["continued_and_cold"] = _compare(both.losses, cold)
        rows.append(row)
        c, cc = row.get("continued", {}), row.get("continued_and_cold", {})
        print(
            f"{strength:8s} {seconds:8.2f} {row.get('cold_over_default', 1.0):6.2f} "
            f"{row['iterations_median']:9.1f} {row['iterations_max']:9d} "
            f"{row.get('continued_seconds', float('nan')):13.2f} "
            f"{c.get('folds_better_than_cold', 0):6d} {c.get('folds_worse_than_cold', 0):5d} "
            f"{cc.get('folds_better_than_cold', 0):12d}"
        )
    results = {
        "benchmark": "loose_priors",
        "n": args.n,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average": os.getloadavg(),
        "tolerance_per_point": TOLERANCE,
        "rows": rows,
    }
    write_results(results, args.out)
    return results


if __name__ == "__main__":
    main()
