"""The ``ax-ext`` command line (also ``python -m ax_ext``)."""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    import torch
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from ax_ext.expressions import model_expression
    from ax_ext.models import ScalarChoiceGP
    from ax_ext.synthetic import mixed_dataset

    data = mixed_dataset(n=args.n + args.n_test, seed=args.seed)
    X, Y = data.X[: args.n], data.Y[: args.n]
    X_test, Y_test = data.X[args.n :], data.Y[args.n :]
    model = ScalarChoiceGP(
        X,
        Y,
        scalar_dims=data.scalar_dims,
        choice_dims=data.choice_dims,
        scalar_lengthscale_prior=args.prior,
        choice_lengthscale_prior=args.prior,
        feature_names=data.feature_names,
    )
    start = time.perf_counter()
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    elapsed = time.perf_counter() - start
    print(f"Fitted ScalarChoiceGP to {args.n} points of a mixed space in {elapsed:.2f} s.\n")
    print(model_expression(model))
    with torch.no_grad():
        pred = model.posterior(X_test).mean
    rmse = (pred - Y_test).square().mean().sqrt().item()
    rmse_const = (Y.mean() - Y_test).square().mean().sqrt().item()
    print(
        f"\nHeld-out RMSE on {args.n_test} new points: {rmse:.4f} "
        f"(predicting the training mean: {rmse_const:.4f})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ax-ext", description="ax_ext: mixed-space GP models for Ax / BoTorch."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="fit ScalarChoiceGP to a synthetic mixed data set and print it"
    )
    demo.add_argument("--n", type=int, default=40, help="training points (default 40)")
    demo.add_argument("--n-test", type=int, default=200, help="held-out points (default 200)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--prior",
        default="default",
        choices=["tight", "default", "loose", "looser"],
        help="lengthscale prior strength (default: default)",
    )
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "n", 1) < 2:
        parser.error(f"--n must be at least 2 training points, got {args.n}")
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
