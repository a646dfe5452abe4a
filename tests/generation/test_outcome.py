"""The BO node's outcome treatment: what the fitted model gets for diverged and failed trials."""

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from ax.adapter.transforms.winsorize import Winsorize, _get_tukey_cutoffs

from ax_ext.generation import (
    BO_TRANSFORMS,
    TreatOutcomes,
    fitted_model,
    load_client,
    save_client,
    sobol_then_bo,
)
from ax_ext.models.outcome import OutcomeTreatment
from tests.generation._problem import FAST_ACQF, loss, make_client

N_SOBOL = 10


def _study(failed_trials: str | None, seed: int = 0):
    """10 Sobol trials (lr > 10**-1.5 fails; the third trial diverges to 1e4 x), one BO trial."""
    client = make_client(seed)
    outcome = None if failed_trials is None else OutcomeTreatment(failed_trials=failed_trials)
    gs = sobol_then_bo(
        client,
        num_sobol_trials=N_SOBOL,
        count_failed_trials=True,
        seed=seed,
        optimizer_kwargs=FAST_ACQF,
        outcome=outcome,
    )
    client.set_generation_strategy(gs)
    failed, diverged, values = [], [], {}
    for _ in range(N_SOBOL):
        ((index, p),) = client.get_next_trials(max_trials=1).items()
        if math.log10(p["lr"]) > -1.5:
            client.mark_trial_failed(index, failed_reason="diverged")
            failed.append(index)
            continue
        value = loss(p)
        if len(values) == 2:
            value, diverged = 1e4 * value, [index]
        client.complete_trial(index, raw_data={"loss": value})
        values[index] = value
    client.get_next_trials(max_trials=1)  # the first BO trial: fits the model
    return client, failed, diverged, values


def test_the_bo_node_uses_treat_outcomes_in_the_place_of_winsorize():
    assert TreatOutcomes in BO_TRANSFORMS and Winsorize not in BO_TRANSFORMS
    ax_order = [t.__name__ for t in BO_TRANSFORMS]
    assert ax_order.index("TreatOutcomes") < ax_order.index("StandardizeY")


def test_failed_trials_reach_the_model_at_the_worst_value_and_diverged_ones_are_clipped():
    client, failed, diverged, values = _study("impute", seed=0)
    assert failed and diverged, (failed, diverged)  # the seed's Sobol points hit both regions
    model = fitted_model(client)
    X, y = model.train_inputs[0], model.train_targets  # standardized by Ax's StandardizeY
    assert X.shape[0] == len(values) + len(failed)
    observed = np.array(list(values.values()))
    fence = _get_tukey_cutoffs(observed, lower=False)  # Ax's own winsorization cutoff
    treated = np.minimum(observed, fence)
    raw_all = torch.tensor(np.concatenate([treated, np.full(len(failed), fence)]))
    standardized = (raw_all - raw_all.mean()) / raw_all.std()
    assert sorted(y.tolist()) == pytest.approx(sorted(standardized.tolist()), rel=1e-6, abs=1e-6)
    # the rows at the top (worst) value are the failed and the clipped trials, at their lr
    top = y >= y.max() - 1e-9
    log_lr = X[top, model.feature_names.index("lr")] * 3.0 - 4.0  # bounds 1e-4 .. 1e-1
    trials = client._experiment.trials
    expected = [math.log10(trials[i].arms[0].parameters["lr"]) for i in failed + diverged]
    assert sorted(log_lr.tolist()) == pytest.approx(sorted(expected), abs=1e-6)
    transform = client._generation_strategy.adapter.transforms["TreatOutcomes"]
    assert sorted(i for i, _ in transform.imputed_arms) == sorted(failed)
    assert transform.cutoffs["loss"][1] == pytest.approx(fence)


def test_dropped_failed_trials_do_not_reach_the_model():
    client, failed, _, values = _study("drop", seed=0)
    assert failed
    assert fitted_model(client).train_inputs[0].shape[0] == len(values)


def test_the_treatment_is_stored_with_the_strategy():
    client, _, _, values = _study("drop", seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.json"
        save_client(client, path)
        loaded = load_client(path)
    node = loaded._generation_strategy._nodes[1]
    configs = node.generator_specs[0].generator_kwargs["transform_configs"]
    assert configs["TreatOutcomes"] == {"winsorize": True, "failed_trials": "drop"}
    loaded.get_next_trials(max_trials=1)
    assert fitted_model(loaded).train_inputs[0].shape[0] == len(values)  # failed ones dropped
