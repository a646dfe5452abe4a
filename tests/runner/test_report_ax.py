"""Ax's sensitivity, slice and contour analyses on the report's fitted model (real Ax, no stubs)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from ax.core.observation import ObservationFeatures

from ax_ext.cli import FAST_ACQF, FAST_FIT
from ax_ext.cross_validation import ax_cross_validation
from ax_ext.generation import sobol_then_bo
from ax_ext.runner import _report_ax

OPTIMIZERS = {"adam": 0.0, "sgd": 0.05, "rmsprop": 0.02}


def _loss(p: dict) -> float:
    """``lr`` dominates; ``dropout``, ``layers`` and the optimizer matter a little."""
    return (
        3.0 * (math.log10(p["lr"]) + 2.5) ** 2
        + 0.05 * p["dropout"]
        + 0.01 * p["layers"]
        + OPTIMIZERS[p["optimizer"]]
    )


def _client(n: int, seed: int = 0) -> Client:
    client = Client(random_seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.configure_experiment(
            name="dominant",
            parameters=[
                RangeParameterConfig(name="dropout", parameter_type="float", bounds=(0.0, 0.5)),
                RangeParameterConfig(
                    name="lr", parameter_type="float", bounds=(1e-4, 1e-1), scaling="log"
                ),
                RangeParameterConfig(name="layers", parameter_type="int", bounds=(1, 6)),
                ChoiceParameterConfig(
                    name="optimizer",
                    parameter_type="str",
                    values=list(OPTIMIZERS),
                    is_ordered=False,
                ),
            ],
        )
    client.configure_optimization(objective="-loss")
    client.set_generation_strategy(
        sobol_then_bo(client, num_sobol_trials=n, seed=seed, optimizer_kwargs=FAST_ACQF)
    )
    for _ in range(n):
        for index, params in client.get_next_trials(max_trials=1).items():
            client.complete_trial(index, raw_data={"loss": _loss(params)})
    return client


@pytest.fixture(scope="module")
def fitted():
    client = _client(12)
    cv = ax_cross_validation(client, fit_kwargs=FAST_FIT, warm_start="full")
    adapter, why = _report_ax.model_adapter(client, cv, cv.full_model)
    assert adapter is not None, why
    return client, cv, adapter


def test_the_adapter_predicts_as_the_reports_model_on_and_off_the_trials(fitted):
    client, cv, adapter = fitted
    model = cv.full_model
    # new points too: the scalar lengthscales were rescaled from the trials' range to the
    # search space's bounds, so the two agree away from the trials as well
    other = _client(6, seed=7)
    params = [dict(t.arm.parameters) for t in other._experiment.trials.values()]
    params += list(cv.parameters)
    mean, cov = adapter.predict([ObservationFeatures(parameters=p) for p in params])
    X = torch.tensor([cv.encoding.encode(p) for p in params], dtype=cv.train_X.dtype)
    with torch.no_grad():
        posterior = model.posterior(X)
    expected = posterior.mean.reshape(-1)
    got = torch.tensor(mean["loss"], dtype=expected.dtype)
    assert torch.allclose(got, expected, rtol=1e-6, atol=1e-6 * float(cv.observed.std()))
    variance = torch.tensor(cov["loss"]["loss"], dtype=expected.dtype)
    assert torch.allclose(variance, posterior.variance.reshape(-1), rtol=1e-4, atol=1e-9)


def test_the_adapter_is_not_refitted(fitted):
    # the adapter's GP holds the report model's hyperparameters exactly
    _, cv, adapter = fitted
    ours = cv.full_model.covar_module
    theirs = adapter.generator.surrogate.model.covar_module
    assert torch.equal(theirs.raw_outputscale, ours.raw_outputscale)
    assert torch.equal(
        theirs.raw_factorized_choice_lengthscale, ours.raw_factorized_choice_lengthscale
    )


def test_sensitivity_ranks_the_dominant_parameter_first(fitted):
    _, _, adapter = fitted
    shares = _report_ax.sensitivity(adapter, "loss")
    assert set(shares) == {"dropout", "lr", "layers", "optimizer"}
    assert math.isclose(sum(shares.values()), 1.0)
    assert list(shares)[0] == "lr" and shares["lr"] > 0.5, shares
    assert list(shares.values()) == sorted(shares.values(), reverse=True)


def test_surfaces_slice_the_top_range_parameters_and_contour_the_top_pair(fitted):
    client, _, adapter = fitted
    experiment = client._experiment
    # an unordered choice has no slice (Ax's SlicePlot needs an order)
    slices, pair = _report_ax.surface_parameters(
        experiment, ["optimizer", "lr", "layers", "dropout"]
    )
    assert slices == ["lr", "layers", "dropout"] and pair == ("lr", "layers")
    figures = _report_ax.surface_figures(
        experiment, adapter, "loss", ["lr", "optimizer", "dropout"]
    )
    assert list(figures) == ["chart-slice-0", "chart-slice-1", "chart-contour"]
    assert figures["chart-slice-0"][0] == "loss vs. lr"
    assert "lr" in figures["chart-contour"][0] and "dropout" in figures["chart-contour"][0]
    # the slice draws the adapter's predictions
    slice_fig = figures["chart-slice-0"][1]
    assert any(len(trace.x or ()) > 10 for trace in slice_fig.data)


def test_a_strategy_without_scalar_choice_gp_gets_no_adapter_and_a_reason(fitted):
    client, cv, _ = fitted
    plain = Client(random_seed=0)
    plain._maybe_experiment = client._experiment
    plain.configure_generation_strategy()  # Ax's default strategy
    adapter, why = _report_ax.model_adapter(plain, cv, cv.full_model)
    assert adapter is None and "ScalarChoiceGP" in why
