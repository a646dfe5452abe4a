"""The ``ax-ext`` command line (also ``python -m ax_ext``)."""

from __future__ import annotations

import argparse
import gc
import re
import sys
import time

__all__ = ["build_parser", "default_storage", "main"]

#: Default of ``tune --heartbeat-timeout`` (``ax_ext.runner._coordination``'s, without
#: importing Ax for ``--help``).
DEFAULT_HEARTBEAT_TIMEOUT = 60.0


def _demo(args: argparse.Namespace) -> int:
    import torch
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from ax_ext.expressions import model_expression
    from ax_ext.models import ScalarChoiceGP
    from ax_ext.synthetic import mixed_dataset

    data = mixed_dataset(n=args.n + args.n_test, seed=args.seed)
    X, Y = data.X[: args.n], data.Y[: args.n]
    X_test, Y_test = data.X[args.n :], data.Y[args.n :]
    model = ScalarChoiceGP(
        X,
        Y,
        scalar_dims=data.scalar_dims,
        choice_dims=data.choice_dims,
        scalar_lengthscale_prior=args.prior,
        choice_lengthscale_prior=args.prior,
        feature_names=data.feature_names,
    )
    start = time.perf_counter()
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    elapsed = time.perf_counter() - start
    print(f"Fitted ScalarChoiceGP to {args.n} points of a mixed space in {elapsed:.2f} s.\n")
    print(model_expression(model))
    with torch.no_grad():
        pred = model.posterior(X_test).mean
    rmse = (pred - Y_test).square().mean().sqrt().item()
    rmse_const = (Y.mean() - Y_test).square().mean().sqrt().item()
    print(
        f"\nHeld-out RMSE on {args.n_test} new points: {rmse:.4f} "
        f"(predicting the training mean: {rmse_const:.4f})"
    )
    return 0


#: Small acquisition-optimizer budget for ``tune --fast-acqf`` (tests, quick looks).
FAST_ACQF = {
    "num_restarts": 2,
    "raw_samples": 32,
    "options": {"maxiter_alternating": 2, "maxiter_continuous": 15, "maxiter_discrete": 2},
}


def _run_quietly(command: str, verbose: bool, work):
    """Run ``work()`` (which imports what it needs) with Ax's chatter off.

    Returns:
        ``(result, 0)``, or ``(None, 2)`` after printing a ``UserInputError``.
    """
    import warnings

    _quiet_logs(verbose)  # before anything imports Ax
    from ax.exceptions.core import UserInputError

    try:
        with warnings.catch_warnings():
            # Ax's SQL decoder warns about every string choice parameter it loads
            warnings.filterwarnings("ignore", message=".*sort_values.*is not specified")
            return work(), 0
    except UserInputError as e:
        print(f"ax-ext {command}: error: {e}", file=sys.stderr)
        return None, 2
    except KeyboardInterrupt as e:
        _exit_at_once_on_another_signal()
        code = getattr(e, "exit_code", 130)
        print(f"\nax-ext {command}: {_interrupted_message(command, e)}", file=sys.stderr)
        return None, code


def _exit_at_once_on_another_signal() -> None:
    """After a clean stop, a second Ctrl-C (or SIGTERM) while the process shuts
    down (Dask's and Python's finalizers) exits at once, as it does during the
    study, instead of a ``KeyboardInterrupt`` traceback from a finalizer."""
    import os
    import signal

    def exit_now(signum, frame):
        sys.stderr.write(
            "\nax-ext: stopped at once; trials left running are marked failed "
            "('its process stopped') by the next run on this storage.\n"
        )
        sys.stderr.flush()
        os._exit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, exit_now)


def _interrupted_message(command: str, error: KeyboardInterrupt) -> str:
    written = getattr(error, "written", None)
    if command == "compare" and written:
        rows = getattr(error, "rows", 0)
        return f"interrupted; wrote the {rows} trials that finished to {' and '.join(written)}."
    if command != "tune":
        return "interrupted; nothing was written."
    saved = getattr(error, "saved", None)
    if saved is None:
        return "interrupted before any trial ran; run the same command again to start."
    return (
        f"stopped: {saved} results that had arrived were saved, {error.interrupted} running "
        "trials marked interrupted; run the same command again to resume."
    )


