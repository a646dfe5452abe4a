r"""The protocol through which a model offers the fitter a faster fused loss.

The fitter in :mod:`ax_ext.fit` is generic: it knows nothing about ax_ext's (or
anyone's) kernels. A model that can compute its members' negative marginal log
likelihood faster than GPyTorch's general machinery (for example with one fused
kernel evaluation and a batched Cholesky) exposes a method

.. code-block:: python

    def fused_member_loss(self, mll) -> FusedMemberLoss | None: ...

returning ``None`` when it cannot handle this ``mll`` (the fitter then uses its
generic path), or a callable

.. code-block:: python

    loss(params: Mapping[str, Tensor], members: Tensor) -> Tensor

where ``members`` is a ``k`` LongTensor of flat member indices (members are the
entries of the MLL output's batch shape, in row-major order), ``params`` maps each
trainable parameter name of ``mll`` (as in ``mll.named_parameters()``) to a
``k x *tail`` tensor (the parameter's shape without its member dimensions), and
the result is the ``k`` values of ``-mll(model(train_X), train_Y)`` for those
members **with those parameter values**: divided by the number of data points,
priors included, differentiable with respect to ``params``. A member whose value
cannot be computed (e.g. a failed Cholesky) gets ``NaN``; it must not affect the
other members. The fitter checks nothing else, so implementations should be
tested for equality with the MLL (see ``tests/models/test_fused_loss.py``); the
fitter compares it with BoTorch's loss at the starting values and does not use it
if they differ.

A model may also say how it should be fitted by default, e.g. with more starts
for a likelihood known to have several optima:

.. code-block:: python

    def default_fit_options(self, mll) -> Mapping[str, Any]: ...

returning :class:`~ax_ext.fit.FitOptions` names and values (``{"restarts": 4}``).
They apply only when ax_ext's own L-BFGS-B fits the model from its loss (not from
a user closure) and the caller did not set them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from torch import Tensor

__all__ = [
    "FusedMemberLoss",
    "SupportsFitDefaults",
    "SupportsFusedMemberLoss",
    "model_fit_defaults",
    "supports_fused_member_loss",
]

#: ``(params, members) -> k`` negative MLL values, see the module docstring.
FusedMemberLoss = Callable[[Mapping[str, Tensor], Tensor], Tensor]


@runtime_checkable
class SupportsFusedMemberLoss(Protocol):
    """A model that can hand the fitter a fused per-member loss."""

    def fused_member_loss(self, mll: Any) -> FusedMemberLoss | None: ...


def supports_fused_member_loss(model: Any) -> bool:
    """Whether ``model`` implements :class:`SupportsFusedMemberLoss`."""
    return callable(getattr(model, "fused_member_loss", None))


@runtime_checkable
class SupportsFitDefaults(Protocol):
    """A model with its own default fit options."""

    def default_fit_options(self, mll: Any) -> Mapping[str, Any]: ...


def model_fit_defaults(mll: Any) -> Mapping[str, Any]:
    """The default fit options ``mll``'s model asks for (``{}`` if none)."""
    method = getattr(getattr(mll, "model", None), "default_fit_options", None)
    return dict(method(mll)) if callable(method) else {}
