"""Benchmark: fitting one (non-batched) model, BoTorch vs ax_ext.

Same data as ``fit_loo.py`` (60 points, 20 scalar + 4 one-hot choice columns,
float64, CPU), the full data set instead of its folds. Prints a table and writes
JSON; wall times are medians of ``--repeats`` runs, interleaved.

Usage::

    python benchmarks/fit_single.py              # writes benchmarks/out/fit_single.json
    python benchmarks/fit_single.py --smoke
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from _out import add_out_argument
from fit_loo import (
    CallCounter,
    botorch_fit,
    build,
    describe_device,
    make_data,
    per_member_mll,
    synchronize,
)

from ax_ext.fit import fit_gpytorch_mll, get_fit_result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    add_out_argument(parser, "fit_single")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.repeats = 12, 1
    device = torch.device(args.device)
    X, Y = (t.to(device) for t in make_data(args.n))
    rows = []
    print(f"{'model':15s} {'BoTorch [s]':>11s} {'ax_ext [s]':>10s} {'ratio':>6s} "
          f"{'evals BoTorch':>13s} {'evals ax_ext':>12s} {'dMLL':>9s}")  # fmt: skip
    for model_name in ("SingleTaskGP", "ScalarChoiceGP"):
        times = {"botorch": [], "ax_ext": []}
        for _ in range(args.repeats):
            torch.manual_seed(0)
            mll = build(model_name, X, Y)
            counter = CallCounter(mll)
            synchronize(device)
            start = time.perf_counter()
            botorch_fit(mll, None)
            synchronize(device)
            times["botorch"].append(time.perf_counter() - start)
            mll_b, evals_b = per_member_mll(mll), counter.evaluations
            torch.manual_seed(0)
            mll = build(model_name, X, Y)
            synchronize(device)
            start = time.perf_counter()
            fit_gpytorch_mll(mll)
            synchronize(device)
            times["ax_ext"].append(time.perf_counter() - start)
            mll_a, evals_a = per_member_mll(mll), get_fit_result(mll).total_evaluations
        row = {
            "model": model_name,
            "botorch_s": statistics.median(times["botorch"]),
            "ax_ext_s": statistics.median(times["ax_ext"]),
            "times": times,
            "evaluations_botorch": evals_b,
            "evaluations_ax_ext": evals_a,
            "mll_botorch": float(mll_b[0]),
            "mll_ax_ext": float(mll_a[0]),
        }
        row["ratio_ax_ext_over_botorch"] = row["ax_ext_s"] / row["botorch_s"]
        rows.append(row)
        print(f"{model_name:15s} {row['botorch_s']:11.3f} {row['ax_ext_s']:10.3f} "
              f"{row['ratio_ax_ext_over_botorch']:6.2f} {evals_b:13d} {evals_a:12d} "
              f"{row['mll_ax_ext'] - row['mll_botorch']:9.2e}")  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "points": args.n,
                "repeats": args.repeats,
                "device": describe_device(device),
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {out}")
    return {"rows": rows}


if __name__ == "__main__":
    main()
