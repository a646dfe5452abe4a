"""Benchmark: how good are the hyperparameters each strategy finds, on real tuning problems?

Runs ``ax-ext compare`` (the command line, one process per problem and seed, so
the CLI is what is measured) for every problem, seed and strategy, and reports
per problem:

* the median and quartiles over seeds of the best value after 10, 20, 30 and 40
  trials (the checkpoints up to ``--trials``);
* the number of trials each strategy needs to reach Ax default's median best
  value after the last trial (median over seeds; ``>T`` where a seed never gets
  there within ``--trials``, and then the median counts it as ``T + 1``);
* the total generation time (seconds spent proposing trials) per strategy.

Problems (all offline, built into ``ax-ext``): ``synthetic`` (mixed, known
optimum 0), ``sklearn-sgd`` (heavy-tailed: diverging SGD), ``sklearn-forest``,
``sklearn-svr``, ``sklearn-mlp`` and ``digits-cnn``. Strategies: ``ax_ext``,
``ax-default`` (Ax's ``Client`` default), ``optuna-tpe``, ``optuna-gp`` (Optuna,
``pip install 'ax-ext[bench]'``) and ``sobol``.

Writes the summary and every trial as JSON (``--out``), every trial as CSV and a
plotly chart (HTML) next to it; each (problem, seed) run's CSV is kept in a
``<out stem>_runs/`` folder, and a rerun with the same ``--out`` skips the runs
that are complete there (so an interrupted benchmark resumes).

Usage::

    python benchmarks/bo_quality.py --jobs 2   # 6 problems x 5 strategies x 5 seeds x 40 trials
    python benchmarks/bo_quality.py --smoke    # 2 problems, 1 seed, 4 trials, all strategies
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
from _out import add_out_argument, write_results

PROBLEMS = (
    "synthetic",
    "sklearn-sgd",
    "sklearn-forest",
    "sklearn-svr",
    "sklearn-mlp",
    "digits-cnn",
)
STRATEGIES = ("ax_ext", "ax-default", "optuna-tpe", "optuna-gp", "sobol")
CHECKPOINTS = (10, 20, 30, 40)
REFERENCE = "ax-default"
MINIMIZE = True  # every problem above minimizes; the CSV's objective column is "value"


def _complete(csv: Path, args: argparse.Namespace) -> bool:
    if not csv.exists():
        return False
    done = pd.read_csv(csv)
    return len(done) == len(args.strategies) * args.trials and (
        list(dict.fromkeys(done["strategy"])) == list(args.strategies)
    )


def _run(problem: str, seed: int, args: argparse.Namespace, runs: Path) -> tuple[Path, float]:
    """One ``ax-ext compare`` process for (problem, seed); its CSV and wall seconds."""
    csv = runs / f"{problem}_seed{seed}.csv"
    if _complete(csv, args):
        return csv, 0.0
    csv.unlink(missing_ok=True)
    command = [sys.executable, "-m", "ax_ext", "compare", problem, "--strategies"]
    command += [*args.strategies, "--seeds", str(seed), "--trials", str(args.trials)]
    command += ["--csv", str(csv), "--out", str(runs / f"{problem}_seed{seed}.html")]
    command += ["--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    start = time.perf_counter()
    res = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({res.returncode}):\n{res.stderr[-3000:]}")
    print(f"  {problem} seed {seed}: {seconds:.0f} s", flush=True)
    return csv, seconds


def _best_at(df: pd.DataFrame, trial: int) -> pd.Series:
    """Best value so far at ``trial`` per seed (the last row up to it)."""
    upto = df[df["trial"] <= trial].sort_values("trial")
    return upto.groupby("seed")["best_so_far"].last()


def _trials_to(df: pd.DataFrame, target: float, trials: int) -> list[int]:
    """Per seed, the first trial whose best so far reaches ``target`` (``trials + 1``: never)."""
    out = []
    for _, run in df.groupby("seed"):
        hit = run[run["best_so_far"] <= target + 1e-12 * abs(target)]["trial"]
        out.append(int(hit.min()) if len(hit) else trials + 1)
    return out


def summarize(df: pd.DataFrame, trials: int) -> dict:
    """Per problem and strategy: quartiles at the checkpoints, trials to Ax's median, time."""
    summary: dict = {}
    checkpoints = [c for c in CHECKPOINTS if c <= trials] or [trials]
    for problem, pdf in df.groupby("problem", sort=False):
        ref = pdf[pdf["strategy"] == REFERENCE]
        target = float(_best_at(ref, trials).median()) if len(ref) else math.nan
        rows = {}
        for strategy, sdf in pdf.groupby("strategy", sort=False):
            best = {}
            for c in checkpoints:
                values = _best_at(sdf, c)
                best[str(c)] = {
                    "q25": float(values.quantile(0.25)),
                    "median": float(values.median()),
                    "q75": float(values.quantile(0.75)),
                }
            reach = _trials_to(sdf, target, trials) if math.isfinite(target) else []
            median_reach = float(pd.Series(reach).median()) if reach else math.nan
            rows[strategy] = {
                "seeds": int(sdf["seed"].nunique()),
                "best": best,
                "trials_to_reference": reach,
                "median_trials_to_reference": median_reach,
                "generation_seconds": float(sdf["generation_seconds"].sum()),
                "failed_trials": int((sdf["status"] == "FAILED").sum()),
            }
        summary[problem] = {"reference_target": target, "strategies": rows}
    return summary


