"""Benchmark: does the cheap choice of the lengthscale prior agree with refit leave-one-out?

``ScalarChoiceGP(..., scalar_lengthscale_prior="auto")`` scores each candidate
strength by refit 5-fold cross-validation (or, with ``prior_selection_folds=None``,
the closed-form leave-one-out mean log predictive density, MLPD, at its fitted
hyperparameters; :mod:`ax_ext.models.prior_selection`). The expensive
reference is *refit* leave-one-out (:func:`ax_ext.cross_validation.loo_cross_validation`:
every fold's hyperparameters refitted). For each data set and each fixed strength
this script computes both, plus the fitted MAP loss, and reports:

* which strength each criterion picks;
* the same for "auto" with ``prior_selection_folds=None`` (closed-form
  leave-one-out) and for the smallest fitted MAP loss;
* the regret of the cheap pick: refit-LOO MLPD of the best strength minus that of
  the strength "auto" picked (0 = same choice, or an equally good one);
* the same regret for always using "default".

Data sets (all offline, seconds each): the 24-parameter mixed objective of
``benchmarks/gen_bo.py`` at n = 20, 40, 60; :func:`ax_ext.synthetic.mixed_dataset`
(noisy) at n = 20, 40; a smooth function with long lengthscales and a GP draw at
the prior's mode with noise (n = 30 each).

Usage::

    python benchmarks/prior_selection.py          # writes benchmarks/results/prior_selection.json
    python benchmarks/prior_selection.py --smoke  # two small data sets
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import torch
from _out import add_out_argument, write_results
from gpytorch.mlls import ExactMarginalLogLikelihood

from ax_ext.cross_validation import loo_cross_validation
from ax_ext.fit import fit_gpytorch_mll, get_fit_result
from ax_ext.models import ScalarChoiceGP
from ax_ext.models.prior_selection import AUTO_CANDIDATES, loo_log_predictive_density
from ax_ext.synthetic import mixed_dataset

DTYPE = torch.double


def _one_hot(codes: list[int], n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    cols = [torch.eye(k, dtype=DTYPE)[torch.randint(0, k, (n,), generator=g)] for k in codes]
    return torch.cat(cols, -1)


def gen_bo_data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """The gen_bo objective's shape: 20 scalars in [0, 1], 4 one-hot choices."""
    X = torch.quasirandom.SobolEngine(20, scramble=True, seed=seed).draw(n).to(DTYPE)
    C = _one_hot([4, 3, 3, 3], n, seed)
    i = torch.arange(20, dtype=DTYPE)
    y = (torch.sin(3 * X + i) / (1 + i)).sum(-1)
    y = y + C[:, :4] @ torch.tensor([0.0, 0.5, 0.2, 0.4], dtype=DTYPE)
    y = y + C[:, 4:7] @ torch.tensor([0.0, -0.1, 0.3], dtype=DTYPE)
    return torch.cat([X, C], -1), y.unsqueeze(-1), list(range(20))


def synthetic_data(n: int, seed: int = 0):
    data = mixed_dataset(n=n, seed=seed)
    return data.X, data.Y, data.scalar_dims


def smooth_data(n: int, seed: int = 0):
    """Six scalars, a nearly linear function: long lengthscales fit it."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 6, generator=g, dtype=DTYPE)
    y = 0.3 * X.sum(-1) + 0.01 * torch.randn(n, generator=g, dtype=DTYPE)
    return X, y.unsqueeze(-1), list(range(6))


def mode_gp_data(n: int, seed: int = 0):
    """Six scalars, a GP draw with every lengthscale at the prior's mode, noisy."""
    from ax_ext.kernels.priors import default_lengthscale_mode

    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 6, generator=g, dtype=DTYPE)
    ls = default_lengthscale_mode(6)
    d2 = ((X.unsqueeze(-2) - X.unsqueeze(-3)) / ls).square().sum(-1)
    K = torch.exp(-0.5 * d2) + 1e-8 * torch.eye(n, dtype=DTYPE)
    f = torch.linalg.cholesky(K) @ torch.randn(n, generator=g, dtype=DTYPE)
    y = f + 0.3 * torch.randn(n, generator=g, dtype=DTYPE)
    return X, y.unsqueeze(-1), list(range(6))


def datasets(smoke: bool) -> list[tuple[str, tuple]]:
    if smoke:
        return [("smooth n=12", smooth_data(12)), ("mode-gp n=12", mode_gp_data(12))]
    return [
        ("gen_bo n=20", gen_bo_data(20)),
        ("gen_bo n=40", gen_bo_data(40)),
        ("gen_bo n=60", gen_bo_data(60)),
        ("synthetic n=20", synthetic_data(20)),
        ("synthetic n=40", synthetic_data(40)),
        ("smooth n=30", smooth_data(30)),
        ("mode-gp n=30", mode_gp_data(30)),
    ]


