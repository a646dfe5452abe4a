"""Benchmark: time to generate one BO trial, ax_ext's strategy vs Ax's default.

Workload (issue 4): a 24-parameter mixed search space (20 range parameters, 5 of
them log-scale and 4 integer, plus 4 unordered choice parameters with 3-4 string
values) and 60 completed trials of a synthetic objective, attached to an Ax
``Client``. Each repeat builds two fresh clients holding the same 60 trials and
times one ``get_next_trials(max_trials=1)`` on each, interleaved:

* ``ax-default``: ``Client.configure_generation_strategy()`` (Ax 1.3.1's
  Center+Sobol+MBM, "fast": ``SingleTaskGP`` on one-hot relaxed choices,
  ``optimize_acqf`` then rounding);
* ``ax_ext``: :func:`ax_ext.generation.sobol_then_bo` (``ScalarChoiceGP`` fitted by
  ax_ext, its lengthscale prior strength chosen from the data, choices kept
  discrete, BoTorch's mixed optimizer);
* ``ax_ext-default-prior``: the same with the prior strength fixed at "default".

Both count the existing trials as their initialization, so the timed call is a BO
trial. The script also times where the time goes (model fit vs acquisition
optimization), by wrapping Ax's fitting dispatcher and ``Acquisition.optimize``
in this process only.

Usage::

    python benchmarks/gen_bo.py              # writes benchmarks/out/gen_bo.json
    python benchmarks/gen_bo.py --smoke      # seconds: 12 trials, 6 parameters
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import ax
import botorch
import torch
from _out import add_out_argument
from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from ax.generators.torch.botorch_modular import acquisition as ax_acquisition
from ax.generators.torch.botorch_modular import surrogate as ax_surrogate

import ax_ext
from ax_ext.generation import sobol_then_bo

CHOICES = {
    "optimizer": ["adam", "sgd", "rmsprop", "adagrad"],
    "activation": ["relu", "gelu", "tanh"],
    "schedule": ["cosine", "step", "constant"],
    "norm": ["batch", "layer", "none"],
}


def parameters(num_range: int) -> list:
    out = []
    for i in range(num_range):
        if i % 4 == 0:
            cfg = RangeParameterConfig(
                name=f"x{i}", parameter_type="float", bounds=(1e-4, 1.0), scaling="log"
            )
        elif i % 5 == 1:
            cfg = RangeParameterConfig(name=f"x{i}", parameter_type="int", bounds=(1, 8))
        else:
            cfg = RangeParameterConfig(name=f"x{i}", parameter_type="float", bounds=(0.0, 1.0))
        out.append(cfg)
    for name, values in CHOICES.items():
        out.append(
            ChoiceParameterConfig(name=name, parameter_type="str", values=values, is_ordered=False)
        )
    return out


def objective(p: dict, num_range: int) -> float:
    value = 0.0
    for i in range(num_range):
        x = p[f"x{i}"]
        x = (math.log10(x) + 4) / 4 if i % 4 == 0 else (x - 1) / 7 if i % 5 == 1 else x
        value += math.sin(3 * x + i) / (1 + i)
    value += {"adam": 0.0, "sgd": 0.5, "rmsprop": 0.2, "adagrad": 0.4}[p["optimizer"]]
    value += {"relu": 0.0, "gelu": -0.1, "tanh": 0.3}[p["activation"]]
    return value


#: ax_ext's strategies: the lengthscale prior of each
PRIORS = {"ax_ext": "auto", "ax_ext-default-prior": "default"}


def sobol_parameterizations(num_range: int, n: int, seed: int) -> list[dict]:
    client = Client(random_seed=seed)
    client.configure_experiment(parameters=parameters(num_range))
    client.configure_optimization(objective="-loss")
    client.configure_generation_strategy(method="random_search")
    return list(client.get_next_trials(max_trials=n).values())


def make_client(strategy: str, num_range: int, trials: list[dict], seed: int, acqf: dict | None):
    client = Client(random_seed=seed)
    client.configure_experiment(parameters=parameters(num_range))
    client.configure_optimization(objective="-loss")
    for params in trials:
        index = client.attach_trial(parameters=params)
        client.complete_trial(index, raw_data={"loss": objective(params, num_range)})
    if strategy == "ax-default":
        # the existing trials are the initialization: the next trial is a BO (MBM) one
        client.configure_generation_strategy(initialization_budget=5, initialize_with_center=False)
    else:
        prior = PRIORS[strategy]
        client.set_generation_strategy(
            sobol_then_bo(
                client,
                optimizer_kwargs=acqf,
                scalar_lengthscale_prior=prior,
                choice_lengthscale_prior=prior,
            )
        )
    return client


class Timers:
    """Wraps Ax's fit dispatcher and ``Acquisition.optimize`` to time them."""

    def __init__(self):
        self.fit = 0.0
        self.acqf = 0.0

    @contextmanager
    def installed(self):
        fit, optimize = ax_surrogate.fit_botorch_model, ax_acquisition.Acquisition.optimize

        def timed_fit(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fit(*args, **kwargs)
            finally:
                self.fit += time.perf_counter() - start

        def timed_optimize(*args, **kwargs):
            start = time.perf_counter()
            try:
                return optimize(*args, **kwargs)
            finally:
                self.acqf += time.perf_counter() - start

        ax_surrogate.fit_botorch_model = timed_fit
        ax_acquisition.Acquisition.optimize = timed_optimize
        try:
            yield self
        finally:
            ax_surrogate.fit_botorch_model = fit
            ax_acquisition.Acquisition.optimize = optimize


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--range-params", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--acqf-options",
        default=None,
        help="JSON of acquisition-optimizer options for ax_ext's strategy (default: its own)",
    )
    add_out_argument(parser, "gen_bo")
    args = parser.parse_args(argv)
    acqf = None if args.acqf_options is None else json.loads(args.acqf_options)
    if args.smoke:
        args.trials, args.range_params, args.repeats = 12, 2, 1
        acqf = {"num_restarts": 2, "raw_samples": 32}
    warnings.simplefilter("ignore")
    import logging

    logging.getLogger("ax").setLevel(logging.WARNING)
    trials = sobol_parameterizations(args.range_params, args.trials, seed=0)
    rows = {s: {"times": [], "fit": [], "acqf": [], "node": None} for s in ("ax-default", *PRIORS)}
    for repeat in range(args.repeats):
        for strategy in rows:
            client = make_client(strategy, args.range_params, trials, seed=repeat, acqf=acqf)
            with Timers().installed() as timers:
                start = time.perf_counter()
                (index,) = client.get_next_trials(max_trials=1)
                elapsed = time.perf_counter() - start
            row = rows[strategy]
            row["times"].append(elapsed)
            row["fit"].append(timers.fit)
            row["acqf"].append(timers.acqf)
            run = client._experiment.trials[index].generator_runs[0]
            row["node"] = run._generation_node_name
            value = (run.gen_metadata or {}).get("expected_acquisition_value")
            row.setdefault("acquisition_value", []).append(
                None if value is None else torch.tensor(value).flatten().tolist()
            )
            chosen = [
                m["lengthscale_prior_selection"]
                for m in (run.gen_metadata or {}).get("models_used", [])
                if "lengthscale_prior_selection" in m
            ]
            row.setdefault("prior_selection", []).append(chosen[0] if chosen else None)
            model = client._generation_strategy.adapter.generator.surrogate.model
            row["model"] = type(model).__name__
    print(f"{'strategy':20s} {'node':6s} {'model':16s} {'gen [s]':>8s} {'fit [s]':>8s} "
          f"{'acqf [s]':>9s} {'other [s]':>9s}")  # fmt: skip
    results = {
        "workload": {
            "completed_trials": args.trials,
            "parameters": args.range_params + len(CHOICES),
            "range_parameters": args.range_params,
            "choice_parameters": len(CHOICES),
            "repeats": args.repeats,
        },
        "machine": {"platform": platform.platform(), "cpu_threads": torch.get_num_threads()},
        "versions": {
            "ax": ax.__version__,
            "botorch": botorch.__version__,
            "torch": torch.__version__,
            "ax_ext": ax_ext.__version__,
        },
        "ax_ext_acqf_options": acqf,
        "rows": [],
    }
    for strategy, row in rows.items():
        med = {k: statistics.median(row[k]) for k in ("times", "fit", "acqf")}
        out = {
            "strategy": strategy,
            "node": row["node"],
            "model": row["model"],
            "median_s": med["times"],
            "median_fit_s": med["fit"],
            "median_acqf_s": med["acqf"],
            **{
                k: row.get(k)
                for k in ("times", "fit", "acqf", "acquisition_value", "prior_selection")
            },
        }
        results["rows"].append(out)
        other = med["times"] - med["fit"] - med["acqf"]
        print(f"{strategy:20s} {row['node']:6s} {row['model']:16s} {med['times']:8.2f} "
              f"{med['fit']:8.2f} {med['acqf']:9.2f} {other:9.2f}")  # fmt: skip
    for row in results["rows"][1:]:
        ratio = row["median_s"] / results["rows"][0]["median_s"]
        row["ratio_over_ax_default"] = ratio
        print(f"{row['strategy']} / ax-default time ratio: {ratio:.2f}")
    results["ratio_ax_ext_over_ax_default"] = results["rows"][1]["ratio_over_ax_default"]
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1))
    print(f"wrote {out_path}")
    return results


if __name__ == "__main__":
    main()
