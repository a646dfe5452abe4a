"""ax_ext: mixed-space kernels, independent per-model GP fitting and charts for Ax/BoTorch.

Importing ``ax_ext`` imports BoTorch and GPyTorch but not Ax; Ax-specific glue
lives in submodules that are imported on demand.
"""

from ax_ext.expressions import ModelExpression, model_expression
from ax_ext.kernels import ScalarChoiceKernel
from ax_ext.models import ScalarChoiceGP

__version__ = "0.1.0"

__all__ = [
    "ModelExpression",
    "ScalarChoiceGP",
    "ScalarChoiceKernel",
    "__version__",
    "model_expression",
]
