"""Ax generation strategies: Sobol exploration, then BO with ``ScalarChoiceGP``.

Importing this module imports Ax and adds ax_ext's own classes to Ax's registries
(see :mod:`ax_ext.generation._registration`): ``UnorderedChoiceEncode`` and
``TreatOutcomes`` to the transform registry, ``ScalarChoiceGP``,
``ScalarChoiceKernel`` and ``MixedBudgetAcquisition`` to the storage registry,
``LOOQualityGate`` to the JSON encoder/decoder registries, and a model input
constructor for ``ScalarChoiceGP``.
Nothing else of Ax's changes. Import it before loading a stored experiment whose
generation strategy uses ax_ext.
"""

from ax_ext.generation import _registration  # noqa: F401  (registers ax_ext's classes)
from ax_ext.generation.accessors import fitted_model, quality_gate
from ax_ext.generation.acquisition import (
    MIXED_ALTERNATING_OPTIONS,
    MixedBudgetAcquisition,
    with_mixed_alternating_budget,
)
from ax_ext.generation.gate import LOOQualityGate
from ax_ext.generation.nodes import (
    BO,
    BO_BUDGET_SPENT,
    BO_GATE_PASSED,
    NODE_EXPLANATIONS,
    SOBOL,
    default_num_sobol_trials,
    explain_node,
)
from ax_ext.generation.outcome import TreatOutcomes
from ax_ext.generation.quiet import quiet_ax
from ax_ext.generation.storage import load_client, save_client, sqlite_storage_config
from ax_ext.generation.strategy import (
    BO_TRANSFORMS,
    scalar_choice_model_config,
    sobol_then_bo,
    unordered_choice_values,
)
from ax_ext.generation.transforms import UNORDERED_SUFFIX, UnorderedChoiceEncode, original_name

__all__ = [
    "BO",
    "BO_BUDGET_SPENT",
    "BO_GATE_PASSED",
    "BO_TRANSFORMS",
    "LOOQualityGate",
    "MIXED_ALTERNATING_OPTIONS",
    "MixedBudgetAcquisition",
    "NODE_EXPLANATIONS",
    "SOBOL",
    "TreatOutcomes",
    "UNORDERED_SUFFIX",
    "UnorderedChoiceEncode",
    "default_num_sobol_trials",
    "explain_node",
    "fitted_model",
    "load_client",
    "original_name",
    "quality_gate",
    "quiet_ax",
    "save_client",
    "scalar_choice_model_config",
    "sobol_then_bo",
    "sqlite_storage_config",
    "unordered_choice_values",
    "with_mixed_alternating_budget",
]
