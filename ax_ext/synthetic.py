r"""A small synthetic mixed-space data set for demos, tests and notebooks.

It imitates a neural-network tuning study: four scalar hyperparameters (already
scaled to [0, 1], as a log learning rate, a log weight decay, a log batch size
and a fraction of the epochs) and two choice hyperparameters (optimizer with
three values, activation with two), one-hot encoded. The "validation loss" has
an optimizer-dependent best learning rate, so scalar and choice parameters
interact and the joint part of the kernel has something to model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["MixedDataset", "mixed_dataset", "mixed_loss"]

SCALAR_NAMES = ["log_lr", "log_weight_decay", "log_batch_size", "epochs_frac"]
OPTIMIZERS = ["adam", "sgd", "rmsprop"]
ACTIVATIONS = ["relu", "tanh"]
#: the best (scaled) learning rate for each optimizer
_BEST_LR = torch.tensor([0.35, 0.75, 0.45])


@dataclass
class MixedDataset:
    """Training data of a mixed scalar / choice space.

    Attributes:
        X: ``n x 9`` features: 4 scalar columns, then 3 + 2 one-hot columns.
        Y: ``n x 1`` noisy validation losses.
        feature_names: The 9 column names (``"optimizer=adam"`` etc. for one-hot).
        scalar_dims: ``[0, 1, 2, 3]``.
        choice_dims: ``[4, ..., 8]``.
    """

    X: Tensor
    Y: Tensor
    feature_names: list[str]
    scalar_dims: list[int]
    choice_dims: list[int]


def mixed_loss(X: Tensor) -> Tensor:
    """The noise-free loss of ``batch_shape x n x 9`` features, ``batch_shape x n x 1``."""
    s, opt, act = X[..., :4], X[..., 4:7], X[..., 7:9]
    best_lr = opt @ _BEST_LR.to(X)
    loss = 6.0 * (s[..., 0] - best_lr).square()
    loss = loss + 0.8 * (s[..., 1] - 0.3).square() + 0.3 * (s[..., 2] - 0.5).square()
    loss = loss + 0.5 * torch.exp(-3.0 * s[..., 3])
    loss = loss + 0.25 * act[..., 1] * (1.0 + s[..., 0])  # tanh is worse, more so at high lr
    return loss.unsqueeze(-1)


def mixed_dataset(
    n: int = 40, seed: int = 0, noise_std: float = 0.02, dtype: torch.dtype = torch.float64
) -> MixedDataset:
    """Draw ``n`` random configurations and their noisy losses.

    Args:
        n: Number of points.
        seed: Seed of the generator (the global torch RNG is not touched).
        noise_std: Standard deviation of the observation noise.
        dtype: Floating point type of ``X`` and ``Y``.

    Returns:
        A :class:`MixedDataset`.

    Example:
        >>> data = mixed_dataset(n=5)
        >>> data.X.shape, data.Y.shape
        (torch.Size([5, 9]), torch.Size([5, 1]))
    """
    gen = torch.Generator().manual_seed(seed)
    scalars = torch.rand(n, 4, generator=gen, dtype=dtype)
    opt = torch.randint(len(OPTIMIZERS), (n,), generator=gen)
    act = torch.randint(len(ACTIVATIONS), (n,), generator=gen)
    X = torch.cat(
        [
            scalars,
            torch.eye(len(OPTIMIZERS), dtype=dtype)[opt],
            torch.eye(len(ACTIVATIONS), dtype=dtype)[act],
        ],
        dim=-1,
    )
    Y = mixed_loss(X) + noise_std * torch.randn(n, 1, generator=gen, dtype=dtype)
    names = SCALAR_NAMES + [f"optimizer={o}" for o in OPTIMIZERS]
    names += [f"activation={a}" for a in ACTIVATIONS]
    return MixedDataset(X, Y, names, list(range(4)), list(range(4, 9)))
