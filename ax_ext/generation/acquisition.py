r"""Ax's ``Acquisition`` with a budget for BoTorch's mixed alternating optimizer that fits
discrete choices.

On a mixed search space with more than a few discrete combinations, Ax 1.3.1
optimizes the acquisition function with BoTorch's
``optimize_acqf_mixed_alternating``: from 20 starting points it alternates
discrete neighbour steps with continuous L-BFGS-B steps of at most
``maxiter_continuous = 8`` iterations, until one alternation improves every
start by less than 1e-8. ax_ext's BO node keeps choice parameters discrete
(:class:`~ax_ext.models.ScalarChoiceGP` one-hot encodes them itself), so every
discrete step can move a start to another choice value, and 8 continuous
iterations rarely finish the continuous step that follows: the loop alternates
about a dozen times, and each round adds acquisition evaluations.
:data:`MIXED_ALTERNATING_OPTIONS` lets each continuous step run to convergence
(up to 50 iterations), so the loop stops after a few alternations; starts from
10 of 512 raw samples instead of 20 of 1024; optimizes the continuous
relaxation that picks the starting points for at most 30 iterations instead of
100 (the alternating steps refine them); and evaluates up to 128 points per
batch outside gradient steps (Ax's default 32; BoTorch's own 2048).
``benchmarks/acqf_budget.py`` compares the acquisition values and times of
these budgets with BoTorch's default; docs/generation.md has the table.

:class:`MixedBudgetAcquisition` applies this budget only when Ax picks
``optimize_acqf_mixed_alternating`` (other optimizers do not take these
options), and only where the user's ``optimizer_kwargs`` do not set them. It
also passes each optimizer only the options it accepts
(:func:`supported_optimizer_options`): on a small all-discrete space Ax picks
``optimize_acqf_discrete``, which takes no ``options``, while the same
``optimizer_kwargs`` suit the mixed optimizer once the space grows.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from ax.generators.torch.botorch_modular.acquisition import Acquisition, determine_optimizer
from ax.generators.utils import mk_discrete_choices

__all__ = [
    "MIXED_ALTERNATING_OPTIONS",
    "MixedBudgetAcquisition",
    "prior_selection_records",
    "supported_optimizer_options",
    "with_mixed_alternating_budget",
]

logger = logging.getLogger(__name__)

#: The budget ax_ext's BO node gives ``optimize_acqf_mixed_alternating``: top-level
#: optimizer arguments and, under ``"options"``, its options (user values win).
MIXED_ALTERNATING_OPTIONS: dict[str, Any] = {
    "num_restarts": 10,
    "raw_samples": 512,
    "options": {"maxiter_continuous": 50, "maxiter_init": 30, "init_batch_limit": 128},
}


def with_mixed_alternating_budget(optimizer_options: dict[str, Any] | None) -> dict[str, Any]:
    """``optimizer_options`` completed with :data:`MIXED_ALTERNATING_OPTIONS`.

    Args:
        optimizer_options: Ax's ``optimizer_kwargs`` as the user gave them, or None.

    Returns:
        A new dict: the user's keys and ``"options"`` entries win.

    Example:
        >>> from ax_ext.generation import with_mixed_alternating_budget
        >>> budget = with_mixed_alternating_budget({"num_restarts": 4, "options": {"tol": 1e-6}})
        >>> budget["num_restarts"], budget["raw_samples"], budget["options"]["tol"]
        (4, 512, 1e-06)
        >>> budget["options"]["maxiter_continuous"]
        50
    """
    merged = dict(optimizer_options or {})
    for key, value in MIXED_ALTERNATING_OPTIONS.items():
        if key == "options":
            merged["options"] = {**value, **(merged.get("options") or {})}
        else:
            merged.setdefault(key, value)
    return merged


def supported_optimizer_options(
    optimizer: str, optimizer_options: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The entries of ``optimizer_options`` that BoTorch's ``optimizer`` accepts.

    Ax raises for ``options`` given to ``optimize_acqf_discrete`` or
    ``optimize_acqf_discrete_local_search`` (and BoTorch for other unknown
    keywords); the entries the chosen optimizer does not take are left out and
    logged at INFO, the rest passed unchanged.

    Example:
        >>> supported_optimizer_options(
        ...     "optimize_acqf_discrete", {"options": {"maxiter": 5}, "max_batch_size": 64}
        ... )
        {'max_batch_size': 64}
        >>> supported_optimizer_options("optimize_acqf", {"options": {"maxiter": 5}})
        {'options': {'maxiter': 5}}
    """
    if not optimizer_options:
        return optimizer_options
    import botorch.optim

    function = getattr(botorch.optim, optimizer, None)
    if function is None:  # an optimizer this version does not know: leave it to Ax
        return optimizer_options
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return optimizer_options
    kept = {k: v for k, v in optimizer_options.items() if k in parameters}
    dropped = sorted(set(optimizer_options) - set(kept))
    if dropped:
        logger.info(
            "%s takes no %s; these optimizer_kwargs are not passed to it.", optimizer, dropped
        )
    return kept


