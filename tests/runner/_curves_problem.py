"""A test-only problem whose evaluation returns training curves, in microseconds.

Kept in its own light module: Dask workers unpickle :func:`synthetic_with_curves`
by reference, so they import this module, not the test module.
"""

from __future__ import annotations

from ax_ext.runner.builtin_problems import synthetic_loss

#: Epochs of the fake curves.
EPOCHS = 3


def fake_curves(loss: float) -> dict[str, list[float]]:
    """Curves that end at ``loss``: ``val_loss``, ``train_loss``, ``val_accuracy``."""
    val = [loss + 1.0 / (k + 1) - 1.0 / EPOCHS for k in range(EPOCHS)]
    return {
        "val_loss": val,
        "train_loss": [0.9 * v for v in val],
        "val_accuracy": [1.0 / (1.0 + v) for v in val],
    }


def synthetic_with_curves(params: dict, seed: int = 0) -> dict:
    """The synthetic loss, plus fake per-epoch curves under ``"curves"``."""
    result = synthetic_loss(params, seed)
    return {**result, "curves": fake_curves(result["loss"])}
