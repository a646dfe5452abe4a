"""Benchmark: the time of each piece of ``ax-ext report`` on a stored study.

Loads the study (``--storage``, e.g. the ``ax_ext_synthetic.db`` that
``ax-ext tune synthetic --trials 12`` writes) and times, in the order the report
runs them: loading it, the history and playbook charts, the cross-validation
with its one full fit, Ax's adapter on that fit (no refit), Ax's sensitivity
analysis, Ax's slice and contour plots, and then the whole ``write_report``
(which repeats all of them) ``--repeats`` times. Prints a table and writes JSON
with the machine's load average before and after.

Usage::

    ax-ext tune synthetic --trials 12        # writes ax_ext_synthetic.db
    python benchmarks/report_times.py --storage ax_ext_synthetic.db \\
        --out benchmarks/results/report_times.json
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from _out import add_out_argument, write_results

from ax_ext.cross_validation import ax_cross_validation
from ax_ext.runner import _report_ax, _report_parts
from ax_ext.runner._report_pareto import objectives
from ax_ext.runner.report import load_study_client, write_report


def _timed(times: dict, name: str, fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    times[name] = round(time.perf_counter() - start, 3)
    return out


def pieces(storage: str) -> dict[str, float]:
    times: dict[str, float] = {}
    client = _timed(times, "load study", load_study_client, storage)
    experiment = client._experiment
    goals = objectives(experiment)
    metric, minimize = next(iter(goals.items()))
    trials = _report_parts.trial_infos(experiment, metric)
    completed = [t for t in trials if t.status == "COMPLETED"]
    parameter = _report_parts.isolation_parameter(experiment, None)
    _timed(times, "history", _report_parts.history_section, client, completed, metric, minimize)
    _timed(
        times,
        "playbook charts",
        _report_parts.playbook_section,
        client,
        completed,
        parameter,
        metric,
        minimize=minimize,
    )
    cv = _timed(
        times,
        "cross-validation + full fit",
        ax_cross_validation,
        client,
        metric_name=metric,
        warm_start="full",
    )
    adapter, why = _timed(
        times, "Ax adapter (no refit)", _report_ax.model_adapter, client, cv, cv.full_model
    )
    if adapter is None:
        raise SystemExit(f"no Ax adapter: {why}")
    shares = _timed(times, "Ax sensitivity", _report_ax.sensitivity, adapter, metric)
    _timed(
        times,
        "Ax slices + contour",
        _report_ax.surface_figures,
        experiment,
        adapter,
        metric,
        list(shares),
    )
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--storage", required=True, help="a study's SQLite file")
    parser.add_argument("--repeats", type=int, default=2)
    add_out_argument(parser, "report_times")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    load_before = os.getloadavg()
    runs = [pieces(args.storage) for _ in range(args.repeats)]
    totals = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            start = time.perf_counter()
            write_report(args.storage, Path(folder) / "report.html")
            totals.append(round(time.perf_counter() - start, 3))
    load_after = os.getloadavg()
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"{'piece':32s} median s (of {args.repeats})")
    for name, seconds in median.items():
        print(f"{name:32s} {seconds:8.2f}")
    print(f"{'write_report (all of it)':32s} {statistics.median(totals):8.2f}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    write_results(
        {
            "storage": args.storage,
            "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "pieces": runs,
            "median": median,
            "write_report": totals,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
