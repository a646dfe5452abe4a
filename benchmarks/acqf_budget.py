"""Benchmark: acquisition-optimizer budgets for ax_ext's BO node, value reached vs time.

Ax 1.3.1 hands mixed search spaces with more than a few discrete combinations to
BoTorch's ``optimize_acqf_mixed_alternating`` with BoTorch's budget: 20 restarts
from 1024 raw samples, alternating discrete neighbour steps with continuous
L-BFGS steps of at most 8 iterations, until an alternation improves the
acquisition value by less than 1e-8. With choices kept discrete (ax_ext's BO
node), 8 continuous iterations rarely finish a continuous step, so the loop
alternates a dozen times. This script measures, on several workloads, the
acquisition value each budget reaches on the same fitted model and acquisition
function, and the time it takes.

Workloads: the search space of ``gen_bo.py`` (``R`` range parameters, a quarter
of them log-scale and some integer, plus 4 string choices) with ``R`` in 4, 10,
20, and 20 or 60 completed trials of its synthetic objective, two seeds. For
each, ax_ext's strategy fits ``ScalarChoiceGP`` and builds the acquisition
function once; each budget then optimizes it ``--repeats`` times (interleaved).
The table reports median time and the worst, over repeats, of the best
acquisition value (log-EI) found, and the gap to the best value any budget found.

Usage::

    python benchmarks/acqf_budget.py        # writes benchmarks/out/acqf_budget.json
    python benchmarks/acqf_budget.py --smoke
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import time
import warnings

import botorch.optim.optimize_mixed as optimize_mixed
import torch
from _out import add_out_argument, write_results
from ax.api.client import Client
from ax.generators.torch.botorch_modular import acquisition as ax_acquisition
from gen_bo import objective, parameters, sobol_parameterizations

from ax_ext.generation import MIXED_ALTERNATING_OPTIONS, sobol_then_bo

BUDGETS = {
    # BoTorch's (and Ax's) defaults
    "botorch-default": {"num_restarts": 20, "raw_samples": 1024, "options": {}},
    # only the continuous steps run to convergence
    "maxiter_continuous=50": {
        "num_restarts": 20,
        "raw_samples": 1024,
        "options": {"maxiter_continuous": 50},
    },
    # and fewer restarts
    "+ 10 restarts / 512 raw": {
        "num_restarts": 10,
        "raw_samples": 512,
        "options": {"maxiter_continuous": 50},
    },
    # ax_ext's budget: MIXED_ALTERNATING_OPTIONS
    "ax_ext": MIXED_ALTERNATING_OPTIONS,
}


def capture_inputs(num_range: int, trials: int, seed: int) -> dict:
    """Ax's arguments to ``optimize_acqf_mixed_alternating`` for one BO trial."""
    captured: dict = {}
    original = ax_acquisition.optimize_acqf_mixed_alternating

    def spy(*args, **kwargs):
        captured.update(kwargs)
        return original(*args, **kwargs)

    client = Client(random_seed=seed)
    client.configure_experiment(parameters=parameters(num_range))
    client.configure_optimization(objective="-loss")
    for params in sobol_parameterizations(num_range, trials, seed=seed):
        index = client.attach_trial(parameters=params)
        client.complete_trial(index, raw_data={"loss": objective(params, num_range)})
    # the attached trials are the exploration: the next trial is a BO one
    client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=5))
    ax_acquisition.optimize_acqf_mixed_alternating = spy
    try:
        client.get_next_trials(max_trials=1)
    finally:
        ax_acquisition.optimize_acqf_mixed_alternating = original
    if not captured:
        raise RuntimeError("Ax did not use optimize_acqf_mixed_alternating on this workload.")
    return captured


def run_budget(inputs: dict, budget: dict, seed: int) -> tuple[float, float]:
    kwargs = dict(inputs)
    # Ax's options (batch limits) without ax_ext's additions, then the budget's
    base = dict(inputs.get("options") or {})
    for key in MIXED_ALTERNATING_OPTIONS["options"]:
        base.pop(key, None)
    kwargs["options"] = {**base, **budget.get("options", {})}
    for key in ("num_restarts", "raw_samples"):
        if key in budget:
            kwargs[key] = budget[key]
    torch.manual_seed(seed)
    start = time.perf_counter()
    _, value = optimize_mixed.optimize_acqf_mixed_alternating(**kwargs)
    return time.perf_counter() - start, float(value.max())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--candidates",
        default=None,
        help="JSON {name: budget} of further budgets to compare, e.g. "
        '\'{"fewer init iterations": {"num_restarts": 10, "raw_samples": 512, '
        '"options": {"maxiter_continuous": 50, "maxiter_init": 30}}}\'',
    )
    add_out_argument(parser, "acqf_budget")
    args = parser.parse_args(argv)
    budgets = dict(BUDGETS)
    if args.candidates:
        budgets.update(json.loads(args.candidates))
    workloads = [(r, t, s) for r in (4, 10, 20) for t in (20, 60) for s in (0, 1)]
    if args.smoke:
        workloads, args.repeats = [(2, 12, 0)], 1
    warnings.simplefilter("ignore")
    for handler in logging.getLogger("ax").handlers:  # Ax's handler, as Ax's docs advise
        handler.setLevel(logging.WARNING)
    rows = []
    header = f"{'range':>5s} {'trials':>6s} {'seed':>4s} " + " ".join(
        f"{name + ' [s]':>32s} {'gap':>8s}" for name in budgets
    )
    print(header)
    for num_range, trials, seed in workloads:
        inputs = capture_inputs(num_range, trials, seed)
        times: dict[str, list[float]] = {name: [] for name in budgets}
        values: dict[str, list[float]] = {name: [] for name in budgets}
        for repeat in range(args.repeats):
            for name, budget in budgets.items():
                elapsed, value = run_budget(inputs, budget, seed=repeat)
                times[name].append(elapsed)
                values[name].append(value)
        best = max(max(v) for v in values.values())
        row = {"range_parameters": num_range, "trials": trials, "seed": seed, "budgets": {}}
        line = f"{num_range:5d} {trials:6d} {seed:4d} "
        for name in budgets:
            worst = min(values[name])
            med = statistics.median(times[name])
            row["budgets"][name] = {
                "median_s": med,
                "times": times[name],
                "values": values[name],
                "gap_to_best": best - worst,
            }
            line += f"{med:32.2f} {best - worst:8.1e} "
        rows.append(row)
        print(line)
    summary = {}
    for name in budgets:
        total = sum(r["budgets"][name]["median_s"] for r in rows)
        worst_gap = max(r["budgets"][name]["gap_to_best"] for r in rows)
        summary[name] = {"total_median_s": total, "worst_gap": worst_gap}
        print(f"{name:32s} total {total:7.2f} s   worst gap to best log-EI {worst_gap:.1e}")
    results = {
        "machine": {"platform": platform.platform(), "cpu_threads": torch.get_num_threads()},
        "budgets": budgets,
        "repeats": args.repeats,
        "rows": rows,
        "summary": summary,
    }
    write_results(results, args.out)
    return results


if __name__ == "__main__":
    main()