def prior_selection_records(surrogate: Any) -> list[dict[str, Any]]:
    """What each ``"auto"`` lengthscale prior of the surrogate's models chose.

    One ``{"lengthscale_prior_selection": {...}}`` per model that chose
    (:meth:`ax_ext.models.prior_selection.PriorSelection.to_dict`); Ax writes
    :class:`MixedBudgetAcquisition`'s ``models_used`` into the generator run's
    ``gen_metadata["models_used"]``, after its own ``{metric: model name}``.
    """
    try:
        model = surrogate.model
    except Exception:  # noqa: BLE001  (Ax raises ModelError before a fit)
        return []
    models = getattr(model, "models", None) or [model]
    return [
        {"lengthscale_prior_selection": selection.to_dict()}
        for m in models
        if (selection := getattr(m, "lengthscale_prior_selection", None)) is not None
    ]


class MixedBudgetAcquisition(Acquisition):
    """Ax's ``Acquisition``, with :data:`MIXED_ALTERNATING_OPTIONS` for the mixed
    alternating optimizer, passing each optimizer only the options it takes.

    It also adds the model's lengthscale prior choice (for ``"auto"``) to Ax's
    ``models_used``, so each BO trial's ``gen_metadata["models_used"]`` records
    it (:func:`prior_selection_records`).

    Everything else (acquisition function, other optimizers, their defaults) is
    Ax's. Registered with Ax's storage registry on import of
    :mod:`ax_ext.generation`, so strategies using it save and load.

    Example:
        >>> from ax_ext.generation import MixedBudgetAcquisition
        >>> from ax.generators.torch.botorch_modular.acquisition import Acquisition
        >>> issubclass(MixedBudgetAcquisition, Acquisition)
        True
    """

    def optimize(
        self,
        n: int,
        search_space_digest: Any,
        inequality_constraints: Any = None,
        equality_constraints: Any = None,
        fixed_features: dict[int, float] | None = None,
        rounding_func: Any = None,
        optimizer_options: dict[str, Any] | None = None,
        candidate_set: Any = None,
        sampling_strategy: Any = None,
    ) -> Any:
        if candidate_set is None and sampling_strategy is None:
            optimizer = determine_optimizer(
                search_space_digest=search_space_digest,
                discrete_choices=mk_discrete_choices(
                    ssd=search_space_digest, fixed_features=fixed_features
                ),
                acqf=self.acqf,
            )
            if optimizer == "optimize_acqf_mixed_alternating":
                optimizer_options = with_mixed_alternating_budget(optimizer_options)
            optimizer_options = supported_optimizer_options(optimizer, optimizer_options)
        used = [m for m in self.models_used if "lengthscale_prior_selection" not in m]
        self.models_used = [*used, *prior_selection_records(self.surrogate)]
        return super().optimize(
            n=n,
            search_space_digest=search_space_digest,
            inequality_constraints=inequality_constraints,
            equality_constraints=equality_constraints,
            fixed_features=fixed_features,
            rounding_func=rounding_func,
            optimizer_options=optimizer_options,
            candidate_set=candidate_set,
            sampling_strategy=sampling_strategy,
        )
