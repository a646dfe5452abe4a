from unittest import mock

from ax.api.client import Client
from ax.api.configs import RangeParameterConfig
from ax.generators.torch.botorch_modular import acquisition as ax_acquisition
from botorch.utils.testing import BotorchTestCase

from ax_ext.generation import (
    BO,
    MIXED_ALTERNATING_OPTIONS,
    MixedBudgetAcquisition,
    sobol_then_bo,
)
from tests.generation._problem import loss, make_client, node_names, run_trials

FEW_STEPS = {"maxiter_alternating": 1, "maxiter_discrete": 1}


def _spy(name: str):
    original = getattr(ax_acquisition, name)
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    return mock.patch.object(ax_acquisition, name, spy), calls


class TestMixedBudgetAcquisition(BotorchTestCase):
    def _run(self, client, optimizer_kwargs, name, objective=loss):
        gs = sobol_then_bo(client, num_sobol_trials=5, seed=0, optimizer_kwargs=optimizer_kwargs)
        client.set_generation_strategy(gs)
        patcher, calls = _spy(name)
        with patcher:
            run_trials(client, 6, objective=objective)
        self.assertEqual(node_names(client)[-1], BO)
        self.assertIs(gs.adapter.generator.acquisition_class, MixedBudgetAcquisition)
        self.assertEqual(len(calls), 1)
        return calls[0]

    def test_budget_for_the_mixed_alternating_optimizer(self):
        kwargs = self._run(
            make_client(), {"options": dict(FEW_STEPS)}, "optimize_acqf_mixed_alternating"
        )
        self.assertEqual(kwargs["num_restarts"], MIXED_ALTERNATING_OPTIONS["num_restarts"])
        self.assertEqual(kwargs["raw_samples"], MIXED_ALTERNATING_OPTIONS["raw_samples"])
        for key, value in MIXED_ALTERNATING_OPTIONS["options"].items():
            self.assertEqual(kwargs["options"][key], value)
        # the user's options are kept, and Ax's own defaults too
        self.assertEqual(kwargs["options"]["maxiter_alternating"], 1)
        self.assertIn("batch_limit", kwargs["options"])

    def test_user_values_win(self):
        user = {
            "num_restarts": 2,
            "raw_samples": 16,
            "options": {**FEW_STEPS, "maxiter_continuous": 3},
        }
        kwargs = self._run(make_client(), user, "optimize_acqf_mixed_alternating")
        self.assertEqual((kwargs["num_restarts"], kwargs["raw_samples"]), (2, 16))
        self.assertEqual(kwargs["options"]["maxiter_continuous"], 3)

    def test_other_optimizers_keep_axs_defaults(self):
        client = Client(random_seed=0)
        client.configure_experiment(
            parameters=[
                RangeParameterConfig(name=f"x{i}", parameter_type="float", bounds=(0.0, 1.0))
                for i in range(2)
            ]
        )
        client.configure_optimization(objective="-loss")
        kwargs = self._run(
            client, {"options": {"maxiter": 5}}, "optimize_acqf", lambda p: sum(p.values())
        )
        self.assertEqual(kwargs["num_restarts"], 20)
        self.assertNotIn("maxiter_continuous", kwargs["options"])


class TestOptimizerOptions(BotorchTestCase):
    def test_a_small_discrete_space_gets_only_the_options_its_optimizer_takes(self):
        from ax.api.configs import ChoiceParameterConfig

        from tests.generation._problem import FAST_ACQF

        client = Client(random_seed=0)
        client.configure_experiment(
            parameters=[
                ChoiceParameterConfig(
                    name="a", parameter_type="str", values=["x", "y", "z"], is_ordered=False
                ),
                RangeParameterConfig(name="n", parameter_type="int", bounds=(1, 3)),
            ]
        )
        client.configure_optimization(objective="-loss")
        # the options --fast-acqf passes, meant for the mixed alternating optimizer
        client.set_generation_strategy(
            sobol_then_bo(client, num_sobol_trials=3, seed=0, optimizer_kwargs=FAST_ACQF)
        )
        patch, calls = _spy("optimize_acqf_discrete")
        with patch:
            run_trials(client, 4, lambda p: p["n"] + (p["a"] == "y"))
        self.assertEqual(node_names(client)[-1], BO)
        self.assertEqual(len(calls), 1)
        self.assertNotIn("options", calls[0])
