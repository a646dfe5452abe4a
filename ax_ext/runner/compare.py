"""Compare generation strategies on a problem (``ax-ext compare``).

:func:`compare_strategies` runs one study per strategy and seed, sequentially in
this process (no Dask, nothing stored), and returns one row per trial;
:func:`comparison_figure` draws the best value so far against the number of
trials, one line per strategy (the median over seeds) with a band from the
worst to the best seed; :func:`write_comparison` writes that chart to an HTML
file.

Strategies (:data:`COMPARE_STRATEGIES`):

- ``"ax_ext"``: :func:`ax_ext.generation.sobol_then_bo` (Sobol, then BO with
  ``ScalarChoiceGP``);
- ``"ax-default"``: Ax's default, ``Client.configure_generation_strategy()``;
- ``"sobol"``: pure quasi-random search, one Sobol node from the first trial on
  (:func:`~ax_ext.runner.strategies.pure_sobol_strategy`; Ax's
  ``method="random_search"`` would start with the center point);
- ``"optuna-tpe"`` and ``"optuna-gp"``: Optuna's ``TPESampler`` and
  ``GPSampler`` with their defaults, seeded (needs the optional Optuna,
  ``pip install 'ax-ext[bench]'``; see :mod:`ax_ext.runner.optuna_strategies`).

Every strategy's trials go the same way: the parameters become a trial of an
in-memory Ax ``Client`` (an Optuna proposal is attached to it), the problem
evaluates them in this process and
:func:`~ax_ext.runner._recording.record_result` records the result (metrics,
training curves, failure), as ``ax-ext tune`` does.

With ``csv_path`` every trial's row is appended to the CSV file as it finishes;
after a Ctrl-C the ``KeyboardInterrupt`` carries the rows so far
(``error.partial``), from which ``ax-ext compare`` draws its chart.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ax.exceptions.core import UserInputError

from ax_ext.runner._compare_chart import comparison_figure, write_comparison
from ax_ext.runner._csv import CsvSink
from ax_ext.runner._recording import mark_failed, record_result
from ax_ext.runner.optuna_strategies import OPTUNA_STRATEGIES, OptunaRun, require_optuna
from ax_ext.runner.problems import Problem, get_problem
from ax_ext.runner.strategies import STRATEGIES, check_num_sobol_trials, set_strategy

__all__ = [
    "COMPARE_STRATEGIES",
    "STRATEGIES",
    "comparison_figure",
    "compare_strategies",
    "write_comparison",
]

#: The strategies ``ax-ext compare`` runs: those of ``ax-ext tune`` and Optuna's.
COMPARE_STRATEGIES = (*STRATEGIES, *OPTUNA_STRATEGIES)

logger = logging.getLogger(__name__)

#: Columns of the frame :func:`compare_strategies` returns.
COLUMNS = (
    "strategy",
    "seed",
    "trial",
    "value",
    "best_so_far",
    "status",
    "node",
    "generation_seconds",
)


def _check_inputs(strategies: Sequence[str], seeds: Sequence[int], trials: int) -> None:
    if isinstance(strategies, str):
        raise UserInputError(
            f"Expected strategies to be a sequence of names from {list(COMPARE_STRATEGIES)}, "
            f"got the "
            f"string {strategies!r}. Pass a list, e.g. [{strategies!r}]."
        )
    unknown = [s for s in strategies if s not in COMPARE_STRATEGIES]
    if unknown or not strategies:
        raise UserInputError(
            f"Expected strategies from {list(COMPARE_STRATEGIES)}, got {list(strategies)!r} "
            f"(unknown: {unknown!r}). Choose one or more of the known strategies."
        )
    if len(set(strategies)) != len(strategies):
        raise UserInputError(f"Expected distinct strategies, got {list(strategies)!r}.")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int)]
    if bad or not seeds:
        raise UserInputError(f"Expected at least one integer seed, got {list(seeds)!r}.")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise UserInputError(
            f"Expected trials to be an integer >= 1 (trials per strategy and seed), got {trials!r}."
        )


def _client(
    problem: Problem,
    strategy: str,
    seed: int,
    num_sobol_trials: int | None,
    optimizer_kwargs: dict[str, Any] | None,
    trials: int | None = None,
) -> Any:
    from ax.api.client import Client

    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=list(problem.parameters), name=f"compare:{problem.name}:{strategy}:{seed}"
    )
    client.configure_optimization(objective=problem.objective_expression)
    if strategy not in OPTUNA_STRATEGIES:  # Optuna's proposals are attached to the client
        set_strategy(client, strategy, seed, num_sobol_trials, optimizer_kwargs, trials)
    return client


def _proposer(client: Any, problem: Problem, strategy: str, seed: int) -> Any:
    """``(propose, tell)``: ``propose()`` -> ``(trial index, parameters, node)`` or ``None``."""
    if strategy in OPTUNA_STRATEGIES:
        run = OptunaRun(problem, strategy, seed)

        def propose():
            params = run.ask()
            return client.attach_trial(parameters=params), params, run.node()

        return propose, run.tell

    def propose():
        new = client.get_next_trials(max_trials=1)
        if not new:
            return None
        ((index, params),) = new.items()
        return (
            index,
            params,
            client._experiment.trials[index].generator_runs[0]._generation_node_name,
        )

    return propose, lambda value: None


def _run_one(
    problem: Problem,
    strategy: str,
    seed: int,
    trials: int,
    num_sobol_trials: int | None,
    optimizer_kwargs: dict[str, Any] | None,
    emit: Callable[[dict[str, Any]], None],
) -> int:
    """Run one (strategy, seed) pair, passing each trial's row to ``emit``; the rows run."""
    client = _client(problem, strategy, seed, num_sobol_trials, optimizer_kwargs, trials)
    propose, tell = _proposer(client, problem, strategy, seed)
    pick = min if problem.minimize else max
    best = math.nan
    done = 0
    for number in range(1, trials + 1):
        t0 = time.perf_counter()
        proposal = propose()
        seconds = time.perf_counter() - t0
        if proposal is None:
            logger.warning(
                "Strategy %r (seed %d) produced no trial after %d trials; stopping it.",
                strategy,
                seed,
                number - 1,
            )
            break
        index, params, node = proposal
        value, status = math.nan, "COMPLETED"
        try:
            result = problem.evaluate(params, seed)
        except Exception as e:  # a failed evaluation fails this trial only
            mark_failed(client, index, f"{type(e).__name__}: {e}")
            status = "FAILED"
            logger.warning("%s seed %d trial %d failed: %s", strategy, seed, index, e)
        else:
            recorded = record_result(client, problem, index, result)
            if recorded.value is None:
                status = "FAILED"
            else:
                value = recorded.value
                best = value if math.isnan(best) else pick(best, value)
        tell(None if status == "FAILED" else value)
        emit(
            {
                "strategy": strategy,
                "seed": seed,
                "trial": number,
                "value": value,
                "best_so_far": best,
                "status": status,
                "node": str(node),
                "generation_seconds": seconds,
            }
        )
        done += 1
    return done