def print_tables(summary: dict, trials: int) -> None:
    for problem, entry in summary.items():
        target = entry["reference_target"]
        print(
            f"\n{problem}: best value (median [q25, q75] over seeds); {REFERENCE}'s "
            f"median best after {trials} trials = {target:.5g}"
        )
        strategies = entry["strategies"]
        checkpoints = list(next(iter(strategies.values()))["best"])
        head = f"  {'strategy':<11} {'seeds':>5} " + " ".join(f"{'@' + c:>26}" for c in checkpoints)
        print(head + f" {'trials to ref':>13} {'gen s':>8}")
        for strategy, row in strategies.items():
            cells = []
            for c in checkpoints:
                b = row["best"][c]
                cells.append(f"{b['median']:.4g} [{b['q25']:.3g}, {b['q75']:.3g}]".rjust(26))
            reach = row["median_trials_to_reference"]
            reach_text = (
                "-" if math.isnan(reach) else (f">{trials}" if reach > trials else f"{reach:g}")
            )
            print(
                f"  {strategy:<11} {row['seeds']:>5} {' '.join(cells)} {reach_text:>13} "
                f"{row['generation_seconds']:>8.1f}"
            )
    totals: dict[str, float] = {}
    for entry in summary.values():
        for strategy, row in entry["strategies"].items():
            totals[strategy] = totals.get(strategy, 0.0) + row["generation_seconds"]
    print("\ntotal generation seconds: " + ", ".join(f"{s} {t:.1f}" for s, t in totals.items()))


