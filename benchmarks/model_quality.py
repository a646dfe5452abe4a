"""Benchmark: which GP models the trials of real studies best (refit leave-one-out)?

For each study saved by ``ax-ext tune`` (default: the 128-trial Sobol studies in
``benchmarks/data/``) and each n in ``--sizes``, the first n completed trials (by
trial index) are cross-validated by :func:`ax_ext.cross_validation.ax_cross_validation`
(leave-one-out, every fold refitted by ax_ext's fitter, warm-started from the
full fit; parameters encoded as Ax's BO encodes them; the objective in its own
units) for:

* ``SingleTaskGP`` (Ax's default model; BoTorch's defaults);
* ``MixedSingleTaskGP`` (``cat_dims``: the one-hot choice columns);
* ``ScalarChoiceGP`` at each fixed lengthscale-prior strength (tight, default,
  loose, looser) and with ``"auto"`` (chosen from the data at every fit);
* ``strategy``: ``ScalarChoiceGP`` with the priors :func:`ax_ext.generation.sobol_then_bo`
  uses by default (read from its signature, so the row follows the default).

It prints the mean log predictive density (MLPD, higher is better) and the mean
squared error (MSE) of the held-out predictions per study and n, marks the best
MLPD, and says where the strategy's model is within 0.05 nats of the best fixed
model (the issue's target) and whether its MSE is no worse than SingleTaskGP's.

Usage::

    python benchmarks/model_quality.py          # the studies in benchmarks/data/, n = 20 40 80
    python benchmarks/model_quality.py --smoke  # one study, n = 12, few optimizer steps
"""

from __future__ import annotations

import argparse
import inspect
import math
import platform
import time
import warnings
from pathlib import Path

import torch
from _out import add_out_argument, write_results
from botorch.models import MixedSingleTaskGP, SingleTaskGP

from ax_ext.adapter import default_metric_name, encode_search_space, experiment_data, get_experiment
from ax_ext.cross_validation import ax_cross_validation
from ax_ext.generation import sobol_then_bo
from ax_ext.models import ScalarChoiceGP
from ax_ext.models.prior_selection import AUTO_CANDIDATES
from ax_ext.runner.report import load_study_client

DATA = Path(__file__).resolve().parent / "data"
TOLERANCE = 0.05  # nats: the "within 0.05 of the best"


def strategy_priors() -> dict[str, str]:
    """The lengthscale priors ``sobol_then_bo`` gives its model by default."""
    params = inspect.signature(sobol_then_bo).parameters
    return {
        "scalar_lengthscale_prior": params["scalar_lengthscale_prior"].default,
        "choice_lengthscale_prior": params["choice_lengthscale_prior"].default,
    }


def models(choice_dims: list[int]) -> dict[str, tuple[type, dict]]:
    out: dict[str, tuple[type, dict]] = {
        "SingleTaskGP": (SingleTaskGP, {}),
        "MixedSingleTaskGP": (MixedSingleTaskGP, {"cat_dims": choice_dims}),
    }
    for s in (*AUTO_CANDIDATES, "auto"):
        kwargs = {"scalar_lengthscale_prior": s, "choice_lengthscale_prior": s}
        out[f"ScalarChoiceGP {s}"] = (ScalarChoiceGP, kwargs)
    out["strategy"] = (ScalarChoiceGP, strategy_priors())
    return out


def evaluate_study(path: Path, sizes: list[int], fit_kwargs: dict) -> list[dict]:
    client = load_study_client(path)
    experiment = get_experiment(client)
    metric = default_metric_name(experiment)
    usable, _, _ = experiment_data(experiment, metric)
    indices = sorted({r.trial_index for r in usable})
    # MixedSingleTaskGP's categorical columns: those of every choice parameter (the
    # one-hot columns of unordered ones and the 0/1 column of two-valued ones)
    from ax.core.parameter import ChoiceParameter

    encoding = encode_search_space(experiment.search_space)
    space = experiment.search_space.parameters
    choice_dims = [
        i
        for i, name in enumerate(encoding.column_parameter)
        if isinstance(space[name], ChoiceParameter)
    ]
    rows = []
    for n in sizes:
        if n > len(indices):
            print(f"  {path.name}: only {len(indices)} usable trials, skipping n={n}")
            continue
        row = {"study": path.stem, "metric": metric, "n": n, "mlpd": {}, "mse": {}, "seconds": {}}
        for name, (cls, kwargs) in models(choice_dims).items():
            start = time.perf_counter()
            cv = ax_cross_validation(
                client,
                metric,
                model_cls=cls,
                model_kwargs=kwargs,
                fit_kwargs=fit_kwargs,
                trial_indices=indices[:n],
            )
            row["seconds"][name] = time.perf_counter() - start
            row["mlpd"][name] = cv.metrics["mean_log_predictive_density"]
            row["mse"][name] = cv.metrics["mse"]
        fixed = {
            k: v for k, v in row["mlpd"].items() if k not in ("strategy", "ScalarChoiceGP auto")
        }
        row["best_fixed"] = max(fixed, key=fixed.get)
        row["strategy_gap"] = fixed[row["best_fixed"]] - row["mlpd"]["strategy"]
        row["auto_gap"] = fixed[row["best_fixed"]] - row["mlpd"]["ScalarChoiceGP auto"]
        row["strategy_within_tolerance"] = row["strategy_gap"] <= TOLERANCE
        row["strategy_mse_le_single_task"] = row["mse"]["strategy"] <= row["mse"]["SingleTaskGP"]
        rows.append(row)
        mlpd = ", ".join(f"{k} {v:.3f}" for k, v in row["mlpd"].items())
        print(f"  n={n}: MLPD {mlpd} ({sum(row['seconds'].values()):.0f} s)", flush=True)
    return rows


