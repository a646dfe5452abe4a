r"""Where more torch threads start to pay in ax_ext's fit: n points x members.

For ``SingleTaskGP`` and ``ScalarChoiceGP`` (the fused path) on random data of
``members x n x 24`` (20 scalar columns, one 4-valued choice), each fit runs
with ``threads=1`` and with ``threads=T`` (torch's default, the machine's
cores), a capped number of iterations, and the time per loss evaluation is
compared. ``members = 1`` is a single problem (SciPy's L-BFGS-B), more members
the vectorized torch port. The speedup column is ``1-thread / T-thread``: above
1 more threads pay. ``docs/fitting.md#threads`` has the results.

Usage::

    python benchmarks/fit_threads.py              # writes benchmarks/results/fit_threads.json
    python benchmarks/fit_threads.py --smoke
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from _out import add_out_argument, write_results
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from ax_ext.fit import fit_gpytorch_mll, get_fit_result
from ax_ext.models import ScalarChoiceGP

N_SCALAR, N_CHOICE = 20, 4


def make_data(members: int, n: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    shape = (members,) if members > 1 else ()
    s = torch.rand(*shape, n, N_SCALAR, generator=gen, dtype=torch.double)
    c = torch.eye(N_CHOICE, dtype=torch.double)[torch.randint(N_CHOICE, (*shape, n), generator=gen)]
    y = torch.sin(2 * torch.pi * s[..., 0]) + 3.0 * (s[..., 1] - 0.5) ** 2 + c[..., 1]
    y = y + 0.05 * torch.randn(y.shape, generator=gen, dtype=torch.double)
    return torch.cat([s, c], dim=-1), y.unsqueeze(-1)


def time_fit(model_name: str, X, Y, threads: int, maxiter: int) -> tuple[float, int]:
    if model_name == "SingleTaskGP":
        model = SingleTaskGP(X, Y)
    else:
        model = ScalarChoiceGP(X, Y, scalar_dims=list(range(N_SCALAR)))
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    start = time.perf_counter()
    fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}}, threads=threads)
    elapsed = time.perf_counter() - start
    result = get_fit_result(mll)
    return elapsed, max(1, result.total_evaluations // max(1, len(result.members)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["SingleTaskGP", "ScalarChoiceGP"])
    parser.add_argument("--n", nargs="+", type=int, default=[20, 60, 150, 400])
    parser.add_argument("--members", nargs="+", type=int, default=[1, 20, 60])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--maxiter", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-work", type=float, default=2e9, help="skip members x n^3 above")
    parser.add_argument("--smoke", action="store_true")
    add_out_argument(parser, "fit_threads")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.members, args.maxiter, args.repeats = [12], [1, 4], 5, 1
    rows = []
    print(
        f"{'model':15s} {'n':>5s} {'members':>7s} {'1 thr ms/eval':>14s} "
        f"{f'{args.threads} thr ms/eval':>14s} {'speedup':>8s}"
    )
    for model_name in args.models:
        for n in args.n:
            for members in args.members:
                if members * n**3 > args.max_work:
                    continue
                X, Y = make_data(members, n)
                per_eval = {}
                for threads in (1, args.threads):
                    times = []
                    for _ in range(args.repeats):
                        elapsed, evals = time_fit(model_name, X, Y, threads, args.maxiter)
                        times.append(elapsed / evals)
                    per_eval[threads] = statistics.median(times)
                row = {
                    "model": model_name,
                    "n": n,
                    "members": members,
                    "work_members_n3": members * n**3,
                    "ms_per_eval_1": 1e3 * per_eval[1],
                    f"ms_per_eval_{args.threads}": 1e3 * per_eval[args.threads],
                    "speedup": per_eval[1] / per_eval[args.threads],
                }
                rows.append(row)
                print(
                    f"{model_name:15s} {n:5d} {members:7d} {row['ms_per_eval_1']:14.2f} "
                    f"{1e3 * per_eval[args.threads]:14.2f} {row['speedup']:8.2f}",
                    flush=True,
                )
    results = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
        },
        "torch": torch.__version__,
        "args": vars(args),
        "rows": rows,
    }
    write_results(results, args.out)
    return results


if __name__ == "__main__":
    main()
