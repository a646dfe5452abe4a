import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.utils.testing import BotorchTestCase

from ax_ext.kernels.columns import check_column_indices


class TestCheckColumnIndices(BotorchTestCase):
    def test_one_check_for_kernel_and_model_indices(self):
        self.assertEqual(check_column_indices("dims", [2, 0]), [2, 0])
        self.assertEqual(check_column_indices("dims", torch.tensor([1, -1]), width=4), [1, 3])
        for dims, width, message in (
            ([-1], None, "non-negative integer"),
            ([1.0], 3, "integer column indices"),
            ([True], 3, "integer column indices"),
            ([3], 3, "contains column 3, but the input has 3 columns"),
            ([1, -2], 3, "without repeated columns"),
        ):
            with self.assertRaisesRegex(UnsupportedError, message):
                check_column_indices("dims", dims, width=width)
