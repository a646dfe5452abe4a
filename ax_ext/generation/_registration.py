"""Adds ax_ext's classes to Ax's registries (run once, on import of ``ax_ext.generation``).

What is registered, and nothing else:

* :class:`~ax_ext.generation.UnorderedChoiceEncode` and
  :class:`~ax_ext.generation.TreatOutcomes` in Ax's transform registry
  (``ax.storage.transform_registry.register_transform``);
* ``ScalarChoiceGP``, ``ScalarChoiceKernel`` and ``MixedBudgetAcquisition`` in
  Ax's BoTorch-modular storage registry
  (``ax.storage.botorch_modular_registry.register_model`` / ``register_kernel`` /
  ``register_acquisition``), so experiments and generation strategies that name them
  save and load through Ax's JSON and SQL stores;
* :class:`~ax_ext.generation.LOOQualityGate` and
  :class:`~ax_ext.generation.strategy.SupportedSearchSpace` in Ax's JSON
  encoder/decoder registries (the SQL store uses the same registries for
  generation nodes);
* a ``submodel_input_constructor`` for ``ScalarChoiceGP`` that adds what Ax's
  generic constructor leaves out: the values of each coded choice column (and
  their display names, from ``model_options["choice_values"]``), the parameter
  names without :data:`~ax_ext.generation.UNORDERED_SUFFIX`, and the
  search-space bounds used to normalize scalar columns.

Each entry is keyed by an ax_ext class, so no other class's behaviour changes.
"""

from __future__ import annotations

from typing import Any

import torch
from ax.core.search_space import SearchSpaceDigest
from ax.exceptions.core import UnsupportedError
from ax.generators.torch.botorch_modular.surrogate import (
    Surrogate,
    _construct_submodules,
    submodel_input_constructor,
)
from ax.generators.torch.botorch_modular.utils import ModelConfig
from ax.storage.botorch_modular_registry import (
    register_acquisition,
    register_kernel,
    register_model,
)
from ax.storage.json_store.encoders import transition_criterion_to_dict
from ax.storage.json_store.registry import CORE_DECODER_REGISTRY, CORE_ENCODER_REGISTRY
from ax.storage.transform_registry import register_transform
from botorch.models.model import Model
from botorch.utils.datasets import SupervisedDataset

from ax_ext.generation.acquisition import MixedBudgetAcquisition
from ax_ext.generation.gate import LOOQualityGate
from ax_ext.generation.outcome import TreatOutcomes
from ax_ext.generation.strategy import SupportedSearchSpace
from ax_ext.generation.transforms import UnorderedChoiceEncode, original_name
from ax_ext.kernels import ScalarChoiceKernel
from ax_ext.models import ScalarChoiceGP


@submodel_input_constructor.register(ScalarChoiceGP)
def _scalar_choice_gp_inputs(
    botorch_model_class: type[Model],
    model_config: ModelConfig,
    dataset: SupervisedDataset,
    search_space_digest: SearchSpaceDigest,
    surrogate: Surrogate,
) -> dict[str, Any]:
    """Ax's generic inputs plus the choice columns' values and search-space bounds."""
    ssd = search_space_digest
    options = dict(model_config.model_options)
    labels = options.pop("choice_values", None) or {}
    choices = ssd.discrete_choices
    categorical = {i: list(choices[i]) for i in ssd.categorical_features if i in choices}
    names = [original_name(n) for n in dataset.feature_names]
    if categorical:
        # a mapping carries each coded column's values; ScalarChoiceGP one-hot
        # encodes those columns with it
        options.setdefault("categorical_features", categorical)
        value_names = {
            i: labels[names[i]]
            for i in categorical
            if len(labels.get(names[i], ())) == len(categorical[i])
        }
        if value_names:
            options.setdefault("choice_value_names", value_names)
    options.setdefault("feature_names", names)
    if "bounds" not in options and len(ssd.bounds) == dataset.X.shape[-1]:
        options["bounds"] = torch.tensor(ssd.bounds, dtype=dataset.X.dtype).T
    if ssd.fidelity_features or ssd.task_features:
        raise UnsupportedError(
            "ScalarChoiceGP models neither fidelity nor task parameters, but the search "
            f"space has fidelity features {ssd.fidelity_features} and task features "
            f"{ssd.task_features}. Use a multi-fidelity or multi-task model for them."
        )
    inputs = botorch_model_class.construct_inputs(training_data=dataset, **options)
    # the likelihood / covariance / transforms a ModelConfig may name, as Ax builds them
    inputs.update(
        _construct_submodules(
            model_config=model_config,
            dataset=dataset,
            search_space_digest=ssd,
            botorch_model_class=botorch_model_class,
        )
    )
    return inputs


register_transform(UnorderedChoiceEncode)
register_transform(TreatOutcomes)
register_model(ScalarChoiceGP)
register_kernel(ScalarChoiceKernel)
register_acquisition(MixedBudgetAcquisition)
CORE_ENCODER_REGISTRY[LOOQualityGate] = transition_criterion_to_dict
CORE_DECODER_REGISTRY[LOOQualityGate.__name__] = LOOQualityGate
CORE_ENCODER_REGISTRY[SupportedSearchSpace] = transition_criterion_to_dict
CORE_DECODER_REGISTRY[SupportedSearchSpace.__name__] = SupportedSearchSpace
