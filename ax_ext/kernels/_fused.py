r"""The ScalarChoiceKernel training covariance as one autograd Function.

For a fit, the kernel is evaluated on the training inputs against themselves,
many times, with new hyperparameters. This Function computes
``K = outputscale * [fw (sw M(s; l_fs) + (1 - sw) E(c; l_fc)) + (1 - fw) M(s; l_js) E(c; l_jc)]``
and its gradient with respect to the hyperparameters by hand, in about a third
of the elementwise passes autograd needs:

* ``M(s; l) = matern52(r)`` with ``r^2 = |(s_i - s_j) / l|^2``; with ``u = sqrt(5) r``,
  ``dM / d(r^2) = -(5/6) (1 + u) exp(-u)`` (no division by ``r``), and for a
  symmetric ``H = dL/d(r^2)``,
  ``dL / dl_d = -(4 / l_d^3) [sum_i rowsum(H)_i s_id^2 - sum_i s_id (H s)_id]``,
  one batched matrix product;
* ``E(c; l) = exp(-sum_d |c_id - c_jd| / l_d)``. For 0/1 (one-hot) columns,
  ``|c_id - c_jd| = c_id + c_jd - 2 c_id c_jd``, so the weighted distances are one
  batched matrix product, and for a symmetric ``P = dL/dE * E``,
  ``dL / dl_d = (2 / l_d^2) [sum_i rowsum(P)_i c_id - sum_i c_id (P c)_id]``.
  Other columns use precomputed absolute differences ``A`` (``k x n^2 x d_c``):
  ``dL / dl_d = (1 / l_d^2) sum_ij P_ij A_ijd``. :func:`choice_operand` picks.

``tests/kernels/test_fused.py`` checks values against the kernel module and the
gradient with ``torch.autograd.gradcheck``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_SQRT5 = math.sqrt(5.0)


def _matern_parts(s: Tensor, ls: Tensor, off_diagonal: Tensor) -> tuple[Tensor, Tensor]:
    """``M`` and ``dM/d(r^2)`` (``... x k x n x n``) for centered inputs ``s``
    (``k x n x d``) and lengthscales ``ls`` (``... x k x d``)."""
    a = s / ls.unsqueeze(-2)
    sq = a.square().sum(-1)
    r2 = (sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2.0 * (a @ a.transpose(-1, -2))).clamp_min(0.0)
    u = (r2 * off_diagonal).sqrt().mul_(_SQRT5)
    e = torch.exp(-u)
    M = (1.0 + u + u.square() / 3.0) * e
    dM = (1.0 + u).mul_(e).mul_(-5.0 / 6.0)
    return M, dM


def choice_operand(c: Tensor) -> tuple[Tensor, bool]:
    """What the Function needs of choice columns ``c`` (``k x n x d_c``).

    Returns ``(c, True)`` when every entry is 0 or 1 (one-hot columns), else the
    ``k x n^2 x d_c`` absolute differences and ``False``.
    """
    if bool(((c == 0) | (c == 1)).all()):
        return c, True
    k, n = c.shape[0], c.shape[-2]
    return (c.unsqueeze(-2) - c.unsqueeze(-3)).abs().reshape(k, n * n, -1), False


def _exp_part(choice: Tensor, binary: bool, ls: Tensor, n: int) -> Tensor:
    """``E`` (``... x k x n x n``) for ``... x k x d`` lengthscales, from 0/1 columns
    (``k x n x d``) or absolute differences (``k x n^2 x d``)."""
    w = ls.reciprocal()
    if binary:
        cw = choice * w.unsqueeze(-2)
        diag = cw.sum(-1)
        cross = cw @ choice.transpose(-1, -2)
        dist = (diag.unsqueeze(-1) + diag.unsqueeze(-2) - 2.0 * cross).clamp_min(0.0)
        return torch.exp(-dist)
    return torch.exp(-(choice @ w.unsqueeze(-1)).reshape(*ls.shape[:-1], n, n))


def _matern_grad(H: Tensor, s: Tensor, ls: Tensor) -> Tensor:
    """``dL/dl`` (``... x k x d``) of a Matern part from symmetric ``H = dL/d(r^2)``."""
    hs = H @ s
    t = (H.sum(-1).unsqueeze(-1) * s.square()).sum(-2) - (s * hs).sum(-2)
    return -4.0 * t / ls.pow(3)


def _exp_grad(P: Tensor, choice: Tensor, binary: bool, ls: Tensor) -> Tensor:
    """``dL/dl`` (``... x k x d``) of an exp part from symmetric ``P = dL/dE * E``."""
    if binary:
        pc = P @ choice
        t = (P.sum(-1).unsqueeze(-1) * choice).sum(-2) - (choice * pc).sum(-2)
        return 2.0 * t / ls.square()
    return (P.reshape(*P.shape[:-2], 1, -1) @ choice).squeeze(-2) / ls.square()


class ScalarChoiceCovariance(torch.autograd.Function):
    """``k x n x n`` training covariances; see the module docstring.

    Arguments: ``s`` (``k x n x d_s`` centered scalar columns, or None), ``choice``
    and ``binary`` (from :func:`choice_operand`; None and False without choice
    columns), ``off_diagonal`` (``n x n``), then the ``k``-batched hyperparameters
    ``outputscale (k), fw (k), sw (k), l_fs (k x d_s), l_fc (k x d_c), l_js, l_jc``
    (weights and joint lengthscales are None unless both parts exist).
    """

    @staticmethod
    def forward(ctx, s, choice, binary, off_diagonal, outputscale, fw, sw, l_fs, l_fc, l_js, l_jc):
        has_s, has_c = s is not None, choice is not None
        n = off_diagonal.shape[-1]
        saved = {}
        if has_s and has_c:
            # both lengthscale sets of a part in one pass: a leading dimension of 2
            M, dM = _matern_parts(s, torch.stack([l_fs, l_js]), off_diagonal)
            E = _exp_part(choice, binary, torch.stack([l_fc, l_jc]), n)
            (M1, M2), (dM1, dM2), (E1, E2) = M, dM, E
            fw3, sw3 = fw.view(-1, 1, 1), sw.view(-1, 1, 1)
            F = sw3 * M1 + (1.0 - sw3) * E1
            J = M2 * E2
            corr = fw3 * F + (1.0 - fw3) * J
            saved = {"M1": M1, "dM1": dM1, "M2": M2, "dM2": dM2, "E1": E1, "E2": E2, "F": F, "J": J}
        elif has_s:
            corr, dM1 = _matern_parts(s, l_fs, off_diagonal)
            saved = {"dM1": dM1}
        else:
            corr = _exp_part(choice, binary, l_fc, n)
        ctx.parts = (has_s, has_c, binary)
        ctx.saved = saved
        ctx.save_for_backward(s, choice, outputscale, fw, sw, l_fs, l_fc, l_js, l_jc, corr)
        return outputscale.view(-1, 1, 1) * corr

    @staticmethod
    def backward(ctx, G):
        s, choice, outputscale, fw, sw, l_fs, l_fc, l_js, l_jc, corr = ctx.saved_tensors
        has_s, has_c, binary = ctx.parts
        sv = ctx.saved
        G = 0.5 * (G + G.transpose(-1, -2))  # K is symmetric: use the symmetric part
        d_os = (G * corr).sum((-2, -1))
        Gk = G * outputscale.view(-1, 1, 1)
        d_fw = d_sw = g_fs = g_fc = g_js = g_jc = None
        if has_s and has_c:
            fw3, sw3 = fw.view(-1, 1, 1), sw.view(-1, 1, 1)
            d_fw = (Gk * (sv["F"] - sv["J"])).sum((-2, -1))
            GF = Gk * fw3
            GJ = Gk * (1.0 - fw3)
            d_sw = (GF * (sv["M1"] - sv["E1"])).sum((-2, -1))
            H = torch.stack([GF * sw3 * sv["dM1"], GJ * sv["E2"] * sv["dM2"]])
            g_fs, g_js = _matern_grad(H, s, torch.stack([l_fs, l_js]))
            P = torch.stack([GF * (1.0 - sw3) * sv["E1"], GJ * sv["M2"] * sv["E2"]])
            g_fc, g_jc = _exp_grad(P, choice, binary, torch.stack([l_fc, l_jc]))
        elif has_s:
            g_fs = _matern_grad(Gk * sv["dM1"], s, l_fs)
        else:
            g_fc = _exp_grad(Gk * corr, choice, binary, l_fc)
        return None, None, None, None, d_os, d_fw, d_sw, g_fs, g_fc, g_js, g_jc


def scalar_choice_covariance(
    s: Tensor | None,
    choice: Tensor | None,
    binary: bool,
    off_diagonal: Tensor,
    outputscale: Tensor,
    fw: Tensor | None,
    sw: Tensor | None,
    l_fs: Tensor | None,
    l_fc: Tensor | None,
    l_js: Tensor | None,
    l_jc: Tensor | None,
) -> Tensor:
    """Functional entry point of :class:`ScalarChoiceCovariance`."""
    return ScalarChoiceCovariance.apply(
        s, choice, binary, off_diagonal, outputscale, fw, sw, l_fs, l_fc, l_js, l_jc
    )
