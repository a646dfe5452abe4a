"""Small deterministic Ax experiments for the chart tests (trials attached by hand)."""

import math

from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

OPTS = ["adam", "sgd", "rmsprop"]


def client_with(points, loss, *, constraint=None, extra=None, failed=(), seed=0):
    """A Client over ``lr`` (log), ``depth`` (int), ``opt`` (str choice), with attached trials.

    ``points`` are parameter dicts, ``loss(p)`` the objective (minimized); ``failed``
    are positions in ``points`` marked failed instead of completed; ``extra(p)``
    gives further metrics (for outcome constraints such as ``"acc >= 0.5"``).
    """
    client = Client(random_seed=seed)
    client.configure_experiment(
        name="chart_test",
        parameters=[
            RangeParameterConfig(
                name="lr", parameter_type="float", bounds=(1e-4, 1.0), scaling="log"
            ),
            RangeParameterConfig(name="depth", parameter_type="int", bounds=(1, 9)),
            ChoiceParameterConfig(name="opt", parameter_type="str", values=OPTS),
        ],
    )
    client.configure_optimization(
        objective="-loss", outcome_constraints=[constraint] if constraint else None
    )
    for k, p in enumerate(points):
        index = client.attach_trial(parameters=p)
        if k in failed:
            client.mark_trial_failed(index, failed_reason="diverged")
        else:
            data = {"loss": loss(p), **(extra(p) if extra else {})}
            client.complete_trial(index, raw_data=data)
    return client


def grid(n=12):
    """``n`` spread-out configurations (deterministic)."""
    points = []
    for i in range(n):
        u = (i * 0.618034) % 1.0
        points.append({"lr": 10 ** (-4 + 4 * u), "depth": 1 + (i * 5) % 9, "opt": OPTS[i % 3]})
    return points


def interior_loss(p):
    """Best near lr = 1e-2, depth = 5: inside the search space."""
    return (math.log10(p["lr"]) + 2) ** 2 + 0.1 * (p["depth"] - 5) ** 2 + OPTS.index(p["opt"])


def boundary_loss(p):
    """Best at the top of the lr range."""
    return -math.log10(p["lr"]) + 0.01 * p["depth"]
