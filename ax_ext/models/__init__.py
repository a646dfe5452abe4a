"""BoTorch models built on ax_ext's kernels."""

from ax_ext.models._encoding import ChoiceOneHot
from ax_ext.models.scalar_choice_gp import ScalarChoiceGP

__all__ = ["ChoiceOneHot", "ScalarChoiceGP"]