def default_storage(problem_name: str) -> str:
    """``tune``'s default storage: ``ax_ext_<problem name>.db`` in the current folder.

    The problem's own name (also for a ``module:attribute`` problem), with any
    character other than letters, digits, ``.``, ``-`` and ``_`` replaced by ``_``.

    Example:
        >>> default_storage("my problem/v2")
        'ax_ext_my_problem_v2.db'
    """
    return "ax_ext_{}.db".format(re.sub(r"[^\w.-]", "_", problem_name))


def _tune(args: argparse.Namespace) -> int:
    storage = args.storage

    def work():
        nonlocal storage
        from ax_ext.runner import get_problem, run_study

        problem = get_problem(args.problem)
        if storage is None:
            storage = default_storage(problem.name)
        return run_study(
            problem,
            trials=args.trials,
            workers=args.workers,
            storage_path=storage,
            seed=args.seed,
            scheduler_address=args.scheduler,
            progress=not args.no_progress,
            num_sobol_trials=args.sobol,
            optimizer_kwargs=FAST_ACQF if args.fast_acqf else None,
            strategy=args.strategy,
            trial_timeout=args.trial_timeout,
            heartbeat_timeout=args.heartbeat_timeout,
            worker_threads=args.worker_threads,
        )

    result, code = _run_quietly("tune", args.verbose, work)
    if code:
        return code
    problem = result.problem
    print(
        f"Study of {problem.name!r} in {storage}: {result.completed} completed, "
        f"{result.failed} failed, {result.interrupted} interrupted; {result.new_trials} "
        f"trials run now in {result.wall_seconds:.1f} s."
    )
    if result.best_index is None:
        print("No completed trial yet.")
        return 0
    direction = "minimize" if problem.minimize else "maximize"
    print(
        f"Best trial {result.best_index}: {problem.objective} = {result.best_value:.6g} "
        f"({direction})"
    )
    for name, value in result.best_parameters.items():
        print(f"  {name} = {value}")
    if problem.other_objectives:
        print(
            f"A multi-objective study: the best {problem.objective} is shown; the report shows "
            f"the Pareto front of {', '.join(problem.objectives)} (ax-ext report {storage})."
        )
    return 0


#: Small fitting budget for ``report --fast-fit`` (tests, quick looks).
FAST_FIT = {"optimizer_kwargs": {"options": {"maxiter": 50}}}


def _quiet_logs(verbose: bool) -> None:
    """Unless verbose, show only warnings from Ax, Dask and SQLAlchemy (the CLI is the app)."""
    import logging
    import warnings

    if verbose:
        return
    # Ax's SQL store logs at import, which `import ax` does: drop that logger's INFO
    # records before anything imports Ax
    logging.getLogger("ax.storage.sqa_store.with_db_settings_base").addFilter(
        lambda record: record.levelno >= logging.WARNING
    )
    import ax  # noqa: F401  (creates Ax's handler on the "ax" logger)

    # Ax's modules set their own logger levels (some again later), so the level goes on
    # Ax's handler, as Ax's docs advise; set before importing the SQL store, which logs
    # at import
    for handler in logging.getLogger("ax").handlers:
        handler.setLevel(logging.WARNING)
    import ax.storage.sqa_store.with_db_settings_base  # noqa: F401

    for name in list(logging.Logger.manager.loggerDict):
        if name == "distributed" or name.startswith(("ax.", "distributed.")):
            logging.getLogger(name).setLevel(logging.WARNING)
    # Ax's SQL store types trigger a SQLAlchemy performance note on every load
    warnings.filterwarnings("ignore", message=".*will not produce a cache key.*")


def _report(args: argparse.Namespace) -> int:
    start = time.perf_counter()

    def work():
        from ax_ext.runner.report import write_report

        return write_report(
            args.storage,
            args.out,
            fit_kwargs=FAST_FIT if args.fast_fit else None,
            experiment_name=args.experiment,
            isolation_parameter=args.isolate,
        )

    out, code = _run_quietly("report", args.verbose, work)
    if code:
        return code
    print(f"Wrote the report of {args.storage} to {out} in {time.perf_counter() - start:.1f} s.")
    return 0


