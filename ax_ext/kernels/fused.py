r"""The ScalarChoiceKernel training covariance as one autograd Function.

For a fit, the kernel is evaluated on the training inputs against themselves,
many times, with new hyperparameters. This Function computes
``K = outputscale * [fw (sw M(s; l_fs) + (1 - sw) E(c; l_fc)) + (1 - fw) M(s; l_js) E(c; l_jc)]``
and its gradient with respect to the hyperparameters by hand. For batched fits
(e.g. 60 leave-one-out folds) the cost is memory passes over ``k x n x n``
tensors, so the code keeps them few: squared distances come out of one
batched matrix product per part (both lengthscale sets of a part stacked), mixtures are
``lerp``s, per-member scalars are folded into the small gradient vectors, and
scalar gradients are batched dot products:

* ``M(s; l) = matern52(r) = (1 + u + u^2 / 3) exp(-u)`` with
  ``r^2 = |(s_i - s_j) / l|^2`` and ``u = sqrt(5) r``;
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
gradient with ``torch.autograd.gradcheck``. The hand-written backward is kept
because it is measured to pay: ``benchmarks/fused_backward.py`` times it against
the kernel module's forward with autograd (docs/fitting.md has the table).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ax_ext.kernels.hyperparameters import ScalarChoiceHyperparameters

__all__ = ["ScalarChoiceCovariance", "choice_operand", "scalar_choice_covariance"]

_SQRT5 = math.sqrt(5.0)


def choice_operand(c: Tensor) -> tuple[Tensor, bool]:
    """What the Function needs of choice columns ``c`` (``k x n x d_c``).

    Returns ``(c, True)`` when every entry is 0 or 1 (one-hot columns), else the
    ``k x n^2 x d_c`` absolute differences and ``False``.
    """
    if bool(((c == 0) | (c == 1)).all()):
        return c, True
    k, n = c.shape[0], c.shape[-2]
    return (c.unsqueeze(-2) - c.unsqueeze(-3)).abs().reshape(k, n * n, -1), False


def _flat(x: Tensor, lead: torch.Size) -> Tensor:
    """``x`` (``k x n x d``) broadcast to ``lead x n x d`` as a 3-D tensor."""
    return x.expand(*lead, *x.shape[-2:]).reshape(-1, *x.shape[-2:])


def _pairwise(x: Tensor, y: Tensor, x_rows: Tensor, y_rows: Tensor) -> Tensor:
    """``x_rows_i + y_rows_j + x_i . y_j`` (``K x n x n``) as one batched product of
    augmented vectors ``[x, x_rows, 1] . [y, 1, y_rows]``, with no further pass."""
    ones = torch.ones_like(x_rows).unsqueeze(-1)
    left = torch.cat([x, x_rows.unsqueeze(-1), ones], -1)
    right = torch.cat([y, ones, y_rows.unsqueeze(-1)], -1)
    return left @ right.transpose(-1, -2)


def _matern_parts(s: Tensor, ls: Tensor) -> tuple[Tensor, Tensor]:
    """``M`` and ``(1 + u) exp(-u) = -(6/5) dM/d(r^2)`` (both ``... x k x n x n``) for
    centered inputs ``s`` (``k x n x d``) and lengthscales ``ls`` (``... x k x d``)."""
    lead, n = ls.shape[:-1], s.shape[-2]
    a = _flat(s, lead) * (_SQRT5 / ls).reshape(-1, 1, ls.shape[-1])
    sq = a.square().sum(-1)
    u = _pairwise(a, -2.0 * a, sq, sq).clamp_min_(0.0).sqrt_()  # u^2 = 5 r^2
    u.diagonal(dim1=-2, dim2=-1).zero_()  # exactly 0, as rounding may leave ~1e-8
    e = u.neg().exp_()
    one_plus_u = u + 1.0
    M = torch.addcmul(one_plus_u, u, u, value=1.0 / 3.0).mul_(e)
    return M.view(*lead, n, n), one_plus_u.mul_(e).view(*lead, n, n)


def _exp_part(choice: Tensor, binary: bool, ls: Tensor, n: int) -> Tensor:
    """``E`` (``... x k x n x n``) for ``... x k x d`` lengthscales, from 0/1 columns
    (``k x n x d``) or absolute differences (``k x n^2 x d``)."""
    lead, w = ls.shape[:-1], ls.reciprocal()
    if binary:
        c = _flat(choice, lead)
        cw = c * w.reshape(-1, 1, ls.shape[-1])
        # -|c_i - c_j|_w = -(c_i w c_i) - (c_j w c_j) + 2 (c_i w c_j) for 0/1 columns
        diag = cw.sum(-1).neg_()
        neg_dist = _pairwise(cw, 2.0 * c, diag, diag)
        return neg_dist.clamp_max_(0.0).exp_().view(*lead, n, n)
    return torch.exp(-(choice @ w.unsqueeze(-1)).reshape(*lead, n, n))


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


def _dot(A: Tensor, B: Tensor) -> Tensor:
    """``sum_ij A_ij B_ij`` per matrix of ``k x n x n`` tensors, as a batched product."""
    k = A.shape[0]
    return (A.reshape(k, 1, -1) @ B.reshape(k, -1, 1)).reshape(k)


class ScalarChoiceCovariance(torch.autograd.Function):
    """``k x n x n`` training covariances; see the module docstring.

    Arguments: ``s`` (``k x n x d_s`` centered scalar columns, or None), ``choice``
    and ``binary`` (from :func:`choice_operand`; None and False without choice
    columns), then the ``k``-batched hyperparameters
    ``outputscale (k), fw (k), sw (k), l_fs (k x d_s), l_fc (k x d_c), l_js, l_jc``
    (weights and joint lengthscales are None unless both parts exist), and
    ``noise`` (``k x n`` added to the diagonal, or None).
    """

    @staticmethod
    def forward(ctx, s, choice, binary, outputscale, fw, sw, l_fs, l_fc, l_js, l_jc, noise):
        has_s, has_c = s is not None, choice is not None
        if has_s or binary:
            n = (s if has_s else choice).shape[-2]
        else:  # absolute differences, k x n^2 x d_c
            n = math.isqrt(choice.shape[-2])
        saved = {}
        if has_s and has_c:
            # both lengthscale sets of a part in one pass: a leading dimension of 2
            M, dM = _matern_parts(s, torch.stack([l_fs, l_js]))
            E = _exp_part(choice, binary, torch.stack([l_fc, l_jc]), n)
            (M1, M2), (dM1, dM2), (E1, E2) = M, dM, E
            F = torch.lerp(E1, M1, sw.view(-1, 1, 1))  # sw M1 + (1 - sw) E1
            J = M2 * E2
            corr = torch.lerp(J, F, fw.view(-1, 1, 1))  # fw F + (1 - fw) J
            saved = {"M1": M1, "dM1": dM1, "dM2": dM2, "E1": E1, "E2": E2, "F": F, "J": J}
        elif has_s:
            corr, dM1 = _matern_parts(s, l_fs)
            saved = {"dM1": dM1}
        else:
            corr = _exp_part(choice, binary, l_fc, n)
        ctx.parts = (has_s, has_c, binary)
        # intermediates through save_for_backward too (torch checks they were not
        # modified in place before backward); their names say which is which
        ctx.saved_names = tuple(saved)
        ctx.save_for_backward(
            s, choice, outputscale, fw, sw, l_fs, l_fc, l_js, l_jc, corr, *saved.values()
        )
        K = outputscale.view(-1, 1, 1) * corr
        if noise is not None:
            K.diagonal(dim1=-2, dim2=-1).add_(noise)
        return K

    @staticmethod
    def backward(ctx, G):
        s, choice, outputscale, fw, sw, l_fs, l_fc, l_js, l_jc, corr, *rest = ctx.saved_tensors
        has_s, has_c, binary = ctx.parts
        sv = dict(zip(ctx.saved_names, rest, strict=True))
        # K is symmetric: only the symmetric part of G counts. Gs = 2 sym(G); the
        # factor 1/2 goes into the per-member scalars below.
        Gs = G + G.transpose(-1, -2)
        half_os = 0.5 * outputscale
        d_os = 0.5 * _dot(Gs, corr)
        d_fw = d_sw = g_fs = g_fc = g_js = g_jc = None
        if has_s and has_c:
            d_fw = half_os * (_dot(Gs, sv["F"]) - _dot(Gs, sv["J"]))
            d_sw = half_os * fw * (_dot(Gs, sv["M1"]) - _dot(Gs, sv["E1"]))
            k, n = Gs.shape[0], Gs.shape[-1]
            H = Gs.new_empty(2, k, n, n)  # dL/d(r^2) of both Matern parts, up to scalars
            torch.mul(Gs, sv["dM1"], out=H[0])
            torch.mul(Gs, sv["E2"], out=H[1]).mul_(sv["dM2"])
            P = Gs.new_empty(2, k, n, n)  # dL/dE * E of both exp parts, up to scalars
            torch.mul(Gs, sv["E1"], out=P[0])
            torch.mul(Gs, sv["J"], out=P[1])
            h = torch.stack([fw * sw, 1.0 - fw]) * half_os  # dL/dM = h * Gs (times E2)
            c = torch.stack([fw * (1.0 - sw), 1.0 - fw]) * half_os
            g_fs, g_js = _matern_grad(H, s, torch.stack([l_fs, l_js])) * (-5.0 / 6.0 * h).unsqueeze(
                -1
            )
            g_fc, g_jc = _exp_grad(P, choice, binary, torch.stack([l_fc, l_jc])) * c.unsqueeze(-1)
        elif has_s:
            H = Gs * sv["dM1"]
            g_fs = _matern_grad(H, s, l_fs) * (-5.0 / 6.0 * half_os).unsqueeze(-1)
        else:
            g_fc = _exp_grad(Gs * corr, choice, binary, l_fc) * half_os.unsqueeze(-1)
        d_noise = G.diagonal(dim1=-2, dim2=-1) if ctx.needs_input_grad[-1] else None
        return None, None, None, d_os, d_fw, d_sw, g_fs, g_fc, g_js, g_jc, d_noise


def scalar_choice_covariance(
    s: Tensor | None,
    choice: Tensor | None,
    binary: bool,
    hp: ScalarChoiceHyperparameters,
    noise: Tensor | None = None,
) -> Tensor:
    """The ``k x n x n`` training covariances of :class:`ScalarChoiceCovariance`.

    Args:
        s: ``k x n x d_s`` centered scalar columns, or None.
        choice: From :func:`choice_operand`, or None.
        binary: From :func:`choice_operand` (False without choice columns).
        hp: The ``k`` members' hyperparameters, flattened: scalars ``k``,
            lengthscales ``k x d``.
        noise: ``k x n`` added to the diagonal, or None.
    """
    return ScalarChoiceCovariance.apply(
        s,
        choice,
        binary,
        hp.outputscale,
        hp.factorized_weight,
        hp.scalar_weight,
        hp.factorized_scalar_lengthscale,
        hp.factorized_choice_lengthscale,
        hp.joint_scalar_lengthscale,
        hp.joint_choice_lengthscale,
        noise,
    )
