import math

import pytest
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from ax.core.parameter import ChoiceParameter, FixedParameter, ParameterType
from ax.core.search_space import SearchSpace
from ax.exceptions.core import UnsupportedError, UserInputError
from botorch.utils.testing import BotorchTestCase

from ax_ext.generation import (
    BO,
    SOBOL,
    default_num_sobol_trials,
    scalar_choice_model_config,
    sobol_then_bo,
)
from ax_ext.kernels import ScalarChoiceKernel
from ax_ext.models import ScalarChoiceGP
from tests.generation._problem import (
    FAST_ACQF,
    OPTIMIZERS,
    WIDTHS,
    loss,
    make_client,
    node_names,
    run_trials,
)


class TestSobolThenBO(BotorchTestCase):
    def test_end_to_end(self):
        client = make_client()
        gs = sobol_then_bo(client, num_sobol_trials=5, seed=0, optimizer_kwargs=FAST_ACQF)
        client.set_generation_strategy(gs)
        run_trials(client, 7)
        self.assertEqual(node_names(client), [SOBOL] * 5 + [BO] * 2)
        # the BO trials came from ax_ext's model with its kernel, fitted by ax_ext
        model = gs.adapter.generator.surrogate.model
        self.assertIsInstance(model, ScalarChoiceGP)
        self.assertIsInstance(model.covar_module, ScalarChoiceKernel)
        self.assertEqual(
            model.feature_names,
            ["lr", "layers", "dropout", "optimizer=adam", "optimizer=sgd", "optimizer=rmsprop"]
            + ["width=32", "width=64", "width=128", "batchnorm"],
        )
        self.assertEqual(model.covar_module.choice_dims, [3, 4, 5, 6, 7, 8])
        from ax_ext.fit import get_fit_result

        self.assertEqual(get_fit_result(model).path, "fused")
        # every trial holds valid values, and no arm repeats
        arms = [t.arms[0] for t in client._experiment.trials.values()]
        for arm in arms:
            p = arm.parameters
            self.assertIn(p["optimizer"], OPTIMIZERS)
            self.assertIn(p["width"], WIDTHS)
            self.assertIsInstance(p["batchnorm"], bool)
            self.assertIsInstance(p["layers"], int)
            self.assertTrue(1e-4 <= p["lr"] <= 1e-1)
            self.assertEqual(p["epochs"], 10)
        self.assertEqual(len({a.signature for a in arms}), len(arms))

    def test_failed_abandoned_and_nan_trials(self):
        client = make_client(fixed=False)
        gs = sobol_then_bo(client, num_sobol_trials=4, seed=1, optimizer_kwargs=FAST_ACQF)
        client.set_generation_strategy(gs)
        trials = client.get_next_trials(max_trials=3)
        first, second, third = sorted(trials)
        client.mark_trial_failed(first, failed_reason="out of memory")
        client.mark_trial_abandoned(second)
        client.complete_trial(third, raw_data={"loss": float("nan")})
        # failed and abandoned trials do not count: Sobol generates replacements
        run_trials(client, 5)
        names = node_names(client)
        self.assertEqual(names[:6], [SOBOL] * 6)
        self.assertEqual(names[6:], [BO] * 2)
        model = gs.adapter.generator.surrogate.model
        # the last BO trial was generated from trials 3..6 (trial 7 completed after),
        # plus the failed and the NaN trial at the imputed bad value (OutcomeTreatment);
        # the abandoned one is not modelled; the NaN stays in the experiment's data
        self.assertEqual(model.train_inputs[0].shape[-2], 6)
        self.assertEqual(len(client._experiment.trials), 8)
        df = client._experiment.lookup_data().df
        self.assertTrue(math.isnan(float(df[df.trial_index == third]["mean"].iloc[0])))

    def test_waits_for_completed_trials(self):
        client = make_client(fixed=False)
        gs = sobol_then_bo(
            client, num_sobol_trials=3, min_completed_trials=3, optimizer_kwargs=FAST_ACQF
        )
        client.set_generation_strategy(gs)
        pending = client.get_next_trials(max_trials=4)  # none completed yet
        self.assertEqual(node_names(client), [SOBOL] * 4)
        for index, params in pending.items():
            client.complete_trial(index, raw_data={"loss": loss(params)})
        run_trials(client, 1)
        self.assertEqual(node_names(client)[-1], BO)

    def test_max_parallelism(self):
        client = make_client(fixed=False)
        client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=6, max_parallelism=2))
        self.assertEqual(len(client.get_next_trials(max_trials=5)), 2)

    def test_defaults(self):
        client = make_client()
        gs = sobol_then_bo(client)
        # 6 tunable parameters (the fixed one does not count)
        sobol = gs._nodes[0]
        self.assertEqual(sobol.transition_criteria[0].threshold, default_num_sobol_trials(6))
        self.assertEqual(sobol.transition_criteria[1].threshold, 6)
        self.assertEqual(sobol_then_bo().name, "Sobol(10)+ScalarChoiceGP")
        # a known trial budget leaves BO at least half of a short study
        short = sobol_then_bo(client, total_trials=12)._nodes[0].transition_criteria
        self.assertEqual([c.threshold for c in short], [6, 3])
        self.assertEqual(sobol_then_bo(client, total_trials=100).name, gs.name)
        self.assertEqual(sobol_then_bo(total_trials=8).name, "Sobol(4)+ScalarChoiceGP")
        with self.assertRaises(UserInputError):
            sobol_then_bo(client, total_trials=0)
        config = scalar_choice_model_config("loose", "tight")
        self.assertIs(config.botorch_model_class, ScalarChoiceGP)
        self.assertIsNone(config.input_transform_classes)

    def test_prior_strength_reaches_the_model(self):
        client = make_client(fixed=False)
        gs = sobol_then_bo(
            client,
            num_sobol_trials=4,
            scalar_lengthscale_prior="looser",
            optimizer_kwargs=FAST_ACQF,
        )
        client.set_generation_strategy(gs)
        run_trials(client, 5)
        prior = (
            gs.adapter.generator.surrogate.model.covar_module.factorized_scalar_lengthscale_prior
        )
        self.assertAlmostEqual(float(prior.scale), 4 * math.sqrt(3), places=5)


