"""The strategy's lengthscale prior chosen from the data, recorded on each BO trial."""

import tempfile
from pathlib import Path

from ax.exceptions.core import UserInputError
from botorch.utils.testing import BotorchTestCase

from ax_ext.generation import (
    BO,
    fitted_model,
    load_client,
    save_client,
    scalar_choice_model_config,
    sobol_then_bo,
)
from tests.generation._problem import FAST_ACQF, make_client, run_trials


def selections(client) -> list:
    """The recorded choice of each trial (``None`` for Sobol and fixed priors)."""
    out = []
    experiment = client._experiment
    for i in sorted(experiment.trials):
        used = experiment.trials[i].generator_runs[0].gen_metadata or {}
        found = [m for m in used.get("models_used", []) if "lengthscale_prior_selection" in m]
        out.append(found[0]["lengthscale_prior_selection"] if found else None)
    return out


def bo_options(strategy) -> dict:
    node = next(n for n in strategy._nodes if n.name == BO)
    spec = node.generator_specs[0].generator_kwargs["surrogate_spec"]
    return spec.model_configs[0].model_options


class TestPriorChoice(BotorchTestCase):
    def test_auto_is_opt_in_and_fixed_strengths_stay(self):
        self.assertEqual(
            bo_options(sobol_then_bo(num_sobol_trials=4))["scalar_lengthscale_prior"], "default"
        )
        options = bo_options(sobol_then_bo(num_sobol_trials=4, scalar_lengthscale_prior="auto"))
        self.assertEqual(options["scalar_lengthscale_prior"], "auto")
        self.assertEqual(options["choice_lengthscale_prior"], "default")
        with self.assertRaisesRegex(UserInputError, "'auto'"):
            scalar_choice_model_config("medium")

    def test_choice_is_recorded_and_survives_storage(self):
        client = make_client()
        client.set_generation_strategy(
            sobol_then_bo(
                client,
                num_sobol_trials=5,
                seed=0,
                optimizer_kwargs=FAST_ACQF,
                scalar_lengthscale_prior="auto",
                choice_lengthscale_prior="auto",
            )
        )
        run_trials(client, 6)
        recorded = selections(client)
        self.assertEqual(recorded[:5], [None] * 5)
        last = recorded[5]
        self.assertIsNotNone(last)
        self.assertEqual(last["criterion"], "refit_5fold_mlpd")
        self.assertEqual(set(last["scores"]), {"tight", "default", "loose", "looser"})
        best = max(last["scores"], key=last["scores"].get)
        self.assertEqual(last["scalar_lengthscale_prior"], best)
        # the fitted model says the same
        model = fitted_model(client)
        self.assertEqual(model.lengthscale_prior_selection.to_dict(), last)
        for suffix in ("json", "db"):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"study.{suffix}"
                save_client(client, path)
                again = load_client(path)
                self.assertEqual(selections(again), recorded)
                self.assertEqual(
                    bo_options(again._generation_strategy)["scalar_lengthscale_prior"], "auto"
                )
                run_trials(again, 1)  # the loaded strategy chooses again
                self.assertIsNotNone(selections(again)[-1])

    def test_fixed_prior_records_nothing(self):
        client = make_client(seed=1)
        client.set_generation_strategy(
            sobol_then_bo(
                client,
                num_sobol_trials=5,
                seed=1,
                optimizer_kwargs=FAST_ACQF,
                scalar_lengthscale_prior="default",
                choice_lengthscale_prior="default",
            )
        )
        run_trials(client, 6)
        self.assertEqual(selections(client), [None] * 6)
        self.assertIsNone(fitted_model(client).lengthscale_prior_selection)
