r"""L-BFGS-B for many independent problems at once, vectorized in torch.

A port of the algorithm of SciPy's ``L-BFGS-B`` (Byrd, Lu, Nocedal & Zhu 1995;
Morales & Nocedal 2011, version 3.0): the generalized Cauchy point on the
projected-gradient path, subspace minimization over the free variables with the
compact limited-memory representation, the projected subspace step, and the
Moré–Thuente line search with L-BFGS-B's constants. Every member (row of ``x``)
has its own history, line search, convergence tests and budget, and follows the
trajectory SciPy would give it on its own. Only the members still running are
evaluated: the objective is called with the rows to evaluate and their member
indices, so converged members cost nothing. Accepted steps satisfy sufficient
decrease, so a member's loss never increases.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor

from ax_ext.fit._lbfgs_types import (
    ABNORMAL,
    CONVERGED_F,
    CONVERGED_G,
    FAILED,
    MAXFUN,
    MAXITER,
    RUNNING,
    TIMEOUT,
    LbfgsOptions,
    LbfgsResult,
    MemberObjective,
)
from ax_ext.fit._linesearch import MoreThuente


def _bmv(M: Tensor, v: Tensor) -> Tensor:
    """Batched matrix-vector product ``k x a x b`` @ ``k x b``."""
    return (M @ v.unsqueeze(-1)).squeeze(-1)


def _compact(S: Tensor, Y: Tensor, valid: Tensor, theta: Tensor) -> tuple[Tensor, Tensor]:
    """``W`` (``k x P x 2m``) and ``M`` (``k x 2m x 2m``) with ``B = theta I - W M W^T``.

    ``S, Y`` are ``k x m x P`` (oldest first); unused slots get zero columns in
    ``W`` and identity rows in ``M``'s inverse, so they contribute nothing.
    """
    k, m, _ = S.shape
    vf = valid.to(S.dtype)
    W = torch.cat([Y.transpose(1, 2), theta.view(k, 1, 1) * S.transpose(1, 2)], -1)
    W = W * torch.cat([vf, vf], -1).unsqueeze(1)
    SY = S @ Y.transpose(1, 2)  # SY[i, j] = s_i . y_j
    SS = S @ S.transpose(1, 2)
    pair = vf.unsqueeze(-1) * vf.unsqueeze(-2)
    D = torch.diag_embed(SY.diagonal(dim1=-2, dim2=-1) * vf)
    L = torch.tril(SY, diagonal=-1) * pair
    K = torch.cat(
        [
            torch.cat([-D, L.transpose(1, 2)], -1),
            torch.cat([L, theta.view(k, 1, 1) * SS * pair], -1),
        ],
        -2,
    )
    unused = torch.cat([1.0 - vf, 1.0 - vf], -1)
    K = K + torch.diag_embed(unused)
    return W, torch.linalg.inv(K)


def _cauchy(x, g, lower, upper, theta, W, M):
    """The generalized Cauchy point (Byrd et al. 1995, Algorithm CP), per member.

    Returns ``x_cp``, ``c = W^T (x_cp - x)`` and the mask of variables at a bound
    at ``x_cp``.
    """
    k, P = x.shape
    inf = torch.full_like(x, float("inf"))
    tb = torch.where(g < 0, (x - upper) / g, torch.where(g > 0, (x - lower) / g, inf))
    fixed = tb <= 0  # at a bound with an outward gradient
    d = torch.where(fixed, torch.zeros_like(g), -g)
    p = torch.einsum("kpm,kp->km", W, d)
    c = torch.zeros_like(p)
    fp = -(d * d).sum(-1)
    fpp = -theta * fp - torch.einsum("km,kmn,kn->k", p, M, p)
    fpp0 = fpp.clone()
    eps = torch.finfo(x.dtype).eps
    dtm = -fp / fpp
    t_old = torch.zeros_like(fp)
    order = torch.argsort(torch.where(fixed, inf, tb), dim=-1)
    t_sorted = torch.gather(torch.where(fixed, inf, tb), -1, order)
    done = ~(fp < 0)
    rows = torch.arange(k, device=x.device)
    for j in range(P):
        tj = t_sorted[:, j]
        go = ~done & torch.isfinite(tj) & (dtm >= tj - t_old)
        done = done | ~go
        if not bool(go.any()):
            break
        r, b = rows[go], order[go, j]
        dt = (tj - t_old)[go]
        gb = g[r, b]
        zb = torch.where(d[r, b] > 0, upper[r, b], lower[r, b]) - x[r, b]
        wb = W[r, b]
        Mr = M[r]
        c[r] = c[r] + dt.unsqueeze(-1) * p[r]
        fp_r = (
            fp[r] + dt * fpp[r] + gb * gb + theta[r] * gb * zb - gb * (wb * _bmv(Mr, c[r])).sum(-1)
        )
        fpp_r = (
            fpp[r]
            - theta[r] * gb * gb
            - 2.0 * gb * (wb * _bmv(Mr, p[r])).sum(-1)
            - gb * gb * (wb * _bmv(Mr, wb)).sum(-1)
        )
        fpp_r = torch.maximum(fpp_r, eps * fpp0[r])
        p[r] = p[r] + gb.unsqueeze(-1) * wb
        d[r, b] = 0.0
        fixed[r, b] = True
        fp[r], fpp[r] = fp_r, fpp_r
        dtm[r] = -fp_r / fpp_r
        t_old[r] = tj[go]
    dtm = torch.where(fp < 0, dtm.clamp_min(0.0), torch.zeros_like(dtm))
    t_cp = t_old + dtm
    at_bound = torch.where(g > 0, lower, upper)
    x_cp = torch.where(fixed & (tb > 0), at_bound, x + t_cp.unsqueeze(-1) * d)
    c = c + dtm.unsqueeze(-1) * p
    return x_cp, c, fixed


def _subspace_step(x, g, lower, upper, x_cp, c, theta, W, M, fixed):
    """L-BFGS-B 3.0's subspace minimization from the Cauchy point, projected."""
    k, P = x.shape
    free = (~fixed).to(x.dtype)
    th = theta.unsqueeze(-1)
    r = (-th * (x_cp - x) - g + torch.einsum("kpm,km->kp", W, _bmv(M, c))) * free
    Wz = W * free.unsqueeze(-1)
    v = _bmv(M, torch.einsum("kpm,kp->km", Wz, r))
    eye = torch.eye(M.shape[-1], dtype=x.dtype, device=x.device)
    N = eye - (M @ (Wz.transpose(1, 2) @ Wz)) / theta.view(k, 1, 1)
    v = torch.linalg.solve(N, v.unsqueeze(-1)).squeeze(-1)
    du = (r / th + torch.einsum("kpm,km->kp", Wz, v) / (th * th)) * free
    projected = torch.minimum(torch.maximum(x_cp + du, lower), upper)
    descent = ((projected - x) * g).sum(-1) <= 0
    alpha = _max_step(x_cp, du, lower, upper).clamp(max=1.0)
    backtracked = x_cp + alpha.unsqueeze(-1) * du
    return torch.where(descent.unsqueeze(-1), projected, backtracked)