class TestBadInput(BotorchTestCase):
    def test_only_fixed_parameters(self):
        ss = SearchSpace(parameters=[FixedParameter("a", ParameterType.INT, 1)])
        with self.assertRaisesRegex(UnsupportedError, "no tunable parameters"):
            sobol_then_bo(ss)

    def test_hierarchical(self):
        from ax.core.parameter import RangeParameter

        ss = SearchSpace(
            parameters=[
                ChoiceParameter(
                    "model",
                    ParameterType.STRING,
                    values=["linear", "tree"],
                    dependents={"linear": ["alpha"], "tree": ["depth"]},
                ),
                RangeParameter("alpha", ParameterType.FLOAT, 0.0, 1.0),
                RangeParameter("depth", ParameterType.INT, 1, 5),
            ]
        )
        with self.assertRaisesRegex(UnsupportedError, "hierarchical"):
            sobol_then_bo(ss)

    def test_hierarchical_space_without_a_search_space_fails_at_the_first_generation(self):
        from ax.api.client import Client

        client = Client(random_seed=0)
        client.configure_experiment(
            parameters=[
                ChoiceParameterConfig(
                    name="model",
                    parameter_type="str",
                    values=["linear", "tree"],
                    dependent_parameters={"linear": ["alpha"], "tree": []},
                ),
                RangeParameterConfig(name="alpha", parameter_type="float", bounds=(0.0, 1.0)),
            ]
        )
        client.configure_optimization(objective="-loss")
        client.set_generation_strategy(sobol_then_bo(num_sobol_trials=3))  # built blind
        with self.assertRaisesRegex(UnsupportedError, "does not support hierarchical"):
            client.get_next_trials(max_trials=1)
        self.assertEqual(len(client._experiment.trials), 0)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(UserInputError, "scalar_lengthscale_prior"):
            sobol_then_bo(scalar_lengthscale_prior="wide")
        with self.assertRaisesRegex(UserInputError, "num_sobol_trials"):
            sobol_then_bo(num_sobol_trials=0)
        with self.assertRaisesRegex(UserInputError, "max_parallelism"):
            sobol_then_bo(max_parallelism=-1)
        with self.assertRaisesRegex(UserInputError, "max_sobol_trials"):
            sobol_then_bo(num_sobol_trials=5, quality_gate=0.5, max_sobol_trials=3)
        with self.assertRaisesRegex(UserInputError, "Client with a configured experiment"):
            sobol_then_bo("not a search space")

    def test_client_without_experiment(self):
        from ax.api.client import Client

        with self.assertRaisesRegex(UserInputError, "configure_experiment"):
            sobol_then_bo(Client())

    def test_range_and_choice_configs_accepted(self):
        # log-scale int range and float choice work too
        from ax.api.client import Client

        client = Client(random_seed=0)
        client.configure_experiment(
            parameters=[
                RangeParameterConfig(
                    name="n", parameter_type="int", bounds=(1, 1000), scaling="log"
                ),
                ChoiceParameterConfig(
                    name="m", parameter_type="float", values=[0.1, 0.5, 0.9], is_ordered=False
                ),
            ]
        )
        client.configure_optimization(objective="-loss")
        # a fully discrete space: Ax enumerates candidates (optimize_acqf_discrete)
        client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=4))
        run_trials(client, 5, objective=lambda p: math.log(p["n"]) + 3 * p["m"])
        last = client._experiment.trials[4].arms[0].parameters
        self.assertIn(last["m"], [0.1, 0.5, 0.9])
        self.assertIsInstance(last["n"], int)


class TestMultiObjective(BotorchTestCase):
    # ~50 s; tests/runner/test_multi_objective.py runs multi-objective BO end to end in CI
    @pytest.mark.slow
    def test_two_objectives(self):
        client = make_client(fixed=False)
        client.configure_optimization(objective="-loss, -cost")
        gs = sobol_then_bo(client, num_sobol_trials=4, optimizer_kwargs=FAST_ACQF)
        client.set_generation_strategy(gs)
        for _ in range(5):
            for index, p in client.get_next_trials(max_trials=1).items():
                cost = p["layers"] * p["width"] / 100
                client.complete_trial(index, raw_data={"loss": loss(p), "cost": cost})
        self.assertEqual(node_names(client), [SOBOL] * 4 + [BO])
        model = gs.adapter.generator.surrogate.model
        self.assertIsInstance(model, ScalarChoiceGP)
        self.assertEqual(model.num_outputs, 2)