def print_table(rows: list[dict]) -> None:
    names = list(rows[0]["mlpd"])
    short = [n.replace("ScalarChoiceGP ", "SCGP ").replace("SingleTaskGP", "STGP") for n in names]
    for key, label in (("mlpd", "refit LOO MLPD (higher is better; * best fixed)"), ("mse", "MSE")):
        print(f"\n{label}")
        print(f"{'study':24s} {'n':>3s} " + " ".join(f"{s:>12s}" for s in short))
        for row in rows:
            cells = []
            for name in names:
                mark = "*" if key == "mlpd" and name == row["best_fixed"] else " "
                cells.append(f"{row[key][name]:11.4g}{mark}")
            print(f"{row['study']:24s} {row['n']:3d} " + " ".join(cells))
    print()
    for row in rows:
        print(
            f"{row['study']} n={row['n']}: strategy's model {row['strategy_gap']:.3f} nats below "
            f"the best fixed ({row['best_fixed']}), auto {row['auto_gap']:.3f}; within "
            f"{TOLERANCE}: {row['strategy_within_tolerance']}; MSE <= SingleTaskGP's: "
            f"{row['strategy_mse_le_single_task']}"
        )


def markdown(rows: list[dict], key: str) -> str:
    """One Markdown table of ``key`` (``"mlpd"`` or ``"mse"``): a row per study and n."""
    names = list(rows[0][key])
    lines = [
        "| study | n | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for row in rows:
        cells = []
        for name in names:
            text = f"{row[key][name]:.3g}" if key == "mse" else f"{row[key][name]:.3f}"
            cells.append(f"**{text}**" if key == "mlpd" and name == row["best_fixed"] else text)
        lines.append(f"| {row['study']} | {row['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", nargs="+", default=None, help="default benchmarks/data/*.db")
    parser.add_argument("--sizes", nargs="+", type=int, default=[20, 40, 80])
    parser.add_argument("--smoke", action="store_true")
    add_out_argument(parser, "model_quality")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    studies = [Path(s) for s in args.studies] if args.studies else sorted(DATA.glob("*.db"))
    fit_kwargs: dict = {}
    if args.smoke:
        studies, args.sizes = studies[:1], [12]
        fit_kwargs = {"optimizer_kwargs": {"options": {"maxiter": 30}}}
    start = time.perf_counter()
    rows = []
    for path in studies:
        print(f"{path.name} ...", flush=True)
        rows.extend(evaluate_study(path, args.sizes, fit_kwargs))
    print_table(rows)
    ok = sum(r["strategy_within_tolerance"] and r["strategy_mse_le_single_task"] for r in rows)
    print(f"target met (within {TOLERANCE} nats and MSE <= SingleTaskGP's) on {ok}/{len(rows)}")
    results = {
        "machine": {"platform": platform.platform(), "cpu_threads": torch.get_num_threads()},
        "studies": [str(p.name) for p in studies],
        "strategy_priors": strategy_priors(),
        "wall_seconds": time.perf_counter() - start,
        "rows": rows,
        "target_met": ok,
        "finite": all(math.isfinite(v) for r in rows for v in r["mlpd"].values()),
    }
    write_results(results, args.out)
    md = Path(args.out).with_suffix(".md")
    md.write_text(markdown(rows, "mlpd") + "\n" + markdown(rows, "mse"))
    print(f"wrote {md}")
    return results


if __name__ == "__main__":
    main()
