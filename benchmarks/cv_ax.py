"""Benchmark: refit leave-one-out cross-validation of an Ax experiment, ax_ext vs Ax.

Workload (issue 5): an Ax experiment with 24 parameters (20 float ranges, 4 of
them log-scale, and 4 unordered string choices with 4 values each, so 36 model
columns after one-hot encoding) and 60 completed Sobol trials of a synthetic
objective. ``ScalarChoiceGP`` is cross-validated leave-one-out with every fold's
hyperparameters refit, float64, CPU, in one run on one machine:

* ``ax``: Ax 1.3.1's ``cross_validate(adapter, folds=-1)`` on a ``TorchAdapter``
  built by ``Generators.BOTORCH_MODULAR`` with
  ``ModelConfig(botorch_model_class=ScalarChoiceGP)`` and ``refit_on_cv=True``
  (Ax's default ``warm_start_refit=True``: each fold starts from the full
  model). The full-data fit (adapter construction) is timed too. Ax fits fold by
  fold; each fit goes through ``ScalarChoiceGP.custom_fit``, i.e. ax_ext's
  fitter on one model at a time. With ``--ax-folds K`` only K folds are run
  (Ax's ``test_selector``) and the time is extrapolated to all folds, which is
  marked in the output.
* ``ax_ext-warm``: ``ax_ext.cross_validation.ax_cross_validation(...,
  warm_start="full")`` (its default): the same warm start as Ax, all folds in
  one batched, per-member fit.
* ``ax_ext-warm+cold``: ``warm_start=True``: each fold also starts from the
  default initialization and keeps the better optimum.

Accuracy of the held-out predictions (original units) is reported next to the
times: MSE and rank correlation (Ax predicts the latent function, without
observation noise, so its log densities are not comparable and not shown).

Usage::

    python benchmarks/cv_ax.py                 # full run, writes benchmarks/out/cv_ax.json
    python benchmarks/cv_ax.py --ax-folds 12   # Ax on 12 of the 60 folds, extrapolated
    python benchmarks/cv_ax.py --smoke         # seconds: 10 trials, 6 parameters, capped fits
"""

from __future__ import annotations

import argparse
import logging
import math
import platform
import random
import time
import warnings

import ax
import botorch
import gpytorch
import torch
from _out import add_out_argument, write_results
from scipy.stats import spearmanr

import ax_ext
from ax_ext.cross_validation import ax_cross_validation
from ax_ext.models import ScalarChoiceGP

CHOICES = ["a", "b", "c", "d"]


def make_experiment(n_trials: int, n_scalar: int, n_choice: int, seed: int = 0):
    """An Ax Client with ``n_trials`` completed Sobol trials of a synthetic objective."""
    from ax.api.client import Client
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    params = []
    for i in range(n_scalar):
        if i % 5 == 4:
            params.append(
                RangeParameterConfig(
                    name=f"x{i}", parameter_type="float", bounds=(1e-4, 1.0), scaling="log"
                )
            )
        else:
            params.append(
                RangeParameterConfig(name=f"x{i}", parameter_type="float", bounds=(0.0, 1.0))
            )
    for j in range(n_choice):
        params.append(
            ChoiceParameterConfig(
                name=f"c{j}", parameter_type="str", values=CHOICES, is_ordered=False
            )
        )
    rng = random.Random(seed)
    effect = {c: 0.3 * k for k, c in enumerate(CHOICES)}

    def objective(p):
        s = [p[f"x{i}"] for i in range(n_scalar)]
        y = math.sin(2 * math.pi * s[0]) + 3.0 * (s[1] - 0.5) ** 2 + 0.5 * s[2] * s[3]
        y += 0.2 * math.log10(s[4]) if n_scalar > 4 else 0.0
        y += sum(effect[p[f"c{j}"]] * (1 + j) / n_choice for j in range(n_choice))
        y += 0.4 * (p["c0"] == "b") * s[0] if n_choice else 0.0
        return y + rng.gauss(0.0, 0.05)

    client = Client(random_seed=seed)
    client.configure_experiment(name="cv_benchmark", parameters=params)
    client.configure_optimization(objective="-loss")
    client.configure_generation_strategy(method="random_search", initialization_random_seed=seed)
    for i, p in client.get_next_trials(max_trials=n_trials).items():
        client.complete_trial(i, raw_data={"loss": objective(p)})
    return client


