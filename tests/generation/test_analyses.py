"""Ax's own analyses on a client that uses ax_ext's strategy (Ax's real code paths)."""

from __future__ import annotations

import math
import warnings

from ax.adapter.registry import Generators
from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from ax.core.analysis_card import AnalysisCardGroup, ErrorAnalysisCard
from ax.utils.sensitivity.sobol_measures import ax_parameter_sens
from botorch.utils.testing import BotorchTestCase

from ax_ext.generation import UNORDERED_SUFFIX, sobol_then_bo
from tests.generation._problem import FAST_ACQF

OPTIMIZERS = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.1, "adagrad": 0.2}


def analyses_client(seed: int = 0, batch: bool = False) -> Client:
    """Range, log-range, int, 2-valued and 4-valued string choices (and a numeric one)."""
    parameters = [
        RangeParameterConfig(name="lr", parameter_type="float", bounds=(1e-4, 1e-1), scaling="log"),
        RangeParameterConfig(name="dropout", parameter_type="float", bounds=(0.0, 0.5)),
        RangeParameterConfig(name="layers", parameter_type="int", bounds=(1, 6)),
        ChoiceParameterConfig(name="norm", parameter_type="str", values=["batch", "layer"]),
        ChoiceParameterConfig(
            name="optimizer", parameter_type="str", values=list(OPTIMIZERS), is_ordered=False
        ),
    ]
    if batch:
        parameters.append(
            ChoiceParameterConfig(
                name="batch", parameter_type="int", values=[16, 64, 256], is_ordered=False
            )
        )
    client = Client(random_seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ax's note that 2-valued choices are ordered
        client.configure_experiment(parameters=parameters, name="analyses")
    client.configure_optimization(objective="-loss")
    return client


def loss(p: dict) -> float:
    """``lr`` dominates; the optimizer matters some, the rest a little."""
    return (
        2.0 * (math.log10(p["lr"]) + 2.5) ** 2
        + OPTIMIZERS[p["optimizer"]]
        + 0.02 * p["layers"]
        + 0.05 * p["dropout"]
        + 0.02 * (p["norm"] == "batch")
    )


def run(client: Client, n: int) -> None:
    for _ in range(n):
        for index, params in client.get_next_trials(max_trials=1).items():
            client.complete_trial(index, raw_data={"loss": loss(params)})


def flatten(cards) -> list:
    out = []
    for card in cards:
        out.extend(flatten(card.children) if isinstance(card, AnalysisCardGroup) else [card])
    return out


def by_parameter(sensitivity: dict[str, float]) -> dict[str, float]:
    """Features to parameters: one-hot columns and the unordered suffix folded in."""
    out: dict[str, float] = {}
    for feature, value in sensitivity.items():
        name = feature.split("_OH_PARAM_")[0].removesuffix(UNORDERED_SUFFIX)
        out[name] = out.get(name, 0.0) + abs(float(value))
    total = sum(out.values())
    return {k: v / total for k, v in out.items()}


class TestAxAnalyses(BotorchTestCase):
    def test_every_card_of_compute_analyses(self):
        client = analyses_client()
        strategy = sobol_then_bo(client, num_sobol_trials=6, seed=0, optimizer_kwargs=FAST_ACQF)
        client.set_generation_strategy(strategy)
        run(client, 9)
        with self.assertNoLogs("ax.analysis.analysis", level="ERROR"):
            cards = flatten(client.compute_analyses(display=False))
        errors = [c for c in cards if isinstance(c, ErrorAnalysisCard)]
        self.assertEqual(errors, [])
        names = {c.name for c in cards}
        for name in ("SensitivityAnalysisPlot", "SlicePlot", "ContourPlot", "CrossValidationPlot"):
            self.assertIn(name, names)
        self.assertIn("ArmEffectsPlot", names)
        sensitivity = next(c for c in cards if c.name == "SensitivityAnalysisPlot").df
        self.assertIn("optimizer (unordered)", set(sensitivity.parameter_name))
        # Top Surfaces drew surfaces of range and ordered parameters only
        surfaces = [c.title for c in cards if c.name in ("SlicePlot", "ContourPlot")]
        self.assertTrue(surfaces)
        self.assertFalse([t for t in surfaces if "optimizer" in t], surfaces)
        # predictions come back under the parameters' own names and values
        best, _, _, _ = client.get_best_parameterization(use_model_predictions=True)
        self.assertIn(best["optimizer"], OPTIMIZERS)

    def test_sensitivity_ranks_as_axs_default_model(self):
        client = analyses_client(seed=1, batch=True)
        strategy = sobol_then_bo(client, num_sobol_trials=10, seed=1, optimizer_kwargs=FAST_ACQF)
        client.set_generation_strategy(strategy)
        run(client, 12)
        experiment = client._experiment
        ax_default = Generators.BOTORCH_MODULAR(
            experiment=experiment, data=experiment.lookup_data()
        )
        shares = {}
        for label, adapter in (("ax_ext", strategy.adapter), ("Ax default", ax_default)):
            sens = ax_parameter_sens(
                adapter, metrics=["loss"], order="first", signed=False, num_mc_samples=2048
            )["loss"]
            shares[label] = by_parameter(sens)
        for label, share in shares.items():
            ranked = sorted(share, key=share.get, reverse=True)
            self.assertEqual(ranked[0], "lr", (label, share))
            self.assertGreater(share["lr"], 0.5, (label, share))
            # the numeric choice without an effect gets little of the variance
            self.assertLess(share["batch"], 0.1, (label, share))