def markdown(summary: dict, trials: int) -> str:
    """The summary as Markdown tables: per problem, median [q25, q75] at each checkpoint."""
    lines = []
    for problem, entry in summary.items():
        strategies = entry["strategies"]
        checkpoints = list(next(iter(strategies.values()))["best"])
        lines += [
            f"**{problem}** ({REFERENCE}'s median best after {trials} trials: "
            f"{entry['reference_target']:.4g})",
            "",
            "| strategy | seeds | "
            + " | ".join(f"best @{c}" for c in checkpoints)
            + f" | trials to reach {REFERENCE}'s median | generation s |",
            "| --- | --- | " + " | ".join("---" for _ in checkpoints) + " | --- | --- |",
        ]
        for strategy, row in strategies.items():
            cells = [
                f"{row['best'][c]['median']:.4g} [{row['best'][c]['q25']:.3g}, "
                f"{row['best'][c]['q75']:.3g}]"
                for c in checkpoints
            ]
            reach = row["median_trials_to_reference"]
            reach_text = (
                "-" if math.isnan(reach) else (f">{trials}" if reach > trials else f"{reach:g}")
            )
            lines.append(
                f"| {strategy} | {row['seeds']} | {' | '.join(cells)} | {reach_text} | "
                f"{row['generation_seconds']:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_chart(df: pd.DataFrame, path: Path) -> None:
    """One subplot per problem: median best so far with a min-max band over seeds."""
    from plotly.subplots import make_subplots

    from ax_ext.runner.compare import comparison_figure

    problems = list(dict.fromkeys(df["problem"]))
    cols = min(3, len(problems))
    rows = -(-len(problems) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=problems)
    for i, problem in enumerate(problems):
        sub = df[df["problem"] == problem]
        panel = comparison_figure(sub)
        for trace in panel.data:
            trace.showlegend = bool(i == 0 and trace.showlegend is not False)
            fig.add_trace(trace, row=i // cols + 1, col=i % cols + 1)
        if (sub["best_so_far"].dropna() > 0).all():
            fig.update_yaxes(type="log", row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(
        template="plotly_white",
        title="best value so far (lower is better): median over seeds, min-max band",
        height=380 * rows,
    )
    fig.update_xaxes(title_text="trials")
    fig.write_html(path, include_plotlyjs=True, full_html=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=1, help="compare processes side by side")
    parser.add_argument("--threads", type=int, default=1, help="OMP/MKL threads per process")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="synthetic and sklearn-sgd, seed 0, 4 trials, all strategies",
    )
    parser.add_argument(
        "--only-existing",
        action="store_true",
        help="run nothing: summarize the (strategy, seed) runs in the runs folder that ran "
        "all --trials trials (of complete and interrupted compare runs)",
    )
    add_out_argument(parser, "bo_quality")
    args = parser.parse_args(argv)
    if args.smoke:
        args.problems, args.seeds, args.trials = ["synthetic", "sklearn-sgd"], [0], 4
    out = Path(args.out)
    runs = out.parent / f"{out.stem}_runs"
    runs.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    start = time.perf_counter()
    # seeds outermost: whatever finishes covers every problem for the first seeds
    jobs = [(problem, seed) for seed in args.seeds for problem in args.problems]
    if args.only_existing:  # every (strategy, seed) that ran all its trials, of any run
        results = [
            (job, (runs / f"{job[0]}_seed{job[1]}.csv", math.nan))
            for job in jobs
            if (runs / f"{job[0]}_seed{job[1]}.csv").exists()
        ]
    else:
        print(f"{len(jobs)} compare runs, {args.jobs} at a time", flush=True)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(lambda job: (job, _run(*job, args, runs)), jobs))
    frames = []
    run_seconds = {}
    for (problem, seed), (csv, seconds) in results:
        frame = pd.read_csv(csv)
        frame.insert(0, "problem", problem)
        counts = frame.groupby("strategy")["trial"].transform("count")
        frames.append(frame[counts == args.trials])  # no strategy's partial run
        run_seconds[f"{problem}:{seed}"] = seconds
    df = pd.concat(frames, ignore_index=True)
    summary = summarize(df, args.trials)
    print_tables(summary, args.trials)
    df.to_csv(out.with_suffix(".csv"), index=False)
    write_chart(df, out.with_suffix(".html"))
    out.with_suffix(".md").write_text(markdown(summary, args.trials))
    results_json = {
        "benchmark": "bo_quality",
        "command": "python benchmarks/bo_quality.py " + " ".join(argv or sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "wall_seconds": time.perf_counter() - start,
        "problems": args.problems,
        "strategies": args.strategies,
        "seeds": args.seeds,
        "trials": args.trials,
        "run_seconds": run_seconds,
        "summary": summary,
        "rows": df.to_dict(orient="records"),
    }
    write_results(results_json, out)
    print(
        f"wrote {out.with_suffix('.csv')}, {out.with_suffix('.html')} and {out.with_suffix('.md')}"
    )


if __name__ == "__main__":
    main()
