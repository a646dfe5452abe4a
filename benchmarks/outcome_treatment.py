"""Benchmark: ax_ext's outcome treatment against raw values, and imputed against dropped failures.

Two questions (:mod:`ax_ext.models.outcome`):

1. ``loo``: does a model fitted to treated values (diverged values clipped to the
   Tukey fence) predict the *other* trials better than one fitted to the raw
   values? A 40-trial Sobol study of :func:`ax_ext.studies.demo_objective`
   (8 mixed parameters) in which the runs that diverge report a loss of
   ``10**U(1.5, 3.5)`` (31 to 3000) instead of failing, as real diverged runs
   often do. Refit leave-one-out (:func:`ax_ext.cross_validation.ax_cross_validation`)
   with ``outcome=None`` (raw) and the default treatment; for reference, a model of
   ``log(loss)``. Metrics on the non-diverged trials only. Then the issue's
   bound: one trial with a value 1e4 times the largest is added to the first 30
   non-diverged trials; how far do the full-data model's predictions at the 30
   move (in units of their standard deviation), and how much wider does the
   predicted-vs-observed chart's axis get?
2. ``failures``: a problem with a failure region: the built-in ``synthetic``
   function (:func:`ax_ext.runner.builtin_problems.synthetic_loss`, optimum 0 at
   ``lr = 1e-3``) whose evaluation fails for ``lr > 10**-2.5`` (half a decade above
   the optimum, 37.5 % of the log range). ``sobol_then_bo`` with failed trials
   imputed (default) or dropped (``OutcomeTreatment(failed_trials="drop")``, Ax's
   behaviour), same seeds: best loss after N trials and trials spent in the
   failure region.

Usage::

    python benchmarks/outcome_treatment.py --out benchmarks/results/outcome_treatment.json
    python benchmarks/outcome_treatment.py --smoke
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import sys
import time

import torch
from _out import add_out_argument, write_results

FAIL_LOG_LR = -2.5
FAST = {"optimizer_kwargs": {"options": {"maxiter": 200}}}


def _loo_study(n_trials: int, seed: int):
    """A Sobol study of the demo objective whose diverged runs report huge losses."""
    from ax.api.client import Client

    from ax_ext.studies import demo_objective, demo_study

    template = demo_study(n_trials=1, seed=seed)._experiment
    rng = random.Random(seed)
    client = Client(random_seed=seed)
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    params = []
    for name, p in template.search_space.parameters.items():
        if hasattr(p, "lower"):
            kind = "int" if p.parameter_type.name == "INT" else "float"
            params.append(
                RangeParameterConfig(
                    name=name,
                    parameter_type=kind,
                    bounds=(p.lower, p.upper),
                    scaling="log" if p.log_scale else "linear",
                )
            )
        else:
            kind = {"STRING": "str", "BOOL": "bool"}[p.parameter_type.name]
            params.append(
                ChoiceParameterConfig(
                    name=name, parameter_type=kind, values=p.values, is_ordered=p.is_ordered
                )
            )
    client.configure_experiment(parameters=params)
    client.configure_optimization(objective="-loss")
    client.configure_generation_strategy(method="random_search", initialization_random_seed=seed)
    diverged = []
    for _ in range(n_trials):
        for index, p in client.get_next_trials(max_trials=1).items():
            loss = demo_objective(p, 0.01, rng)
            if math.isnan(loss):
                loss = 10 ** rng.uniform(1.5, 3.5)
                diverged.append(index)
            client.complete_trial(index, raw_data={"loss": loss})
    return client, diverged


def _metrics_on(cv, keep: list[bool], mean=None, std=None) -> dict:
    from ax_ext.cross_validation import cv_metrics

    mask = torch.tensor(keep)
    obs = (cv.reported if cv.reported is not None else cv.observed)[mask]
    mean = (cv.mean if mean is None else mean)[mask]
    std = (cv.std if std is None else std)[mask]
    m = cv_metrics(obs, mean, std)
    return {
        k: round(float(m[k]), 4) for k in ("rank_correlation", "mse", "mean_log_predictive_density")
    }


def _axis_span(cv) -> tuple[float, str]:
    from ax_ext.plotting import predicted_vs_observed

    fig = predicted_vs_observed(cv)
    diagonal = next(t for t in fig.data if t.name == "observed = predicted")
    lo, hi = float(diagonal.x[0]), float(diagonal.x[1])
    kind = fig.layout.xaxis.type or "linear"
    return (math.log10(hi / lo) if kind == "log" else hi - lo), kind


def loo_part(n_trials: int, n_clean: int, seed: int) -> dict:
    from ax_ext.cross_validation import ax_cross_validation, loo_cross_validation
    from ax_ext.models import ScalarChoiceGP
    from ax_ext.models.outcome import OutcomeTreatment

    client, diverged = _loo_study(n_trials, seed)
    out: dict = {"n_trials": n_trials, "n_diverged": len(diverged), "variants": {}}
    cvs = {}
    for name, outcome in (("raw", None), ("treated", OutcomeTreatment())):
        t0 = time.perf_counter()
        cv = ax_cross_validation(client, outcome=outcome, fit_kwargs=FAST)
        keep = [i not in diverged for i in cv.trial_index]
        out["variants"][name] = {
            **_metrics_on(cv, keep),
            "seconds": round(time.perf_counter() - t0, 2),
        }
        cvs[name] = cv
    cv = cvs["raw"]
    keep = [i not in diverged for i in cv.trial_index]
    enc = cv.encoding
    log = loo_cross_validation(
        ScalarChoiceGP,
        cv.train_X,
        cv.observed.log().unsqueeze(-1),
        warm_start="full",
        fit_kwargs=FAST,
        model_kwargs={"scalar_dims": enc.scalar_dims, "choice_dims": enc.choice_dims},
    )
    # the log model's median prediction, and a delta-method std, in the loss's units
    median = log.mean.exp()
    out["variants"]["log (reference)"] = _metrics_on(cv, keep, median, median * log.std)
    clipped = cvs["treated"].treated
    out["treated_clipped"] = int(clipped.clipped.sum())
    out["fence"] = clipped.fence

    # the bound: one trial at 1e4 x the largest value added to n_clean clean trials
    clean = [i for i in cv.trial_index if i not in diverged][:n_clean]
    rows = {i: float(v) for i, v in zip(cv.trial_index, cv.observed.tolist())}
    worst = max(rows[i] for i in clean)
    extra = client._experiment.trials[diverged[0]] if diverged else None
    if extra is None:
        raise RuntimeError("the study has no diverged trial to re-use; raise n_trials")
    params = dict(extra.arms[0].parameters)
    index = client.attach_trial(parameters=params)
    client.complete_trial(index, raw_data={"loss": 1e4 * worst})
    bound = {}
    for name, outcome in (("raw", None), ("treated", OutcomeTreatment())):
        before = ax_cross_validation(client, trial_indices=clean, outcome=outcome, fit_kwargs=FAST)
        after = ax_cross_validation(
            client, trial_indices=[*clean, index], outcome=outcome, fit_kwargs=FAST
        )
        X = before.train_X
        with torch.no_grad():
            mu0 = before.full_model.posterior(X).mean.squeeze(-1)
            mu1 = after.full_model.posterior(X).mean.squeeze(-1)
        scale = float(before.observed.std())
        loo_move = (after.mean[: len(clean)] - before.mean).abs().max() / scale
        span0, kind0 = _axis_span(before)
        span1, kind1 = _axis_span(after)
        bound[name] = {
            "max_prediction_move_sd": round(float((mu1 - mu0).abs().max() / scale), 4),
            "max_loo_move_sd": round(float(loo_move), 4),
            "axis_span_factor": round(span1 / span0, 3),
            "axis": f"{kind0} -> {kind1}",
        }
    out["one_diverged_trial_1e4x"] = {"n_clean": len(clean), **bound}
    return out


def _failing_synthetic(params: dict) -> float | None:
    from ax_ext.runner.builtin_problems import synthetic_loss

    if math.log10(params["lr"]) > FAIL_LOG_LR:
        return None  # the evaluation raised: the trial failed
    return synthetic_loss(params)["loss"]


def _bo_run(failed_trials: str, n_trials: int, seed: int) -> dict:
    from ax.api.client import Client

    from ax_ext.generation import quiet_ax, sobol_then_bo
    from ax_ext.models.outcome import OutcomeTreatment
    from ax_ext.runner import get_problem

    client = Client(random_seed=seed)
    with quiet_ax():
        # the built-in synthetic problem's search space
        client.configure_experiment(parameters=get_problem("synthetic").parameters)
        client.configure_optimization(objective="-loss")
        gs = sobol_then_bo(
            client,
            total_trials=n_trials,
            seed=seed,
            count_failed_trials=True,
            outcome=OutcomeTreatment(failed_trials=failed_trials),
        )
        client.set_generation_strategy(gs)
        best, trace, failed, gen_s = math.inf, [], [], 0.0
        for _ in range(n_trials):
            t0 = time.perf_counter()
            ((index, params),) = client.get_next_trials(max_trials=1).items()
            gen_s += time.perf_counter() - t0
            loss = _failing_synthetic(params)
            if loss is None:
                client.mark_trial_failed(index, failed_reason="diverged")
                failed.append(index)
            else:
                client.complete_trial(index, raw_data={"loss": loss})
                best = min(best, loss)
            trace.append(best)
    trials = client._experiment.trials.values()
    n_sobol = sum(1 for t in trials if t.generator_runs[0]._generation_node_name == "Sobol")
    return {
        "best": trace,
        "failed": failed,
        "n_sobol": n_sobol,
        "failed_in_bo": sum(1 for i in failed if i >= n_sobol),
        "gen_seconds": round(gen_s, 1),
    }


def failures_part(n_trials: int, seeds: list[int]) -> dict:
    runs = {m: [_bo_run(m, n_trials, s) for s in seeds] for m in ("impute", "drop")}
    summary = {}
    for mode, rs in runs.items():
        checkpoints = sorted({n_trials // 2, n_trials})
        summary[mode] = {
            **{
                f"median_best_after_{n}": round(statistics.median(r["best"][n - 1] for r in rs), 4)
                for n in checkpoints
            },
            "best_per_seed": [round(r["best"][-1], 4) for r in rs],
            "failed_in_bo_per_seed": [r["failed_in_bo"] for r in rs],
            "bo_trials_per_seed": [n_trials - r["n_sobol"] for r in rs],
            "gen_seconds": round(sum(r["gen_seconds"] for r in rs), 1),
        }
    return {"n_trials": n_trials, "seeds": seeds, "summary": summary, "runs": runs}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, one seed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=30, help="trials per BO run")
    parser.add_argument("--part", choices=["loo", "failures", "both"], default="both")
    add_out_argument(parser, "outcome_treatment")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_before": os.getloadavg()[0],
        "command": "python benchmarks/outcome_treatment.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "rows": [],
    }
    if args.part in ("loo", "both"):
        loo = loo_part(16 if args.smoke else 40, 8 if args.smoke else 30, seed=0)
        results["loo"] = loo
        print(f"LOO on the non-diverged trials ({loo['n_diverged']} of {loo['n_trials']} diverged)")
        print(f"{'model of':<16} {'rank corr':>9} {'MSE':>9} {'MLPD':>9}")
        for name, m in loo["variants"].items():
            print(
                f"{name:<16} {m['rank_correlation']:>9.3f} {m['mse']:>9.4g} "
                f"{m['mean_log_predictive_density']:>9.3f}"
            )
            results["rows"].append({"part": "loo", "variant": name, **m})
        b = loo["one_diverged_trial_1e4x"]
        print(f"one trial at 1e4 x the largest of {b['n_clean']} clean trials:")
        for name in ("raw", "treated"):
            print(f"  {name:<8} {b[name]}")
    if args.part in ("failures", "both"):
        seeds = [0] if args.smoke else list(range(args.seeds))
        fail = failures_part(8 if args.smoke else args.trials, seeds)
        results["failures"] = fail
        print(f"failure region lr > 10**{FAIL_LOG_LR}: {fail['n_trials']} trials, seeds {seeds}")
        for mode, s in fail["summary"].items():
            print(f"  {mode:<7} {s}")
            results["rows"].append({"part": "failures", "failed_trials": mode, **s})
    results["load_after"] = os.getloadavg()[0]
    write_results(results, args.out)


if __name__ == "__main__":
    main()