def _max_step(x: Tensor, d: Tensor, lower: Tensor, upper: Tensor) -> Tensor:
    """Largest ``t >= 0`` with ``lower <= x + t d <= upper``, per row (inf if none)."""
    inf = torch.full_like(x, float("inf"))
    to_lower = torch.where(d < 0, (lower - x) / d, inf)
    to_upper = torch.where(d > 0, (upper - x) / d, inf)
    return torch.minimum(to_lower, to_upper).amin(-1).clamp_min(0.0)


def _projected_gradient_norm(x: Tensor, g: Tensor, lower: Tensor, upper: Tensor) -> Tensor:
    """``max |P(x - g) - x|``, L-BFGS-B's first-order optimality measure."""
    return (torch.minimum(torch.maximum(x - g, lower), upper) - x).abs().amax(-1)


def minimize_members(
    objective: MemberObjective,
    x0: Tensor,
    lower: Tensor,
    upper: Tensor,
    options: LbfgsOptions,
    callback: Callable[[Tensor, Tensor, Tensor], None] | None = None,
    spent: int = 0,
) -> LbfgsResult:
    r"""Minimize ``B`` independent bound-constrained problems with L-BFGS-B.

    Args:
        objective: Evaluates rows ``x`` (``k x P``) of members ``idx`` (``k``),
            returning losses ``k`` and gradients ``k x P``.
        x0: ``B x P`` starting points (projected into the bounds).
        lower: ``B x P`` (or broadcastable) lower bounds; ``-inf`` for none.
        upper: ``B x P`` (or broadcastable) upper bounds; ``inf`` for none.
        options: Tolerances, budgets and timeout (SciPy's names and defaults).
        callback: Called after every iteration with ``(x, f, running)``.
        spent: Evaluations already spent on these members (e.g. by a SciPy run
            that was abandoned), counted in ``num_evaluations``.

    Returns:
        An :class:`LbfgsResult`. Members whose starting point has a non-finite loss
        or gradient get status ``FAILED`` and are not optimized.
    """
    start = time.monotonic()
    B, P = x0.shape
    dev, dt = x0.device, x0.dtype
    lower = lower.expand(B, P).to(x0)
    upper = upper.expand(B, P).to(x0)
    x = torch.minimum(torch.maximum(x0.detach().clone(), lower), upper)
    f, g = objective(x, torch.arange(B, device=dev))
    f, g = f.detach().clone(), g.detach().clone()
    n_eval = torch.full((B,), 1 + spent, dtype=torch.long, device=dev)
    n_iter = torch.zeros(B, dtype=torch.long, device=dev)
    status = torch.full((B,), RUNNING, dtype=torch.long, device=dev)
    finite = torch.isfinite(f) & torch.isfinite(g).all(-1)
    status[~finite] = FAILED
    status[finite & (_projected_gradient_norm(x, g, lower, upper) <= options.gtol)] = CONVERGED_G
    m = max(1, options.maxcor)
    S = torch.zeros(B, m, P, dtype=dt, device=dev)
    Yh = torch.zeros(B, m, P, dtype=dt, device=dev)
    valid = torch.zeros(B, m, dtype=torch.bool, device=dev)
    theta = torch.ones(B, dtype=dt, device=dev)
    constrained = (torch.isfinite(lower) | torch.isfinite(upper)).any(-1)
    boxed = (torch.isfinite(lower) & torch.isfinite(upper)).all(-1)
    eps = torch.finfo(dt).eps
    trace = [torch.where(finite, f, torch.full_like(f, float("nan")))]
    timed_out = False

    while True:
        active = (status == RUNNING).nonzero().flatten()
        if active.numel() == 0:
            break
        if options.timeout_sec is not None and time.monotonic() - start > options.timeout_sec:
            status[active] = TIMEOUT
            timed_out = True
            break
        xa, fa, ga = x[active], f[active], g[active]
        la, ua = lower[active], upper[active]
        W, M = _compact(S[active], Yh[active], valid[active], theta[active])
        x_cp, c, fixed = _cauchy(xa, ga, la, ua, theta[active], W, M)
        has_history = valid[active].any(-1)
        x_bar = _subspace_step(xa, ga, la, ua, x_cp, c, theta[active], W, M, fixed)
        x_bar = torch.where(has_history.unsqueeze(-1), x_bar, x_cp)
        d = x_bar - xa
        gd0 = (ga * d).sum(-1)
        # step limits and first trial step, as L-BFGS-B's lnsrlb
        first = n_iter[active] == 0
        big = torch.full_like(gd0, 1e10)
        stpmax = torch.where(
            constrained[active],
            torch.where(first, torch.ones_like(gd0), _max_step(xa, d, la, ua).minimum(big)),
            big,
        )
        dnorm = d.norm(dim=-1)
        stp0 = torch.where(
            first & ~boxed[active],
            torch.minimum(1.0 / dnorm.clamp_min(eps), stpmax),
            torch.ones_like(gd0),
        )
        ok, x_new, f_new, g_new, stp = _line_search(
            objective, active, xa, fa, ga, d, x_bar, gd0, stp0, stpmax, n_eval, options
        )
        # accepted steps: update iterate, memory and convergence state
        acc = ok.nonzero().flatten()
        if acc.numel():
            ids = active[acc]
            s_vec = x_new[acc] - xa[acc]
            y_vec = g_new[acc] - ga[acc]
            dr = (s_vec * y_vec).sum(-1)
            ddum = -gd0[acc] * stp[acc]
            keep = dr > eps * ddum
            if keep.any():
                kid = ids[keep]
                S[kid] = torch.cat([S[kid, 1:], s_vec[keep].unsqueeze(1)], 1)
                Yh[kid] = torch.cat([Yh[kid, 1:], y_vec[keep].unsqueeze(1)], 1)
                valid[kid] = torch.cat([valid[kid, 1:], valid.new_ones(kid.numel(), 1)], 1)
                theta[kid] = (y_vec[keep] * y_vec[keep]).sum(-1) / dr[keep]
            f_old = f[ids]
            x[ids], f[ids], g[ids] = x_new[acc], f_new[acc], g_new[acc]
            n_iter[ids] += 1
            rel = (f_old - f[ids]) / torch.maximum(
                torch.maximum(f_old.abs(), f[ids].abs()), torch.ones_like(f_old)
            )
            pg = _projected_gradient_norm(x[ids], g[ids], lower[ids], upper[ids])
            new_status = torch.full_like(ids, RUNNING)
            new_status[n_iter[ids] >= options.maxiter] = MAXITER
            new_status[n_eval[ids] > options.maxfun] = MAXFUN
            new_status[rel <= options.ftol] = CONVERGED_F
            new_status[pg <= options.gtol] = CONVERGED_G
            status[ids] = new_status
        # failed searches: refresh the memory and restart, or stop without history
        rej = active[~ok]
        if rej.numel():
            out_of_budget = n_eval[rej] > options.maxfun
            had_history = valid[rej].any(-1) & ~out_of_budget
            valid[rej[had_history]] = False
            theta[rej[had_history]] = 1.0
            status[rej] = torch.where(
                out_of_budget,
                torch.full_like(rej, MAXFUN),
                torch.where(
                    had_history, torch.full_like(rej, RUNNING), torch.full_like(rej, ABNORMAL)
                ),
            )
        row = torch.full_like(f, float("nan"))
        row[active[ok]] = f[active[ok]]
        trace.append(row)
        if callback is not None:
            callback(x, f, status == RUNNING)

    return LbfgsResult(
        x=x,
        f=f,
        status=status,
        num_iterations=n_iter,
        num_evaluations=n_eval,
        trace=trace,
        runtime=time.monotonic() - start,
        timed_out=timed_out,
    )


