import math
import random

from ax_ext.studies import DEMO_OPTIMIZERS, demo_objective, demo_study

BASE = {
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "epochs": 50,
    "dropout": 0.2,
    "batch_size": 64,
    "optimizer": "adam",
    "activation": "gelu",
    "batch_norm": True,
}


def test_objective_shape():
    assert math.isnan(demo_objective({**BASE, "lr": 0.5}))  # diverges
    assert not math.isnan(demo_objective({**BASE, "lr": 0.2}))  # with batch norm
    assert math.isnan(demo_objective({**BASE, "lr": 0.2, "optimizer": "sgd", "batch_norm": False}))
    assert demo_objective({**BASE, "epochs": 60}) < demo_objective({**BASE, "epochs": 30})
    assert demo_objective({**BASE, "optimizer": "sgd", "lr": 10**-1.5}) < demo_objective(
        {**BASE, "optimizer": "sgd"}
    )
    noisy = demo_objective(BASE, noise_std=0.1, rng=random.Random(0))
    assert noisy != demo_objective(BASE)


def test_study_is_reproducible_and_has_failures():
    a, b = demo_study(n_trials=12, seed=3), demo_study(n_trials=12, seed=3)
    ta, tb = a._experiment.trials, b._experiment.trials
    assert [t.arm.parameters for t in ta.values()] == [t.arm.parameters for t in tb.values()]
    assert a._experiment.lookup_data().df["mean"].tolist() == (
        b._experiment.lookup_data().df["mean"].tolist()
    )
    assert set(a._experiment.search_space.parameters["optimizer"].values) == set(DEMO_OPTIMIZERS)
    statuses = {t.status.name for t in demo_study(n_trials=30, seed=0)._experiment.trials.values()}
    assert statuses == {"COMPLETED", "FAILED"}