def _compare(args: argparse.Namespace) -> int:
    start = time.perf_counter()

    def work():
        from ax_ext.runner.compare import compare_strategies, write_comparison

        try:
            df = compare_strategies(
                args.problem,
                strategies=args.strategies,
                seeds=args.seeds,
                trials=args.trials,
                num_sobol_trials=args.sobol,
                optimizer_kwargs=FAST_ACQF if args.fast_acqf else None,
                progress=not args.no_progress,
                csv_path=args.csv,
            )
        except KeyboardInterrupt as e:
            # the chart of the trials that finished (the CSV has them already)
            partial = getattr(e, "partial", None)
            e.written = [args.csv] if args.csv else []
            if partial is not None and len(partial):
                e.written.insert(0, str(write_comparison(partial, args.out)))
                e.rows = len(partial)
            raise
        return df, write_comparison(df, args.out)

    result, code = _run_quietly("compare", args.verbose, work)
    if code:
        return code
    df, out = result
    final = df.sort_values("trial").groupby(["strategy", "seed"], sort=False).last()
    summary = final.groupby(level="strategy", sort=False)["best_so_far"].agg(
        ["median", "min", "max"]
    )
    objective = df.attrs.get("objective", "objective")
    print(f"Best {objective} after {args.trials} trials (over seeds {args.seeds}):")
    for strategy, row in summary.iterrows():
        print(
            f"  {strategy:<12} median {row['median']:.6g}  min {row['min']:.6g}  "
            f"max {row['max']:.6g}"
        )
    print(f"Wrote the comparison chart to {out} in {time.perf_counter() - start:.1f} s.")
    return 0


