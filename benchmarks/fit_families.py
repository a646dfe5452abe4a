"""Benchmark: ``fit_gpytorch_mll`` across BoTorch's model families, BoTorch vs ax_ext.

For each family (the ones ``tests/fit/test_contract.py`` checks), the same model
is fitted by ``botorch.fit.fit_gpytorch_mll`` and by ``ax_ext.fit.fit_gpytorch_mll``
from the same start. Prints, per family, the path ax_ext took, both wall times
(medians of ``--repeats`` interleaved runs), their ratio and the worst per-member
difference of the training MLL (ax_ext minus BoTorch; positive: ax_ext is higher).

Usage::

    python benchmarks/fit_families.py --out benchmarks/results/fit_families.json
    python benchmarks/fit_families.py --smoke --out /tmp/fit_families.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import botorch.fit
import torch
from _out import add_out_argument
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models import (
    ModelListGP,
    MultiTaskGP,
    SingleTaskGP,
    SingleTaskMultiFidelityGP,
    SingleTaskVariationalGP,
)
from botorch.models.contextual import LCEAGP
from botorch.models.gp_regression_mixed import MixedSingleTaskGP
from botorch.models.kernels.orthogonal_additive_kernel import OrthogonalAdditiveKernel
from botorch.models.map_saas import EnsembleMapSaasSingleTaskGP
from botorch.models.pairwise_gp import PairwiseGP, PairwiseLaplaceMarginalLogLikelihood
from botorch.models.transforms.input import Warp
from botorch.optim.closures import get_loss_closure
from gpytorch.kernels import RBFKernel
from gpytorch.mlls import ExactMarginalLogLikelihood, SumMarginalLogLikelihood, VariationalELBO

from ax_ext import ScalarChoiceGP
from ax_ext.fit import fit_gpytorch_mll, get_fit_result


def _data(n: int, d: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=gen, dtype=torch.double)
    Y = (X @ torch.linspace(1.0, 2.0, d, dtype=torch.double)).sin().unsqueeze(-1)
    return X, Y + 0.05 * torch.randn(n, 1, generator=gen, dtype=torch.double)


def _exact(model):
    return ExactMarginalLogLikelihood(model.likelihood, model)


def families(n: int) -> dict[str, Callable[[], object]]:
    """Name -> builder of a fresh MLL, ``n`` training points each."""
    X, Y = _data(n, 4)
    Xb = torch.stack([X.roll(i, 0) for i in range(8)])
    Yb = torch.stack([Y.roll(i, 0) for i in range(8)])
    task = (torch.arange(n) % 2).to(X).unsqueeze(-1)
    cat = (torch.arange(n) % 3).to(X).unsqueeze(-1)
    choice = torch.eye(2, dtype=X.dtype)[torch.arange(n) % 2]
    pairs = torch.combinations(torch.arange(min(n, 12)), 2)
    util = X[: min(n, 12)].sum(-1)
    comparisons = torch.where(
        (util[pairs[:, 0]] > util[pairs[:, 1]]).unsqueeze(-1), pairs, pairs.flip(-1)
    )
    return {
        "SingleTaskGP, 8 batched data sets": lambda: _exact(SingleTaskGP(Xb, Yb)),
        "ScalarChoiceGP": lambda: _exact(ScalarChoiceGP(torch.cat([X, choice], -1), Y)),
        "MultiTaskGP": lambda: _exact(
            MultiTaskGP(torch.cat([X, task], -1), Y + task, task_feature=-1)
        ),
        "SingleTaskMultiFidelityGP": lambda: _exact(
            SingleTaskMultiFidelityGP(X, Y, data_fidelities=[3])
        ),
        "PairwiseGP (Laplace)": lambda: (
            lambda m: PairwiseLaplaceMarginalLogLikelihood(m.likelihood, m)
        )(PairwiseGP(X[: min(n, 12)], comparisons)),
        "EnsembleMapSaasSingleTaskGP (4 taus)": lambda: _exact(
            EnsembleMapSaasSingleTaskGP(X, Y, num_taus=4)
        ),
        "LCEAGP (contextual)": lambda: _exact(
            LCEAGP(X, Y, None, decomposition={"a": [0, 1], "b": [2, 3]})
        ),
        "SingleTaskVariationalGP": lambda: (
            lambda m: VariationalELBO(m.likelihood, m.model, num_data=n)
        )(SingleTaskVariationalGP(X, Y, inducing_points=8)),
        "SingleTaskGP + OrthogonalAdditiveKernel": lambda: _exact(
            SingleTaskGP(
                X,
                Y,
                covar_module=OrthogonalAdditiveKernel(4, RBFKernel(), dtype=X.dtype),
                outcome_transform=None,
            )
        ),
        "SingleTaskGP + Warp, 8 batched": lambda: _exact(
            SingleTaskGP(
                Xb, Yb, input_transform=Warp(d=4, indices=[0, 1], batch_shape=torch.Size([8]))
            )
        ),
        "MixedSingleTaskGP": lambda: _exact(
            MixedSingleTaskGP(torch.cat([X, cat], -1), Y + cat, cat_dims=[4])
        ),
        "ModelListGP (SingleTaskGP, MultiFidelity, Mixed)": lambda: (
            lambda m: SumMarginalLogLikelihood(m.likelihood, m)
        )(
            ModelListGP(
                SingleTaskGP(X, Y),
                SingleTaskMultiFidelityGP(X, Y.cos(), data_fidelities=[3]),
                MixedSingleTaskGP(torch.cat([X, cat], -1), Y + cat, cat_dims=[4]),
            )
        ),
    }


def training_mll(mll) -> torch.Tensor:
    """Per-member training MLL after the fit (sub-models concatenated for a list)."""
    if isinstance(mll, SumMarginalLogLikelihood):
        return torch.cat([training_mll(sub) for sub in mll.mlls])
    mll.train()
    with torch.no_grad():
        if isinstance(mll, VariationalELBO):
            value = mll(mll.model(mll.model.train_inputs[0]), mll.model.train_targets)
        elif isinstance(mll, PairwiseLaplaceMarginalLogLikelihood):
            value = mll(mll.model(mll.model.datapoints), mll.model.comparisons)
        else:
            value = -get_loss_closure(mll)()
    mll.eval()
    return value.reshape(-1)


def _time(fit, mll) -> float:
    start = time.perf_counter()
    fit(mll)
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="training points per model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", nargs="*", help="substrings of the family names to run")
    add_out_argument(parser, "fit_families")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.repeats = 10, 1
    rows = []
    header = f"{'family':50s} {'path':11s} {'BoTorch [s]':>11s} {'ax_ext [s]':>10s} "
    print(header + f"{'ratio':>6s} {'worst dMLL':>11s}")
    for name, make in families(args.n).items():
        if args.only and not any(s in name for s in args.only):
            continue
        times = {"botorch": [], "ax_ext": []}
        for _ in range(args.repeats):
            torch.manual_seed(0)
            theirs = make()
            torch.manual_seed(0)
            ours = make()  # built alike (PairwiseGP does not survive deepcopy)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizationWarning)
                with torch.random.fork_rng():
                    times["botorch"].append(_time(botorch.fit.fit_gpytorch_mll, theirs))
                with torch.random.fork_rng():
                    times["ax_ext"].append(_time(fit_gpytorch_mll, ours))
        result = get_fit_result(ours)
        diff = training_mll(ours) - training_mll(theirs)
        row = {
            "family": name,
            "path": result.path,
            "parts": [p.path for p in result.parts if p is not None],
            "reason": result.reason,
            "botorch_s": statistics.median(times["botorch"]),
            "ax_ext_s": statistics.median(times["ax_ext"]),
            "times": times,
            "worst_dmll": float(diff.min()),
        }
        row["ratio_ax_ext_over_botorch"] = row["ax_ext_s"] / row["botorch_s"]
        rows.append(row)
        print(f"{name:50s} {row['path']:11s} {row['botorch_s']:11.3f} {row['ax_ext_s']:10.3f} "
              f"{row['ratio_ax_ext_over_botorch']:6.2f} {row['worst_dmll']:+11.2e}")  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"points": args.n, "repeats": args.repeats, "torch_threads": torch.get_num_threads()}
    out.write_text(json.dumps({**meta, "rows": rows}, indent=1))
    print(f"wrote {out}")
    return {"rows": rows}


if __name__ == "__main__":
    main()