def run_ax(experiment, ax_folds: int | None):
    """Ax's refit LOO; returns (seconds for all folds, measured seconds, folds run, preds)."""
    from ax.adapter.cross_validation import cross_validate
    from ax.adapter.registry import Generators
    from ax.generators.torch.botorch_modular.surrogate import SurrogateSpec
    from ax.generators.torch.botorch_modular.utils import ModelConfig

    start = time.perf_counter()
    adapter = Generators.BOTORCH_MODULAR(
        experiment=experiment,
        data=experiment.lookup_data(),
        surrogate_spec=SurrogateSpec(
            model_configs=[ModelConfig(botorch_model_class=ScalarChoiceGP, name="ScalarChoiceGP")]
        ),
        refit_on_cv=True,
    )
    fit_time = time.perf_counter() - start
    model = adapter.generator.surrogate.model
    assert isinstance(model, ScalarChoiceGP), type(model)
    n = len(experiment.trials)
    selector = None
    if ax_folds is not None and ax_folds < n:
        chosen = {experiment.trials[i].arm.name for i in range(0, n, n // ax_folds)[:ax_folds]}
        selector = lambda obs: obs.arm_name in chosen  # noqa: E731
    start = time.perf_counter()
    results = cross_validate(adapter, folds=-1, test_selector=selector)
    cv_time = time.perf_counter() - start
    folds_run = len(results)
    total = fit_time + cv_time * n / folds_run
    preds = {
        r.observed.arm_name: (
            float(r.observed.data.means[0]),
            float(r.predicted.means[0]),
            math.sqrt(max(float(r.predicted.covariance[0, 0]), 0.0)),
        )
        for r in results
    }
    return {
        "seconds": total,
        "measured_seconds": fit_time + cv_time,
        "full_fit_seconds": fit_time,
        "folds_run": folds_run,
        "extrapolated": folds_run < n,
        "model_columns": int(model.train_inputs[0].shape[-1]),
    }, preds


def run_ax_ext(client, warm_start, fit_kwargs):
    start = time.perf_counter()
    res = ax_cross_validation(client, warm_start=warm_start, fit_kwargs=fit_kwargs)
    seconds = time.perf_counter() - start
    preds = {
        arm: (float(o), float(m), float(s))
        for arm, o, m, s in zip(res.arm_name, res.observed, res.mean, res.std)
    }
    evals = sum(f.total_evaluations for f in res.fold_fits) + res.full_fit.total_evaluations
    return {"seconds": seconds, "member_evaluations": evals}, preds


def accuracy(preds: dict, arms=None) -> dict:
    arms = sorted(preds) if arms is None else sorted(arms)
    obs = [preds[a][0] for a in arms]
    mean = [preds[a][1] for a in arms]
    mse = sum((o - m) ** 2 for o, m in zip(obs, mean)) / len(arms)
    rank = float(spearmanr(obs, mean).statistic) if len(arms) >= 3 else float("nan")
    return {"mse": mse, "rank_correlation": rank, "points": len(arms)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--scalar", type=int, default=20, help="float range parameters")
    parser.add_argument("--choice", type=int, default=4, help="4-valued string choices")
    parser.add_argument("--ax-folds", type=int, default=None, help="run Ax on this many folds")
    parser.add_argument("--maxiter", type=int, default=None, help="cap ax_ext's iterations")
    parser.add_argument("--smoke", action="store_true", help="tiny: 10 trials, 6 parameters")
    add_out_argument(parser, "cv_ax")
    args = parser.parse_args(argv)
    if args.smoke:
        args.trials, args.scalar, args.choice, args.maxiter = 10, 4, 2, 20
        args.ax_folds = args.ax_folds or 3
    logging.getLogger("ax").setLevel(logging.WARNING)
    for name in ("ax.api.client", "ax.adapter", "ax.generation_strategy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    client = make_experiment(args.trials, args.scalar, args.choice)
    experiment = client._experiment
    fit_kwargs = (
        {"optimizer_kwargs": {"options": {"maxiter": args.maxiter}}} if args.maxiter else {}
    )

    results = {
        "workload": {
            "trials": args.trials,
            "parameters": args.scalar + args.choice,
            "range_parameters": args.scalar,
            "choice_parameters": args.choice,
            "choice_values": len(CHOICES),
            "model": "ScalarChoiceGP",
            "cv": "leave-one-out, every fold refit",
            "dtype": "float64",
            "device": "cpu",
            "ax_ext_maxiter": args.maxiter,
            "ax_folds": args.ax_folds,
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_threads": torch.get_num_threads(),
        },
        "versions": {
            "ax": ax.__version__,
            "torch": torch.__version__,
            "botorch": botorch.__version__,
            "gpytorch": gpytorch.__version__,
            "ax_ext": ax_ext.__version__,
        },
        "rows": [],
    }
    rows = results["rows"]
    ext_rows = {}
    for method, warm in (("ax_ext-warm", "full"), ("ax_ext-warm+cold", True)):
        row, preds = run_ax_ext(client, warm, fit_kwargs)
        ext_rows[method] = (row, preds)
        print(f"  {method}: {row['seconds']:.1f} s", flush=True)
    ax_row, ax_preds = run_ax(experiment, args.ax_folds)
    print(f"  ax: {ax_row['seconds']:.1f} s ({ax_row['folds_run']} folds run)", flush=True)
    common = sorted(ax_preds)
    rows.append({"method": "ax", **ax_row, **accuracy(ax_preds)})
    for method, (row, preds) in ext_rows.items():
        rows.append(
            {
                "method": method,
                **row,
                "speedup_vs_ax": ax_row["seconds"] / row["seconds"],
                **accuracy(preds),
                "same_points_as_ax": accuracy(preds, common),
            }
        )
    print(f"workload: {results['workload']}")
    print(f"{'method':18s} {'time [s]':>10s} {'speedup':>8s} {'MSE':>9s} {'rank corr':>9s}  note")
    for r in rows:
        note = ""
        if r["method"] == "ax" and r["extrapolated"]:
            note = (
                f"extrapolated from {r['folds_run']} of {args.trials} folds "
                f"({r['measured_seconds']:.1f} s measured, full fit {r['full_fit_seconds']:.1f} s)"
            )
        elif r["method"] != "ax":
            same = r["same_points_as_ax"]
            note = f"on Ax's {same['points']} points: MSE {same['mse']:.4g}"
        speed = r.get("speedup_vs_ax", 1.0)
        print(
            f"{r['method']:18s} {r['seconds']:10.2f} {speed:7.1f}x {r['mse']:9.4g} "
            f"{r['rank_correlation']:9.3f}  {note}"
        )
    write_results(results, args.out, indent=2)
    return results


if __name__ == "__main__":
    main()