def compare_strategies(
    problem: Problem | str,
    strategies: Sequence[str] = STRATEGIES,
    seeds: Sequence[int] = (0, 1),
    trials: int = 20,
    *,
    num_sobol_trials: int | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
    csv_path: str | Path | None = None,
) -> Any:
    """Run a problem with several strategies and seeds, and tabulate every trial.

    Each (strategy, seed) pair is a fresh in-memory Ax ``Client`` seeded with
    ``seed``, asked for one trial at a time; the trial is evaluated in this
    process with ``problem.evaluate(params, seed)`` and recorded as ``ax-ext tune``
    records it (:func:`~ax_ext.runner._recording.record_result`). A trial whose
    evaluation raises or returns a result that is not a dict of real numbers
    with a finite objective is marked failed (``value`` NaN) and counts as a
    trial.

    Args:
        problem: A :class:`~ax_ext.runner.problems.Problem` or a registered name.
        strategies: Names from :data:`COMPARE_STRATEGIES`.
        seeds: Seeds; every strategy runs once per seed.
        trials: Trials per strategy and seed.
        num_sobol_trials: Initial quasi-random trials of ``"ax_ext"`` and
            ``"ax-default"`` (default: each strategy's own default).
        optimizer_kwargs: Acquisition-optimizer options of ``"ax_ext"``, as for
            :func:`~ax_ext.generation.sobol_then_bo`.
        progress: Show a tqdm progress bar over all trials.
        csv_path: Also write every row to this CSV file as its trial finishes
            (flushed, so an interrupted comparison keeps what it ran).

    Returns:
        A ``pandas.DataFrame``, one row per trial, with columns ``strategy``,
        ``seed``, ``trial`` (1, 2, ... within the run), ``value`` (the objective,
        NaN for failed trials), ``best_so_far`` (best finite value up to this
        trial, NaN before the first), ``status``, ``node`` (the generation node)
        and ``generation_seconds`` (the time the strategy took to propose the
        trial: Ax's ``get_next_trials``, Optuna's ``Study.ask``).
        ``df.attrs`` holds ``problem``, ``objective`` and ``minimize``.

    Raises:
        UserInputError: For an unknown problem or strategy, an Optuna strategy
            without Optuna installed, no seeds,
            ``trials < 1`` or ``num_sobol_trials < 1`` (whatever the strategies),
            or a ``csv_path`` in a missing folder.
        KeyboardInterrupt: On Ctrl-C, with ``partial``: the frame of the trials
            that finished.
    """
    from tqdm.auto import tqdm

    problem = get_problem(problem)
    strategies = list(strategies) if not isinstance(strategies, str) else strategies
    seeds = list(seeds)
    _check_inputs(strategies, seeds, trials)
    check_num_sobol_trials(num_sobol_trials)
    for strategy in strategies:
        if strategy in OPTUNA_STRATEGIES:
            require_optuna(strategy)
    rows: list[dict[str, Any]] = []
    sink = CsvSink(csv_path, COLUMNS)

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        sink.write(row)
        bar.update(1)

    bar = tqdm(
        total=len(strategies) * len(seeds) * trials,
        desc=f"compare {problem.name}",
        unit="trial",
        disable=not progress,
    )
    try:
        for strategy in strategies:
            for seed in seeds:
                start = time.perf_counter()
                first = len(rows)
                _run_one(problem, strategy, seed, trials, num_sobol_trials, optimizer_kwargs, emit)
                logger.info(
                    "%s seed %d: %d trials in %.1f s, best %s = %.6g.",
                    strategy,
                    seed,
                    len(rows) - first,
                    time.perf_counter() - start,
                    problem.objective,
                    rows[-1]["best_so_far"] if len(rows) > first else math.nan,
                )
    except KeyboardInterrupt as e:
        e.partial = _frame(rows, problem)
        raise
    finally:
        bar.close()
        sink.close()
    return _frame(rows, problem)


def _frame(rows: list[dict[str, Any]], problem: Problem) -> Any:
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df.attrs.update(
        {"problem": problem.name, "objective": problem.objective, "minimize": problem.minimize}
    )
    return df
