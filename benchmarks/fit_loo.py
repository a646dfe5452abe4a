"""Benchmark: fitting the leave-one-out folds of a 60-point mixed data set.

Workload (issue 3): 60 points with 20 scalar and 4 one-hot choice columns, so 60
fold models of 59 points each, float64, CPU. For SingleTaskGP and ScalarChoiceGP
it compares, in one run on one machine:

* ``botorch-batched``: BoTorch 0.18.1's ``fit_gpytorch_mll`` on the batched model
  (its per-member batched L-BFGS-B; for ScalarChoiceGP, BoTorch's own fallback
  routine, bypassing the model's ``custom_fit``);
* ``botorch-loop``: BoTorch fitting the 60 fold models one by one;
* ``ax_ext-cold``: ``ax_ext.fit.fit_gpytorch_mll`` on the batched model;
* ``ax_ext-warm``: ax_ext fitting the full-data model, then the folds warm-started
  from it (both fits are timed and counted);
* ``ax_ext-warm+cold``: the same, but every fold also starts from the default
  initialization, in the same vectorized run, and keeps the better optimum.

It reports wall time (median of ``--repeats``), member-evaluations (one member's
loss and gradient computed once; a batched BoTorch evaluation of 60 members
counts 60) and per-member final MLL (per data point, as GPyTorch's
``ExactMarginalLogLikelihood`` reports it) against ``botorch-batched``.

Usage::

    python benchmarks/fit_loo.py                  # full run, writes benchmarks/out/fit_loo.json
    python benchmarks/fit_loo.py --smoke          # seconds: 12 points, capped iterations
    python benchmarks/fit_loo.py --load 2         # under load: 2 busy processes (_load.py)

``--load N`` runs every method while ``N`` other processes each keep a core busy
(:mod:`_load`: Python processes spinning on an arithmetic loop, started before
and ended after the timed runs), with the thread settings of the environment
(torch's default unless ``OMP_NUM_THREADS`` is set): the situation of a fit
next to Dask workers or other jobs. The JSON records the load and the load
average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import botorch
import botorch.fit
import gpytorch
import torch
from _out import add_out_argument
from botorch.cross_validation import gen_loo_cv_folds
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

import ax_ext
from ax_ext.fit import fit_gpytorch_mll, get_fit_result
from ax_ext.models import ScalarChoiceGP

sys.path.insert(0, str(Path(__file__).parent))  # benchmarks/_load.py, also when imported
from _load import busy_processes, describe_load  # noqa: E402

N_SCALAR, N_CHOICE = 20, 4
#: ax_ext's fit keywords (``--fit-threads``)
FIT_KWARGS: dict = {}


def make_data(n: int, seed: int = 0):
    """``n`` points: 20 scalar columns in [0, 1], one 4-valued choice (one-hot)."""
    gen = torch.Generator().manual_seed(seed)
    s = torch.rand(n, N_SCALAR, generator=gen, dtype=torch.double)
    choice = torch.randint(N_CHOICE, (n,), generator=gen)
    c = torch.eye(N_CHOICE, dtype=torch.double)[choice]
    effect = torch.tensor([0.0, 0.3, -0.2, 0.5], dtype=torch.double)[choice]
    y = (
        torch.sin(2 * torch.pi * s[:, 0])
        + 3.0 * (s[:, 1] - 0.5) ** 2
        + 0.5 * s[:, 2] * s[:, 3]
        + effect
        + 0.4 * c[:, 1] * s[:, 0]
        + 0.05 * torch.randn(n, generator=gen, dtype=torch.double)
    )
    return torch.cat([s, c], dim=-1), y.unsqueeze(-1)


def build(model_name: str, X, Y):
    if model_name == "SingleTaskGP":
        model = SingleTaskGP(X, Y)
    else:
        model = ScalarChoiceGP(X, Y, scalar_dims=list(range(N_SCALAR)))
    return ExactMarginalLogLikelihood(model.likelihood, model)


class CallCounter:
    """Counts member-evaluations of an MLL: calls times the members per call.

    GPyTorch's ``Module.__call__`` bypasses torch's forward hooks, so the MLL's
    ``forward`` is wrapped on the instance instead.
    """

    def __init__(self, mll):
        self.members = int(mll.model.train_targets.shape[:-1].numel())
        self.calls = 0
        forward = mll.forward

        def counting_forward(*args, **kwargs):
            self.calls += 1
            return forward(*args, **kwargs)

        mll.forward = counting_forward

    @property
    def evaluations(self) -> int:
        return self.calls * self.members


def botorch_fit(mll, options):
    # BoTorch's routine: for ScalarChoiceGP bypass its custom_fit (which is ax_ext's)
    kwargs = {"optimizer_kwargs": {"options": options}} if options else {}
    return botorch.fit._fit_fallback(mll, **kwargs)


def per_member_mll(mll) -> torch.Tensor:
    mll.train()
    with torch.no_grad():
        out = mll(mll.model(*mll.model.train_inputs), mll.model.train_targets)
    mll.eval()
    return out.reshape(-1).cpu()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_method(method: str, model_name: str, X, Y, folds, options):
    opt_kwargs = {"options": options} if options else {}
    synchronize(X.device)
    start = time.perf_counter()
    if method == "botorch-batched":
        mll = build(model_name, folds.train_X, folds.train_Y)
        counter = CallCounter(mll)
        botorch_fit(mll, options)
        evals = counter.evaluations
        mlls = per_member_mll(mll)
    elif method == "botorch-loop":
        evals, values = 0, []
        for i in range(folds.train_X.shape[0]):
            mll = build(model_name, folds.train_X[i], folds.train_Y[i])
            counter = CallCounter(mll)
            botorch_fit(mll, options)
            evals += counter.evaluations
            values.append(per_member_mll(mll))
        mlls = torch.cat(values)
    elif method == "ax_ext-cold":
        mll = build(model_name, folds.train_X, folds.train_Y)
        fit_gpytorch_mll(mll, optimizer_kwargs=opt_kwargs, **FIT_KWARGS)
        evals = get_fit_result(mll).total_evaluations
        mlls = per_member_mll(mll)
    elif method in ("ax_ext-warm", "ax_ext-warm+cold"):
        full = build(model_name, X, Y)
        fit_gpytorch_mll(full, optimizer_kwargs=opt_kwargs, **FIT_KWARGS)
        evals = get_fit_result(full).total_evaluations
        mll = build(model_name, folds.train_X, folds.train_Y)
        # warm+cold: every fold also starts from the default initialization; best kept
        starts = full.model if method == "ax_ext-warm" else [full.model, None]
        fit_gpytorch_mll(mll, optimizer_kwargs=opt_kwargs, warm_start=starts, **FIT_KWARGS)
        evals += get_fit_result(mll).total_evaluations
        mlls = per_member_mll(mll)
    else:
        raise ValueError(method)
    synchronize(X.device)
    return time.perf_counter() - start, evals, mlls


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return str(device)


METHODS = ["botorch-batched", "botorch-loop", "ax_ext-cold", "ax_ext-warm", "ax_ext-warm+cold"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60, help="data points (folds = n)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method")
    parser.add_argument(
        "--botorch-repeats",
        type=int,
        default=None,
        help="timed runs of the BoTorch methods (default: --repeats; they take minutes each)",
    )
    parser.add_argument("--models", nargs="+", default=["SingleTaskGP", "ScalarChoiceGP"])
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--maxiter", type=int, default=None, help="cap optimizer iterations")
    parser.add_argument("--smoke", action="store_true", help="tiny and quick: n=12, maxiter=20")
    add_out_argument(parser, "fit_loo")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument(
        "--reuse",
        default=None,
        help="JSON of an earlier run on this machine: take its rows for methods not run now",
    )
    parser.add_argument(
        "--load", type=int, default=0, help="busy processes running meanwhile (default 0)"
    )
    parser.add_argument(
        "--fit-threads",
        default="auto",
        help="ax_ext's threads option: auto (default), none (torch's setting) or a count",
    )
    args = parser.parse_args(argv)
    threads = args.fit_threads
    FIT_KWARGS["threads"] = (
        None if threads == "none" else threads if threads == "auto" else int(threads)
    )
    if args.smoke:
        args.n, args.repeats, args.maxiter = 12, 1, 20
    device = torch.device(args.device)
    X, Y = (t.to(device) for t in make_data(args.n))
    folds = gen_loo_cv_folds(train_X=X, train_Y=Y)
    options = {"maxiter": args.maxiter} if args.maxiter else None
    results = {
        "workload": {
            "points": args.n,
            "folds": args.n,
            "scalar_columns": N_SCALAR,
            "choice_columns": N_CHOICE,
            "dtype": "float64",
            "device": describe_device(device),
            "maxiter": args.maxiter,
            "repeats": args.repeats,
            "botorch_repeats": args.botorch_repeats or args.repeats,
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_threads": torch.get_num_threads(),
        },
        "load": describe_load(args.load),
        "ax_ext_fit_threads": args.fit_threads,
        "versions": {
            "torch": torch.__version__,
            "botorch": botorch.__version__,
            "gpytorch": gpytorch.__version__,
            "ax_ext": ax_ext.__version__,
        },
        "rows": [],
    }
    print(f"{'model':15s} {'method':16s} {'time [s]':>9s} {'speedup':>8s} {'evals':>8s} "
          f"{'mean MLL':>9s} {'worst dMLL':>11s} {'#worse>1e-3':>11s}")  # fmt: skip
    earlier = {}
    if args.reuse:
        for row in json.loads(Path(args.reuse).read_text())["rows"]:
            earlier[(row["model"], row["method"])] = row
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with busy_processes(args.load):
        _run_rows(args, X, Y, folds, options, earlier, results, out)
    results["load"]["loadavg_end"] = list(os.getloadavg())
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")
    return results


def _run_rows(args, X, Y, folds, options, earlier, results, out) -> None:
    for model_name in args.models:
        reference = None
        for method in METHODS:
            if method not in args.methods:
                if (model_name, method) not in earlier:
                    continue
                row = dict(earlier[(model_name, method)], reused_from=args.reuse)
                mlls = torch.tensor(row["final_mll"], dtype=torch.double)
                evals = row["member_evaluations"]
            else:
                times, evals, mlls = [], None, None
                repeats = args.repeats
                if method.startswith("botorch") and args.botorch_repeats is not None:
                    repeats = args.botorch_repeats
                for _ in range(repeats):
                    torch.manual_seed(0)
                    t, evals, mlls = run_method(method, model_name, X, Y, folds, options)
                    times.append(t)
                row = {
                    "model": model_name,
                    "method": method,
                    "times_s": times,
                    "median_s": statistics.median(times),
                    "member_evaluations": evals,
                    "final_mll": mlls.tolist(),
                    "mean_mll": float(mlls.mean()),
                }
            if method == "botorch-batched":
                reference = row
            if reference is not None:
                diff = mlls - torch.tensor(reference["final_mll"], dtype=mlls.dtype)
                row["speedup_vs_botorch_batched"] = reference["median_s"] / row["median_s"]
                row["worst_mll_diff"] = float(diff.min())
                row["members_worse_by_1e-3"] = int((diff < -1e-3).sum())
            results["rows"].append(row)
            print(
                f"{model_name:15s} {method:16s} {row['median_s']:9.2f} "
                f"{row.get('speedup_vs_botorch_batched', float('nan')):8.2f} {evals:8d} "
                f"{row['mean_mll']:9.4f} {row.get('worst_mll_diff', float('nan')):11.2e} "
                f"{row.get('members_worse_by_1e-3', -1):11d}"
                + ("  (reused)" if "reused_from" in row else ""),
                flush=True,
            )
            out.write_text(json.dumps(results, indent=1))  # after every row


if __name__ == "__main__":
    main()
