import numpy as np
import pytest
import torch
from ax.adapter.transforms.winsorize import _get_tukey_cutoffs
from botorch.exceptions.errors import UnsupportedError

from ax_ext.models.outcome import OutcomeTreatment, tukey_fence


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("minimize", [True, False])
@pytest.mark.parametrize("n", [1, 2, 5, 13, 40])
def test_fence_is_axs_winsorization_cutoff(dtype, minimize, n):
    g = torch.Generator().manual_seed(n)
    y = torch.randn(n, generator=g, dtype=torch.float64).exp() ** 3  # heavy right tail
    expected = _get_tukey_cutoffs(y.numpy(), lower=not minimize)
    got = tukey_fence(y.to(dtype), minimize)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert got == pytest.approx(expected, rel=tol, abs=tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_clips_only_the_bad_side_and_imputes_at_the_worst(dtype):
    y = torch.tensor([0.05, 0.06, 0.07, 0.08, 0.09, 165.0, -3.0], dtype=dtype)
    out = OutcomeTreatment().apply(y, minimize=True, num_failed=3)
    fence = tukey_fence(y, True)
    assert out.values.dtype == dtype and out.imputed.dtype == dtype
    assert out.clipped.tolist() == [False] * 5 + [True, False]
    assert out.values[5] == pytest.approx(fence)
    assert torch.equal(out.values[[0, 1, 2, 3, 4, 6]], y[[0, 1, 2, 3, 4, 6]])  # good side kept
    assert out.imputed.tolist() == pytest.approx([fence] * 3)
    assert float(out.imputed[0]) >= float(out.values.max())
    # maximizing: the small values are the bad ones
    up = OutcomeTreatment().apply(-y, minimize=False, num_failed=1)
    assert up.clipped.tolist() == out.clipped.tolist()
    assert float(up.imputed[0]) == pytest.approx(-fence, rel=1e-6)


def test_without_winsorizing_failed_trials_are_as_bad_as_the_worst_value():
    y = np.array([1.0, 2.0, 3.0, 4.0, 1e4])
    out = OutcomeTreatment(winsorize=False).apply(y, minimize=True, num_failed=1)
    assert out.values.tolist() == y.tolist() and not out.clipped.any()
    assert out.imputed.tolist() == [1e4]
    # no outlier: the fence itself, worse than every value
    out = OutcomeTreatment(winsorize=False).apply(y[:4], minimize=True, num_failed=1)
    assert out.imputed.tolist() == [tukey_fence(torch.tensor(y[:4]), True)] and out.imputed[0] > 4


def test_drop_and_non_objectives_change_nothing():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0])
    drop = OutcomeTreatment(failed_trials="drop").apply(y, minimize=True, num_failed=2)
    assert drop.imputed.numel() == 0 and drop.clipped.any()
    none = OutcomeTreatment().apply(y, minimize=None, num_failed=2)
    assert torch.equal(none.values, y) and none.imputed.numel() == 0 and none.fence is None
    assert none.describe(y) == "Values as reported."


def test_bad_input_is_refused_with_what_to_do():
    with pytest.raises(UnsupportedError, match="num_failed"):
        OutcomeTreatment().apply(torch.tensor([1.0, float("nan")]), minimize=True)
    with pytest.raises(UnsupportedError, match="'impute', 'drop'"):
        OutcomeTreatment(failed_trials="zero")
    with pytest.raises(UnsupportedError, match="unknown keys"):
        OutcomeTreatment.from_config({"winsorise": True})
    assert OutcomeTreatment.from_config(None) == OutcomeTreatment()
    t = OutcomeTreatment(winsorize=False, failed_trials="drop")
    assert OutcomeTreatment.from_config(t.to_config()) == t