def evaluate(X, Y, scalar_dims, fit_kwargs: dict) -> dict:
    dims = {
        "scalar_dims": scalar_dims,
        "choice_dims": [i for i in range(X.shape[-1]) if i not in scalar_dims],
    }
    out = {"refit_loo_mlpd": {}, "closed_form_loo_mlpd": {}, "map_loss": {}, "refit_loo_s": {}}
    for s in AUTO_CANDIDATES:
        kwargs = {**dims, "scalar_lengthscale_prior": s, "choice_lengthscale_prior": s}
        start = time.perf_counter()
        cv = loo_cross_validation(ScalarChoiceGP, X, Y, model_kwargs=kwargs, fit_kwargs=fit_kwargs)
        out["refit_loo_s"][s] = time.perf_counter() - start
        # refit LOO on the original scale; shift to the standardized scale of the cheap one
        out["refit_loo_mlpd"][s] = cv.metrics["mean_log_predictive_density"] + float(Y.std().log())
        model = ScalarChoiceGP(X, Y, **kwargs)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), **fit_kwargs)
        out["closed_form_loo_mlpd"][s] = float(loo_log_predictive_density(model))
        out["map_loss"][s] = get_fit_result(model).members[0].loss
    for key, folds in (("auto", 5), ("closed_form", None)):
        auto = ScalarChoiceGP(
            X,
            Y,
            **dims,
            scalar_lengthscale_prior="auto",
            choice_lengthscale_prior="auto",
            prior_selection_folds=folds,
        )
        start = time.perf_counter()
        fit_gpytorch_mll(ExactMarginalLogLikelihood(auto.likelihood, auto), **fit_kwargs)
        out[f"{key}_fit_s"] = time.perf_counter() - start
        out[key] = auto.lengthscale_prior_selection.scalar
        out[f"{key}_scores"] = auto.lengthscale_prior_selection.to_dict()["scores"]
    refit = out["refit_loo_mlpd"]
    out["refit_best"] = max(refit, key=refit.get)
    out["map_best"] = min(out["map_loss"], key=out["map_loss"].get)
    out["regret_auto"] = refit[out["refit_best"]] - refit[out["auto"]]
    out["regret_closed_form"] = refit[out["refit_best"]] - refit[out["closed_form"]]
    out["regret_default"] = refit[out["refit_best"]] - refit["default"]
    out["regret_map"] = refit[out["refit_best"]] - refit[out["map_best"]]
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    add_out_argument(parser, "prior_selection")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    fit_kwargs = {"optimizer_kwargs": {"options": {"maxiter": 30}}} if args.smoke else {}
    rows = []
    header = f"{'data set':16s} {'refit-LOO MLPD per strength (tight/default/loose/looser)':58s} "
    print(
        header + f"{'refit':>7s} {'auto':>7s} {'closed':>7s} {'MAP':>7s} "
        f"{'regret auto':>11s} {'closed':>7s} {'MAP':>7s} {'default':>8s}"
    )
    for name, (X, Y, scalar_dims) in datasets(args.smoke):
        row = {
            "data_set": name,
            "n": X.shape[0],
            "d": X.shape[1],
            **evaluate(X, Y, scalar_dims, fit_kwargs),
        }
        rows.append(row)
        per = " ".join(f"{row['refit_loo_mlpd'][s]:7.3f}" for s in AUTO_CANDIDATES)
        print(
            f"{name:16s} {per:58s} {row['refit_best']:>7s} {row['auto']:>7s} "
            f"{row['closed_form']:>7s} {row['map_best']:>7s} {row['regret_auto']:11.3f} "
            f"{row['regret_closed_form']:7.3f} {row['regret_map']:7.3f} "
            f"{row['regret_default']:8.3f}"
        )
    agree = sum(r["auto"] == r["refit_best"] for r in rows)
    closed = sum(r["closed_form"] == r["refit_best"] for r in rows)
    print(
        f"refit-LOO's best strength picked on {agree} of {len(rows)} data sets by auto "
        f"(5-fold), {closed} by closed-form LOO"
    )
    results = {
        "machine": {"platform": platform.platform(), "cpu_threads": torch.get_num_threads()},
        "rows": rows,
        "agreement": agree,
        "agreement_closed_form": closed,
    }
    write_results(results, args.out)
    return results


if __name__ == "__main__":
    main()