def _line_search(objective, ids, x, f, g, d, x_bar, gd0, stp0, stpmax, n_eval, options):
    """Moré–Thuente searches along ``x + stp d`` for the members ``ids``.

    Returns ``ok, x_new, f_new, g_new, stp``: ``ok`` marks members whose search
    ended (converged or stopped by a dcsrch warning) at a point with a lower loss.
    """
    k = ids.numel()
    descent = gd0 < 0
    ls = MoreThuente(f, gd0, stp0, stpmax)
    open_ = descent.clone()
    ok = torch.zeros(k, dtype=torch.bool, device=x.device)
    x_new, f_new, g_new = x.clone(), f.clone(), g.clone()
    for _ in range(options.maxls):
        pi = (open_ & (n_eval[ids] <= options.maxfun)).nonzero().flatten()
        open_ &= n_eval[ids] <= options.maxfun
        if pi.numel() == 0:
            break
        stp = ls.stp[pi]
        xt = torch.where((stp == 1).unsqueeze(-1), x_bar[pi], x[pi] + stp.unsqueeze(-1) * d[pi])
        ft, gt = objective(xt, ids[pi])
        ft, gt = ft.detach(), gt.detach()
        n_eval[ids[pi]] += 1
        good = torch.isfinite(ft) & torch.isfinite(gt).all(-1)
        x_new[pi], f_new[pi], g_new[pi] = xt, ft, gt
        if not bool(good.all()):
            # a non-finite value: treat it as too high and bisect toward the low end
            bad = pi[~good]
            ls.brackt[bad] = True
            ls.sty[bad], ls.fy[bad], ls.gy[bad] = ls.stp[bad], f[bad] + 1e30, 0.0
            ls.stmin[bad] = torch.minimum(ls.stx[bad], ls.sty[bad])
            ls.stmax[bad] = torch.maximum(ls.stx[bad], ls.sty[bad])
            ls.stp[bad] = ls.stx[bad] + 0.5 * (ls.stp[bad] - ls.stx[bad])
            pi = pi[good]
            ft, gt = ft[good], gt[good]
            if pi.numel() == 0:
                continue
        ls.update(pi, ft, (gt * d[pi]).sum(-1))
        finished = ls.converged[pi] | ls.warning[pi]
        done = pi[finished]
        # accept only real decrease (a dcsrch warning can end at a worse point)
        ok[done] = f_new[done] < f[done]
        open_[done] = False
    return ok, x_new, f_new, g_new, ls.stp