def _installed_version() -> str:
    """The installed distribution's version (without importing the package's heavy parts)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ax-ext")
    except PackageNotFoundError:  # a source tree on sys.path, not installed
        from ax_ext import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ax-ext", description="ax_ext: mixed-space GP models for Ax / BoTorch."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="fit ScalarChoiceGP to a synthetic mixed data set and print it"
    )
    demo.add_argument("--n", type=int, default=40, help="training points (default 40)")
    demo.add_argument("--n-test", type=int, default=200, help="held-out points (default 200)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--prior",
        default="default",
        choices=["tight", "default", "loose", "looser"],
        help="lengthscale prior strength (default: default)",
    )
    demo.set_defaults(func=_demo)
    tune = sub.add_parser(
        "tune",
        help="run (or resume) a tuning study: Sobol then BO, trials evaluated on Dask",
        description="Run a study with ax_ext's sobol_then_bo, evaluating up to --workers "
        "trials at once on Dask distributed and saving every trial to --storage. Run the "
        "same command again to resume: finished trials are kept, trials that were running "
        "are marked failed ('interrupted'), and the study continues to --trials. Several "
        "tune processes may run one study at once (SQLite on one machine, PostgreSQL on "
        "many). Ctrl-C stops cleanly; a second Ctrl-C stops at once.",
    )
    tune.add_argument(
        "problem",
        help="problem name: a built-in (synthetic, sklearn-gb, sklearn-sgd, sklearn-forest, "
        "sklearn-svr, sklearn-mlp, digits-cnn), a registered one or module:attribute",
    )
    tune.add_argument(
        "--trials", type=int, default=30, help="finished trials at the end (default 30)"
    )
    tune.add_argument("--workers", type=int, default=1, help="trials at once (default 1)")
    tune.add_argument(
        "--worker-threads",
        type=int,
        default=None,
        metavar="N",
        help="torch/OpenMP/BLAS threads per worker process (default: the local cluster's "
        "cores // --workers, at least 1; a --scheduler's workers keep theirs)",
    )
    tune.add_argument(
        "--storage",
        default=None,
        help="SQLite file (.db) or SQLAlchemy URL (default ./ax_ext_PROBLEM.db)",
    )
    tune.add_argument("--seed", type=int, default=0, help="Sobol and evaluation seed")
    tune.add_argument(
        "--strategy",
        default=None,
        choices=["ax_ext", "ax-default", "sobol"],
        help="generation strategy of a new study (default ax_ext: Sobol, then ScalarChoiceGP BO)",
    )
    tune.add_argument(
        "--trial-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="fail a trial still running after SECONDS and restart its worker (default: none)",
    )
    tune.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=DEFAULT_HEARTBEAT_TIMEOUT,
        metavar="SECONDS",
        help="with several tune processes on one study: fail the running trials of a "
        f"process silent for SECONDS (default {DEFAULT_HEARTBEAT_TIMEOUT:g})",
    )
    tune.add_argument(
        "--scheduler",
        default=None,
        help="address of a running Dask scheduler (default: start a LocalCluster)",
    )
    tune.add_argument(
        "--sobol", type=int, default=None, help="Sobol trials before BO (new studies only)"
    )
    tune.add_argument(
        "--fast-acqf",
        action="store_true",
        help="small acquisition-optimizer budget (new studies only; for tests)",
    )
    tune.add_argument("--no-progress", action="store_true", help="no progress bar")
    tune.add_argument("--verbose", action="store_true", help="show Ax's and Dask's INFO logs")
    tune.set_defaults(func=_tune)
    report = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a stored study",
        description="Write one HTML page (plotly.js included once) about the study in "
        "STORAGE: the best trial, the model expression, the cross-validation and playbook "
        "charts, the trials' training curves (for problems that return them), how the "
        "strategy switched from Sobol to BO, and the trial table.",
    )
    report.add_argument("storage", help="the study's SQLite file (.db) or SQLAlchemy URL")
    report.add_argument("--out", default="report.html", help="HTML file (default report.html)")
    report.add_argument(
        "--experiment", default=None, help="experiment to report (default: the only one)"
    )
    report.add_argument(
        "--isolate",
        default=None,
        help="parameter of the isolation plot (default: the first choice parameter)",
    )
    report.add_argument(
        "--fast-fit", action="store_true", help="small model-fitting budget (quick looks, tests)"
    )
    report.add_argument("--verbose", action="store_true", help="show Ax's INFO logs")
    report.set_defaults(func=_report)
    compare = sub.add_parser(
        "compare",
        help="compare strategies on a problem: best value vs trials, spread over seeds",
        description="Run PROBLEM once per strategy and seed (sequentially, in this "
        "process, nothing stored) and write a chart of the best value so far against "
        "trials: the median over seeds with a min-max band, one line per strategy. "
        "After a Ctrl-C the chart (and --csv) hold the trials that finished.",
    )
    compare.add_argument(
        "problem",
        help="problem name: a built-in (synthetic, sklearn-gb, sklearn-sgd, sklearn-forest, "
        "sklearn-svr, sklearn-mlp, digits-cnn), a registered one or module:attribute",
    )
    compare.add_argument(
        "--strategies",
        nargs="+",
        default=["ax_ext", "ax-default", "sobol"],
        metavar="STRATEGY",
        help="strategies among ax_ext, ax-default, sobol, optuna-tpe, optuna-gp (the Optuna "
        "samplers need `pip install 'ax-ext[bench]'`; default: ax_ext ax-default sobol)",
    )
    compare.add_argument(
        "--seeds", nargs="+", type=int, default=[0, 1], metavar="SEED", help="default: 0 1"
    )
    compare.add_argument(
        "--trials", type=int, default=20, help="trials per strategy and seed (default 20)"
    )
    compare.add_argument("--out", default="compare.html", help="HTML chart (default compare.html)")
    compare.add_argument(
        "--csv",
        default=None,
        help="also write every trial to this CSV file, each as it finishes",
    )
    compare.add_argument(
        "--sobol",
        type=int,
        default=None,
        help="initial quasi-random trials of ax_ext and ax-default (default: their own)",
    )
    compare.add_argument(
        "--fast-acqf", action="store_true", help="small acquisition budget for ax_ext (tests)"
    )
    compare.add_argument("--no-progress", action="store_true", help="no progress bar")
    compare.add_argument("--verbose", action="store_true", help="show Ax's INFO logs")
    compare.set_defaults(func=_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo" and args.n < 2:
        parser.error(f"--n must be at least 2 training points, got {args.n}")
    code = args.func(args)
    # everything is saved and closed: leave the objects of Ax, torch and Dask to the
    # exit instead of a final garbage collection over all of them (seconds)
    gc.freeze()
    return code


def run() -> None:
    """The ``ax-ext`` console script and ``python -m ax_ext``: :func:`main`, then exit.

    After a Ctrl-C or SIGTERM everything is saved and closed when :func:`main`
    returns, so the process ends at once (``os._exit``) instead of finalizing
    Ax, torch and Dask for seconds, during which a second Ctrl-C would meet
    Python's default handler and a traceback.
    """
    import os

    code = main()
    if code in (128 + 2, 128 + 15):  # SIGINT, SIGTERM
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
