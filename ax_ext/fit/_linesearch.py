"""Moré–Thuente line search (MINPACK-2 ``dcsrch``/``dcstep``), vectorized over members.

A faithful port of the search L-BFGS-B uses, so that a member's trajectory is the
one SciPy would take, with every member's search state held in tensors and only
members whose search is still open evaluated.
"""

from __future__ import annotations

import torch
from torch import Tensor

XTRAPL, XTRAPU = 1.1, 4.0


def _where(mask: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return torch.where(mask, a, b)


def dcstep(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):
    """One safeguarded step of the Moré–Thuente search; all arguments are ``k`` tensors.

    Returns the updated ``stx, fx, dx, sty, fy, dy, stp, brackt``.
    """
    sgnd = dp * torch.sign(dx)
    diff = stp - stx

    def cubic_gamma(theta, a, b, flip, clamp=False):
        s = torch.maximum(torch.maximum(theta.abs(), a.abs()), b.abs())
        inner = (theta / s) ** 2 - (a / s) * (b / s)
        if clamp:
            inner = inner.clamp_min(0.0)
        gamma = s * inner.sqrt()
        return _where(flip, -gamma, gamma)

    theta_x = 3.0 * (fx - fp) / diff + dx + dp
    # case 1: higher function value, the minimum is bracketed
    g1 = cubic_gamma(theta_x, dx, dp, stp < stx)
    r1 = ((g1 - dx) + theta_x) / (((g1 - dx) + g1) + dp)
    stpc1 = stx + r1 * diff
    stpq1 = stx + ((dx / ((fx - fp) / diff + dx)) / 2.0) * diff
    stpf1 = _where((stpc1 - stx).abs() < (stpq1 - stx).abs(), stpc1, stpc1 + (stpq1 - stpc1) / 2.0)
    # case 2: lower value, derivatives of opposite sign: bracketed
    g2 = cubic_gamma(theta_x, dx, dp, stp > stx)
    r2 = ((g2 - dp) + theta_x) / (((g2 - dp) + g2) + dx)
    stpc2 = stp + r2 * (stx - stp)
    stpq2 = stp + (dp / (dp - dx)) * (stx - stp)
    stpf2 = _where((stpc2 - stp).abs() > (stpq2 - stp).abs(), stpc2, stpq2)
    # case 3: lower value, same sign, derivative magnitude decreases
    g3 = cubic_gamma(theta_x, dx, dp, stp > stx, clamp=True)
    r3 = ((g3 - dp) + theta_x) / ((g3 + (dx - dp)) + g3)
    stpc3 = _where((r3 < 0) & (g3 != 0), stp + r3 * (stx - stp), _where(stp > stx, stpmax, stpmin))
    stpq3 = stp + (dp / (dp - dx)) * (stx - stp)
    near = _where((stpc3 - stp).abs() < (stpq3 - stp).abs(), stpc3, stpq3)
    near = _where(
        stp > stx,
        torch.minimum(stp + 0.66 * (sty - stp), near),
        torch.maximum(stp + 0.66 * (sty - stp), near),
    )
    far = _where((stpc3 - stp).abs() > (stpq3 - stp).abs(), stpc3, stpq3)
    far = torch.minimum(stpmax, torch.maximum(stpmin, far))
    stpf3 = _where(brackt, near, far)
    # case 4: lower value, same sign, derivative does not decrease
    theta_y = 3.0 * (fp - fy) / (sty - stp) + dy + dp
    g4 = cubic_gamma(theta_y, dy, dp, stp > sty)
    r4 = ((g4 - dp) + theta_y) / (((g4 - dp) + g4) + dy)
    stpc4 = stp + r4 * (sty - stp)
    stpf4 = _where(brackt, stpc4, _where(stp > stx, stpmax, stpmin))

    case1 = fp > fx
    case2 = ~case1 & (sgnd < 0)
    case3 = ~case1 & ~case2 & (dp.abs() < dx.abs())
    stpf = _where(case1, stpf1, _where(case2, stpf2, _where(case3, stpf3, stpf4)))
    brackt = brackt | case1 | case2
    # update the interval of uncertainty
    move_y = case1 | (~case1 & (sgnd < 0))
    new_sty = _where(case1, stp, _where(move_y, stx, sty))
    new_fy = _where(case1, fp, _where(move_y, fx, fy))
    new_dy = _where(case1, dp, _where(move_y, dx, dy))
    new_stx = _where(case1, stx, stp)
    new_fx = _where(case1, fx, fp)
    new_dx = _where(case1, dx, dp)
    return new_stx, new_fx, new_dx, new_sty, new_fy, new_dy, stpf, brackt


class MoreThuente:
    """The state of ``k`` concurrent ``dcsrch`` searches (ftol, gtol, xtol as L-BFGS-B).

    Call :meth:`update` with the function value and directional derivative at the
    current ``stp``; it sets ``converged`` / ``warning`` for finished searches and
    the next ``stp`` for the others.
    """

    def __init__(self, f0, g0, stp, stpmax, ftol=1e-3, gtol=0.9, xtol=0.1):
        self.ftol, self.gtol, self.xtol = ftol, gtol, xtol
        zero = torch.zeros_like(f0)
        self.stp = stp.clone()
        self.stpmin, self.stpmax = zero, stpmax
        self.brackt = torch.zeros_like(f0, dtype=torch.bool)
        self.stage1 = torch.ones_like(self.brackt)
        self.finit, self.ginit = f0.clone(), g0.clone()
        self.gtest = ftol * g0
        self.width = stpmax - zero
        self.width1 = self.width / 0.5
        self.stx, self.fx, self.gx = zero.clone(), f0.clone(), g0.clone()
        self.sty, self.fy, self.gy = zero.clone(), f0.clone(), g0.clone()
        self.stmin = zero.clone()
        self.stmax = stp + XTRAPU * stp
        self.converged = torch.zeros_like(self.brackt)
        self.warning = torch.zeros_like(self.brackt)

    def update(self, idx: Tensor, f: Tensor, g: Tensor) -> None:
        """Feed ``f`` and ``g`` (values at ``stp[idx]``) for the searches ``idx``."""
        stp = self.stp[idx]
        gtest = self.gtest[idx]
        ftest = self.finit[idx] + stp * gtest
        stage1 = self.stage1[idx] & ~((f <= ftest) & (g >= 0))
        self.stage1[idx] = stage1
        brackt, stmin, stmax = self.brackt[idx], self.stmin[idx], self.stmax[idx]
        warn = brackt & ((stp <= stmin) | (stp >= stmax))
        warn |= brackt & (stmax - stmin <= self.xtol * stmax)
        warn |= (stp == self.stpmax[idx]) & (f <= ftest) & (g <= gtest)
        warn |= (stp == 0) & ((f > ftest) | (g >= gtest))
        conv = (f <= ftest) & (g.abs() <= self.gtol * (-self.ginit[idx]))
        self.converged[idx] = conv
        self.warning[idx] = warn & ~conv
        rest = ~(conv | warn)
        if not bool(rest.any()):  # the common case: the first trial step is accepted
            return
        idx, f, g, stp, ftest = idx[rest], f[rest], g[rest], stp[rest], ftest[rest]
        s = {name: getattr(self, name)[idx] for name in _STATE}
        # in the first stage, while the value went up but not enough, dcstep works on
        # the modified function f(stp) - stp * gtest (a shift of values and slopes)
        modified = s["stage1"] & (f <= s["fx"]) & (f > ftest)
        off = torch.where(modified, s["gtest"], torch.zeros_like(f))
        stx, fx, gx, sty, fy, gy, new_stp, brackt = dcstep(
            s["stx"],
            s["fx"] - s["stx"] * off,
            s["gx"] - off,
            s["sty"],
            s["fy"] - s["sty"] * off,
            s["gy"] - off,
            stp,
            f - stp * off,
            g - off,
            s["brackt"],
            s["stmin"],
            s["stmax"],
        )
        fx, fy, gx, gy = fx + stx * off, fy + sty * off, gx + off, gy + off
        # force sufficient decrease of the interval
        width, width1 = s["width"], s["width1"]
        shrink = brackt & ((sty - stx).abs() >= 0.66 * width1)
        new_stp = _where(shrink, stx + 0.5 * (sty - stx), new_stp)
        width1 = _where(brackt, width, width1)
        width = _where(brackt, (sty - stx).abs(), width)
        stmin = _where(brackt, torch.minimum(stx, sty), new_stp + XTRAPL * (new_stp - stx))
        stmax = _where(brackt, torch.maximum(stx, sty), new_stp + XTRAPU * (new_stp - stx))
        new_stp = torch.minimum(torch.maximum(new_stp, torch.zeros_like(new_stp)), self.stpmax[idx])
        give_up = brackt & ((new_stp <= stmin) | (new_stp >= stmax))
        give_up |= brackt & (stmax - stmin <= self.xtol * stmax)
        for name, value in (
            ("stx", stx), ("fx", fx), ("gx", gx), ("sty", sty), ("fy", fy), ("gy", gy),
            ("brackt", brackt), ("width", width), ("width1", width1), ("stmin", stmin),
            ("stmax", stmax), ("stp", _where(give_up, stx, new_stp)),
        ):  # fmt: skip
            getattr(self, name)[idx] = value


_STATE = (
    "stx", "fx", "gx", "sty", "fy", "gy", "brackt", "stage1", "finit", "ginit", "gtest",
    "width", "width1", "stmin", "stmax",
)  # fmt: skip
