"""Benchmark: Ax's ``Client.compute_analyses()`` with ax_ext's strategy vs Ax's default.

Workload (issue 16): five mixed parameters (a log-scale and a linear range, an
integer range, a 2-valued and a 4-valued string choice) and an objective that the
learning rate dominates. Each repeat builds two fresh clients holding the same
``--trials`` quasi-random trials, lets each generate (and complete) one BO trial,
so each has a fitted model, and then times ``client.compute_analyses()`` on each,
interleaved:

* ``ax-default``: ``Client.configure_generation_strategy()`` (Ax 1.3.1's MBM:
  ``SingleTaskGP`` on one-hot relaxed choices);
* ``ax_ext``: :func:`ax_ext.generation.sobol_then_bo` (``ScalarChoiceGP``).

It counts the cards, the error cards, and records the sensitivity card's values
(first-order parameter shares, one-hot columns folded into their parameter).

Usage::

    python benchmarks/ax_analyses.py --out benchmarks/results/ax_analyses.json
    python benchmarks/ax_analyses.py --smoke    # 8 trials, one repeat
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
import warnings
from pathlib import Path

import ax
import botorch
import torch
from _out import add_out_argument
from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from ax.core.analysis_card import AnalysisCardGroup, ErrorAnalysisCard

import ax_ext
from ax_ext.generation import UNORDERED_SUFFIX, quiet_ax, sobol_then_bo

OPTIMIZERS = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.1, "adagrad": 0.2}
PARAMETERS = [
    RangeParameterConfig(name="lr", parameter_type="float", bounds=(1e-4, 1e-1), scaling="log"),
    RangeParameterConfig(name="dropout", parameter_type="float", bounds=(0.0, 0.5)),
    RangeParameterConfig(name="layers", parameter_type="int", bounds=(1, 6)),
    ChoiceParameterConfig(name="norm", parameter_type="str", values=["batch", "layer"]),
    ChoiceParameterConfig(
        name="optimizer", parameter_type="str", values=list(OPTIMIZERS), is_ordered=False
    ),
]


def loss(p: dict) -> float:
    return (
        2.0 * (math.log10(p["lr"]) + 2.5) ** 2
        + OPTIMIZERS[p["optimizer"]]
        + 0.02 * p["layers"]
        + 0.05 * p["dropout"]
        + 0.02 * (p["norm"] == "batch")
    )


def new_client(seed: int) -> Client:
    client = Client(random_seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ax's note that 2-valued choices are ordered
        client.configure_experiment(parameters=PARAMETERS, name="analyses")
    client.configure_optimization(objective="-loss")
    return client


def sobol_trials(n: int, seed: int) -> list[dict]:
    client = new_client(seed)
    client.configure_generation_strategy(method="random_search")
    return list(client.get_next_trials(max_trials=n).values())


def make_client(strategy: str, trials: list[dict], seed: int) -> Client:
    client = new_client(seed)
    for params in trials:
        index = client.attach_trial(parameters=params)
        client.complete_trial(index, raw_data={"loss": loss(params)})
    if strategy == "ax-default":
        client.configure_generation_strategy(initialization_budget=5, initialize_with_center=False)
    else:
        client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=len(trials)))
    for index, params in client.get_next_trials(max_trials=1).items():  # fits the model
        client.complete_trial(index, raw_data={"loss": loss(params)})
    return client


def flatten(cards) -> list:
    out = []
    for card in cards:
        out.extend(flatten(card.children) if isinstance(card, AnalysisCardGroup) else [card])
    return out


def sensitivity_shares(cards) -> dict[str, float]:
    card = next((c for c in cards if c.name == "SensitivityAnalysisPlot"), None)
    if card is None:
        return {}
    shares: dict[str, float] = {}
    for name, value in zip(card.df.parameter_name, card.df.sensitivity):
        if " & " in name:
            continue
        name = name.split("_OH_PARAM_")[0].removesuffix(UNORDERED_SUFFIX)
        shares[name] = shares.get(name, 0.0) + abs(float(value))
    total = sum(shares.values()) or 1.0
    return {k: round(v / total, 4) for k, v in shares.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    add_out_argument(parser, "ax_analyses")
    args = parser.parse_args(argv)
    if args.smoke:
        args.trials, args.repeats = 8, 1
    warnings.filterwarnings("ignore")
    runs = {"ax-default": [], "ax_ext": []}
    with quiet_ax():  # Ax's per-trial INFO lines
        for repeat in range(args.repeats):
            trials = sobol_trials(args.trials, seed=repeat)
            for strategy in runs:
                client = make_client(strategy, trials, seed=repeat)
                start = time.perf_counter()
                cards = flatten(client.compute_analyses(display=False))
                elapsed = time.perf_counter() - start
                runs[strategy].append(
                    {
                        "seconds": elapsed,
                        "cards": len(cards),
                        "error_cards": sum(isinstance(c, ErrorAnalysisCard) for c in cards),
                        "card_names": sorted({c.name for c in cards}),
                        "sensitivity": sensitivity_shares(cards),
                    }
                )
                print(f"repeat {repeat}: {strategy:10s} {elapsed:7.1f} s", flush=True)
    rows = []
    for strategy, results in runs.items():
        rows.append(
            {
                "strategy": strategy,
                "median_seconds": statistics.median(r["seconds"] for r in results),
                "seconds": [round(r["seconds"], 2) for r in results],
                "cards": results[0]["cards"],
                "error_cards": max(r["error_cards"] for r in results),
                "sensitivity": [r["sensitivity"] for r in results],
                "card_names": results[0]["card_names"],
            }
        )
    ratio = rows[1]["median_seconds"] / rows[0]["median_seconds"]
    print(
        f"\n{'strategy':12s} {'median [s]':>10s} {'cards':>6s} {'errors':>6s}  "
        "sensitivity (the card's single parameters)"
    )
    for row in rows:
        top = sorted(row["sensitivity"][0].items(), key=lambda kv: -kv[1])
        text = ", ".join(f"{k} {v:.2f}" for k, v in top)
        print(
            f"{row['strategy']:12s} {row['median_seconds']:10.1f} {row['cards']:6d} "
            f"{row['error_cards']:6d}  {text}"
        )
    print(f"ax_ext / ax-default time ratio: {ratio:.2f}")
    results = {
        "benchmark": "ax_analyses",
        "trials": args.trials,
        "repeats": args.repeats,
        "ratio": ratio,
        "rows": rows,
        "versions": {
            "ax_ext": ax_ext.__version__,
            "ax": ax.__version__,
            "botorch": botorch.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1))
    print(f"wrote {out_path}")
    return results


if __name__ == "__main__":
    main()
