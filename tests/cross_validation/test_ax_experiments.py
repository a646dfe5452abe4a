import math

import torch
from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from ax.exceptions.core import UserInputError
from botorch.models import SingleTaskGP
from botorch.utils.testing import BotorchTestCase
from gpytorch.mlls import ExactMarginalLogLikelihood

from ax_ext.cross_validation import (
    AxCrossValidationResult,
    ax_cross_validation,
    encode_search_space,
)
from ax_ext.fit import fit_gpytorch_mll
from ax_ext.models import ScalarChoiceGP

FIT = {"optimizer_kwargs": {"options": {"maxiter": 30}}}
OPTS = ["adam", "sgd", "rmsprop"]


def objective(p):
    """A loss around 50 (original units far from standardized ones)."""
    loss = 50.0 + 4.0 * (math.log10(p["lr"]) + 2.5) ** 2 + 0.5 * p["layers"]
    loss += (
        2.0 * math.log2(p["width"] / 64) ** 2 / 4
        + {"adam": 0.0, "sgd": 3.0, "rmsprop": 1.0}[p["opt"]]
    )
    return loss + (1.5 if p["bn"] else 0.0) + 0.01 * p["bs"]


def make_client(n_completed=12, seed=0):
    client = Client(random_seed=seed)
    client.configure_experiment(
        name="cv_test",
        parameters=[
            RangeParameterConfig(
                name="lr", parameter_type="float", bounds=(1e-4, 1e-1), scaling="log"
            ),
            RangeParameterConfig(name="layers", parameter_type="int", bounds=(1, 8)),
            RangeParameterConfig(
                name="width", parameter_type="int", bounds=(16, 512), scaling="log"
            ),
            ChoiceParameterConfig(name="opt", parameter_type="str", values=OPTS),
            ChoiceParameterConfig(name="bn", parameter_type="bool", values=[True, False]),
            ChoiceParameterConfig(name="bs", parameter_type="int", values=[16, 32, 64]),
            ChoiceParameterConfig(name="fixed", parameter_type="str", values=["only"]),
        ],
    )
    client.configure_optimization(objective="-loss")
    client.configure_generation_strategy(method="random_search")
    trials = client.get_next_trials(max_trials=n_completed + 3)
    for k, (i, p) in enumerate(trials.items()):
        if k == 1:
            client.mark_trial_failed(i, failed_reason="out of memory")
        elif k == 4:
            client.mark_trial_abandoned(i)
        elif k == 7:
            client.complete_trial(i, raw_data={"loss": float("nan")})
        else:
            client.complete_trial(i, raw_data={"loss": objective(p)})
    return client


def manual_features(p):
    """The encoding written out by hand, to check encode_search_space independently."""
    lr = (math.log10(p["lr"]) + 4) / 3
    layers = (p["layers"] - 1) / 7
    width = (math.log10(p["width"]) - math.log10(16)) / (math.log10(512) - math.log10(16))
    bs = (math.log10(p["bs"]) - math.log10(16)) / (math.log10(64) - math.log10(16))
    return [lr, layers, width] + [float(p["opt"] == o) for o in OPTS] + [float(p["bn"]), bs]


def reference(X, Y, test_idx, feature_kwargs):
    """Fit one ScalarChoiceGP on the data without ``test_idx``, predict those points."""
    keep = torch.tensor([i for i in range(X.shape[0]) if i not in set(test_idx)])
    model = ScalarChoiceGP(X[keep], Y[keep], **feature_kwargs)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), **FIT)
    model.eval()
    with torch.no_grad():
        post = model.posterior(X[test_idx], observation_noise=True)
    return post.mean[:, 0], post.variance[:, 0].sqrt()


