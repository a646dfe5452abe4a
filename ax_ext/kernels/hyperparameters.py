"""One typed view of a ScalarChoiceKernel's hyperparameters.

The kernel module, the fused training covariance (:mod:`ax_ext.kernels.fused`),
ScalarChoiceGP's fused loss and the expression view all read the same seven
hyperparameters; this dataclass names them once, so none of them passes seven
positional tensors or reaches into the kernel's private state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

from torch import Tensor

__all__ = ["ScalarChoiceHyperparameters"]


@dataclass(frozen=True)
class ScalarChoiceHyperparameters:
    """Constrained hyperparameter values of a ``ScalarChoiceKernel``.

    In the kernel's own layout (:meth:`ScalarChoiceKernel.hyperparameters`) the
    scalars are ``batch_shape`` tensors and the lengthscales
    ``batch_shape x 1 x d``; the fused covariance takes them flattened to ``k``
    members (``k`` and ``k x d``). A part the kernel does not have is ``None``
    (the weights and joint lengthscales exist only with both scalar and choice
    columns).

    Attributes:
        outputscale: The overall scale.
        factorized_weight: Weight of the factorized (additive) term; ``1 - w`` goes
            to the joint (product) term.
        scalar_weight: Within the factorized term, the scalar part's weight.
        factorized_scalar_lengthscale: Matern-5/2 lengthscales of the factorized term.
        factorized_choice_lengthscale: exp(-L1) lengthscales of the factorized term.
        joint_scalar_lengthscale: Matern-5/2 lengthscales of the joint term.
        joint_choice_lengthscale: exp(-L1) lengthscales of the joint term.

    Example:
        >>> import torch
        >>> from ax_ext.kernels import ScalarChoiceKernel
        >>> hp = ScalarChoiceKernel([0], [1, 2]).hyperparameters()
        >>> [name for name, _ in hp.items()][:3]
        ['outputscale', 'factorized_weight', 'scalar_weight']
    """

    outputscale: Tensor
    factorized_weight: Tensor | None = None
    scalar_weight: Tensor | None = None
    factorized_scalar_lengthscale: Tensor | None = None
    factorized_choice_lengthscale: Tensor | None = None
    joint_scalar_lengthscale: Tensor | None = None
    joint_choice_lengthscale: Tensor | None = None

    def items(self) -> Iterator[tuple[str, Tensor]]:
        """``(name, value)`` of the hyperparameters that exist, in field order."""
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                yield f.name, value

    @classmethod
    def names(cls) -> list[str]:
        """All field names, in order."""
        return [f.name for f in fields(cls)]

    @classmethod
    def from_getter(cls, get: Callable[[str], Tensor | None]) -> ScalarChoiceHyperparameters:
        """Build the view from ``get(name)`` (``None`` for a part that does not exist)."""
        return cls(**{name: get(name) for name in cls.names()})
