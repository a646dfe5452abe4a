import random

from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from ax.exceptions.core import UserInputError
from ax.storage.json_store.decoder import object_from_json
from ax.storage.json_store.encoder import object_to_json
from botorch.exceptions.errors import UnsupportedError
from botorch.utils.testing import BotorchTestCase

from ax_ext.generation import BO_BUDGET_SPENT, BO_GATE_PASSED, SOBOL, LOOQualityGate, sobol_then_bo
from ax_ext.models.outcome import OutcomeTreatment
from tests.generation._problem import FAST_ACQF, loss, make_client, node_names, run_trials


class TestLOOQualityGate(BotorchTestCase):
    def test_switches_when_predictable(self):
        client = Client(random_seed=0)
        client.configure_experiment(
            parameters=[
                RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0)),
                ChoiceParameterConfig(name="c", parameter_type="str", values=["a", "b", "c"]),
            ]
        )
        client.configure_optimization(objective="-loss")
        gs = sobol_then_bo(
            client,
            num_sobol_trials=4,
            min_completed_trials=4,
            quality_gate=0.3,
            max_sobol_trials=12,
            optimizer_kwargs=FAST_ACQF,
        )
        client.set_generation_strategy(gs)
        with self.assertLogs("ax_ext.generation.gate", "INFO") as logs:
            run_trials(client, 9, objective=lambda p: 3 * p["x"] + (p["c"] == "b"))
        names = node_names(client)
        self.assertIn(BO_GATE_PASSED, names)
        self.assertNotIn(BO_BUDGET_SPENT, names)
        switch = names.index(BO_GATE_PASSED)
        self.assertGreaterEqual(switch, 4)
        self.assertEqual(names[:switch], [SOBOL] * switch)
        self.assertTrue(any("switching to 'BO:quality_gate_passed'" in m for m in logs.output))
        gate = gs._nodes[0].transition_criteria[2]
        self.assertIsInstance(gate, LOOQualityGate)
        self.assertGreaterEqual(gate.last_value, 0.3)

    def test_stays_in_sobol_when_unpredictable(self):
        client = make_client(fixed=False)
        noise = random.Random(0)
        gs = sobol_then_bo(
            client,
            num_sobol_trials=4,
            min_completed_trials=4,
            quality_gate=0.95,
            max_sobol_trials=7,
            optimizer_kwargs=FAST_ACQF,
        )
        client.set_generation_strategy(gs)
        run_trials(client, 8, objective=lambda p: noise.gauss(0.0, 1.0))
        names = node_names(client)
        # the gate never passed on noise: Sobol until its budget, then BO anyway
        self.assertEqual(names, [SOBOL] * 7 + [BO_BUDGET_SPENT])
        gate = gs._nodes[0].transition_criteria[2]
        self.assertLess(gate.last_value, 0.95)
        self.assertIn("< threshold 0.95", gate.last_reason)

    def test_waits_for_min_trials_without_fitting(self):
        client = make_client(fixed=False)
        client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=3))
        run_trials(client, 2)
        gate = LOOQualityGate(transition_to="BO", min_trials=5)
        self.assertFalse(gate.is_met(client._experiment, curr_node=None))
        self.assertIsNone(gate.last_value)
        self.assertIn("waits for 5", gate.last_reason)

    def test_caches_per_data(self):
        client = make_client(fixed=False)
        client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=6))
        run_trials(client, 6)
        gate = LOOQualityGate(transition_to="BO", min_trials=5, threshold=-1.0)
        self.assertTrue(gate.is_met(client._experiment, curr_node=None))
        first = gate.last_value
        gate._cache = dict.fromkeys(gate._cache, 42.0)  # a cached value is reused
        gate.is_met(client._experiment, curr_node=None)
        self.assertEqual(gate.last_value, 42.0)
        self.assertNotEqual(first, 42.0)

    def test_json_round_trip(self):
        gate = LOOQualityGate(
            transition_to="BO", threshold=0.4, min_trials=6, model_kwargs={"a": "loose"}
        )
        restored = object_from_json(object_to_json(gate))
        self.assertIsInstance(restored, LOOQualityGate)
        self.assertEqual(
            (restored.threshold, restored.min_trials, restored.model_kwargs),
            (0.4, 6, {"a": "loose"}),
        )

    def test_outcome_treatment_is_the_strategys_and_is_stored(self):
        gs = sobol_then_bo(
            num_sobol_trials=4, quality_gate=0.5, outcome=OutcomeTreatment(failed_trials="drop")
        )
        gate = next(c for c in gs._nodes[0].transition_criteria if isinstance(c, LOOQualityGate))
        self.assertEqual(gate.outcome, {"winsorize": True, "failed_trials": "drop"})
        restored = object_from_json(object_to_json(gate))
        self.assertEqual(restored.outcome, gate.outcome)
        self.assertEqual(LOOQualityGate(transition_to="BO").outcome["failed_trials"], "impute")

    def test_a_new_failure_is_a_new_data_set(self):
        # a failed trial changes the model's data (imputed), so the cached value is not reused
        client = make_client(fixed=False)
        client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=8))
        run_trials(client, 6)
        gate = LOOQualityGate(transition_to="BO", min_trials=5, threshold=-1.0)
        gate.is_met(client._experiment, curr_node=None)
        gate._cache = dict.fromkeys(gate._cache, 42.0)
        ((index, _),) = client.get_next_trials(max_trials=1).items()
        client.mark_trial_failed(index, failed_reason="diverged")
        gate.is_met(client._experiment, curr_node=None)
        self.assertNotEqual(gate.last_value, 42.0)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(UserInputError, "criterion"):
            LOOQualityGate(transition_to="BO", criterion="r2")
        with self.assertRaisesRegex(UserInputError, "min_trials"):
            LOOQualityGate(transition_to="BO", min_trials=2)
        with self.assertRaisesRegex(UserInputError, "finite threshold"):
            LOOQualityGate(transition_to="BO", threshold=float("nan"))
        with self.assertRaisesRegex(UnsupportedError, "failed_trials"):
            LOOQualityGate(transition_to="BO", outcome={"failed_trials": "zero"})

    def test_objective_used(self):
        # the default metric is the objective's
        client = make_client(fixed=False)
        client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=6))
        run_trials(client, 5, objective=loss)
        gate = LOOQualityGate(transition_to="BO", min_trials=5, threshold=-1.0)
        self.assertTrue(gate.is_met(client._experiment, curr_node=None))
        self.assertIn("on 5 trials", gate.last_reason)