class TestAxCrossValidation(BotorchTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client = make_client()
        cls.experiment = cls.client._experiment
        # the values as reported, failures dropped: the mechanics against hand-made references
        cls.result = ax_cross_validation(cls.client, warm_start=False, fit_kwargs=FIT, outcome=None)

    def test_encoding(self):
        enc = encode_search_space(self.experiment.search_space)
        self.assertEqual(
            enc.feature_names,
            ["lr", "layers", "width", "opt=adam", "opt=sgd", "opt=rmsprop", "bn", "bs"],
        )
        self.assertEqual(enc.scalar_dims, [0, 1, 2, 6, 7])
        self.assertEqual(enc.choice_dims, [3, 4, 5])
        self.assertEqual(enc.scale["lr"], "log")
        self.assertEqual(enc.scale["bs"], "log")
        self.assertEqual(enc.scale["opt"], "one-hot")
        self.assertNotIn("fixed", enc.scale)
        for p in self.result.parameters:
            self.assertAllClose(
                torch.tensor(enc.encode(p), dtype=torch.double),
                torch.tensor(manual_features(p), dtype=torch.double),
            )
        with self.assertRaisesRegex(UserInputError, "Expected parameter 'opt' to be one of"):
            enc.encode({**self.result.parameters[0], "opt": "lion"})
        with self.assertRaisesRegex(UserInputError, "Expected a value of parameter 'lr'"):
            enc.encode({k: v for k, v in self.result.parameters[0].items() if k != "lr"})

    def test_points_units_and_exclusions(self):
        res = self.result
        self.assertIsInstance(res, AxCrossValidationResult)
        self.assertEqual(res.metric_name, "loss")
        self.assertTrue(res.minimize)
        self.assertEqual(len(res.trial_index), 12)
        reasons = {e.trial_index: e.reason for e in res.excluded}
        self.assertEqual(reasons[1], "trial FAILED: out of memory")
        self.assertTrue(reasons[4].startswith("trial ABANDONED"))
        self.assertEqual(reasons[7], "metric 'loss' is nan")
        self.assertFalse(set(reasons) & set(res.trial_index))
        # original units: observed are the reported losses, predictions on that scale
        for i, p, obs in zip(res.trial_index, res.parameters, res.observed.tolist()):
            self.assertAlmostEqual(obs, objective(p))
            self.assertEqual(p, self.experiment.trials[i].arm.parameters)
        self.assertGreater(float(res.observed.min()), 49.0)
        self.assertLess(float((res.mean - res.observed).abs().mean()), float(res.observed.std()))
        self.assertTrue(bool((res.mean > 45).all() and (res.mean < 100).all()))
        self.assertTrue(bool((res.std > 0).all() and (res.std < 30).all()))
        df = res.to_dataframe()
        self.assertEqual(
            list(df.columns[:6]), ["trial_index", "arm_name", "fold", "observed", "mean", "std"]
        )
        self.assertIn("opt", df.columns)
        self.assertEqual(len(res.excluded_dataframe()), 3)

    def test_default_treatment_imputes_the_failed_and_nan_trials(self):
        res = ax_cross_validation(self.client, warm_start="full", fit_kwargs=FIT)
        self.assertEqual(len(res.trial_index), 12)  # the held-out points: observed trials only
        self.assertEqual(sorted(e.trial_index for e in res.imputed), [1, 7])
        self.assertEqual([e.trial_index for e in res.excluded], [4])  # abandoned
        self.assertEqual(res.full_model.train_inputs[0].shape[-2], 14)
        self.assertTrue(bool((res.treated.imputed >= res.reported.max()).all()))
        self.assertTrue(
            torch.equal(res.observed[~res.treated.clipped], res.reported[~res.treated.clipped])
        )

    def test_loo_matches_fold_by_fold_reference(self):
        res = self.result
        kwargs = {"scalar_dims": [0, 1, 2, 6, 7], "choice_dims": [3, 4, 5]}
        X = torch.tensor([manual_features(p) for p in res.parameters], dtype=torch.double)
        Y = res.observed.unsqueeze(-1)
        self.assertAllClose(res.train_X, X)
        for i in range(0, 12, 3):  # a subset of folds keeps the test quick
            mean, std = reference(X, Y, [i], kwargs)
            self.assertAllClose(res.mean[i : i + 1], mean, atol=1e-5, rtol=1e-5)
            self.assertAllClose(res.std[i : i + 1], std, atol=1e-5, rtol=1e-5)

    def test_k_fold(self):
        res = ax_cross_validation(
            self.experiment, "loss", folds=3, warm_start=False, fit_kwargs=FIT, seed=1, outcome=None
        )
        self.assertEqual(sorted(torch.bincount(res.fold).tolist()), [4, 4, 4])
        kwargs = {"scalar_dims": [0, 1, 2, 6, 7], "choice_dims": [3, 4, 5]}
        idx = (res.fold == 0).nonzero().flatten().tolist()
        mean, std = reference(res.train_X, res.observed.unsqueeze(-1), idx, kwargs)
        self.assertAllClose(res.mean[idx], mean, atol=1e-5, rtol=1e-5)
        self.assertAllClose(res.std[idx], std, atol=1e-5, rtol=1e-5)

    def test_other_model_class_sem_and_prefix(self):
        res = ax_cross_validation(
            self.client,
            model_cls=SingleTaskGP,
            refit=False,
            trial_indices=range(6),
            fit_kwargs=FIT,
        )
        self.assertEqual(res.trial_index, [0, 2, 3, 5])
        self.assertEqual(res.fold_fits, [])
        self.assertEqual(res.mean.shape, torch.Size([4]))

    def test_known_sem_gives_fixed_noise(self):
        client = Client(random_seed=1)
        client.configure_experiment(
            parameters=[RangeParameterConfig(name="x", parameter_type="float", bounds=(0, 1))]
        )
        client.configure_optimization(objective="y")
        client.configure_generation_strategy(method="random_search")
        for i, p in client.get_next_trials(max_trials=5).items():
            client.complete_trial(i, raw_data={"y": (10 * p["x"], 0.5)})
        res = ax_cross_validation(client, fit_kwargs=FIT, refit=False)
        noise = res.full_fit  # ax_ext fit result of the fixed-noise model
        self.assertIsNotNone(noise)
        self.assertFalse(res.minimize)
        # the observation noise (0.5 ** 2) is part of every predictive variance
        self.assertTrue(bool((res.std >= 0.5 - 1e-6).all()))

    def test_errors(self):
        with self.assertRaisesRegex(UserInputError, "Expected metric_name to be one of"):
            ax_cross_validation(self.client, "accuracy")
        with self.assertRaisesRegex(UserInputError, "has no experiment yet"):
            ax_cross_validation(Client())
        with self.assertRaisesRegex(UserInputError, "Expected an ax.core.experiment"):
            ax_cross_validation(object())
        with self.assertRaisesRegex(UserInputError, "at least 2 completed trials"):
            ax_cross_validation(self.client, trial_indices=[0])


def test_objective_directions_of_single_multi_and_scalarized_objectives():
    from ax_ext.adapter import objective_minimizes

    def experiment(objective):
        client = Client()
        client.configure_experiment(
            parameters=[RangeParameterConfig(name="x", parameter_type="float", bounds=(0, 1))]
        )
        client.configure_optimization(objective=objective)
        return client._experiment

    single = experiment("-loss")
    assert objective_minimizes(single, "loss") is True
    assert objective_minimizes(single, "other") is None
    multi = experiment("-loss, accuracy")
    assert objective_minimizes(multi, "loss") is True
    assert objective_minimizes(multi, "accuracy") is False
    assert objective_minimizes(experiment("loss + 2 * cost"), "loss") is None
