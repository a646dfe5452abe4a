"""Benchmark: the fused covariance's hand-written backward against autograd.

``ax_ext.kernels.fused.ScalarChoiceCovariance`` computes a ScalarChoiceKernel's
training covariance and its gradient by hand. This script times, side by side
and interleaved, one forward and backward pass of

* ``fused``: that Function (what ScalarChoiceGP's fused loss uses);
* ``autograd``: the kernel module's own forward (``ScalarChoiceKernel.forward``,
  the same formula written with differentiable torch operations) and torch's
  autograd backward;

on the training data of the fit benchmarks (``fit_loo.make_data``: 20 scalar and
4 one-hot choice columns), for one model of ``n`` points and for ``k`` batched
leave-one-out folds, float64, CPU, with the thread setting of the environment.
The backward pass gets a random symmetric ``dL/dK`` (what a likelihood gives).
It prints median times and their ratio and writes JSON.

Usage::

    python benchmarks/fused_backward.py       # writes benchmarks/out/fused_backward.json
    OMP_NUM_THREADS=1 python benchmarks/fused_backward.py --repeats 30
    python benchmarks/fused_backward.py --smoke
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from _out import add_out_argument, write_results

sys.path.insert(0, str(Path(__file__).parent))
from fit_loo import N_SCALAR, make_data  # noqa: E402

from ax_ext.kernels import ScalarChoiceHyperparameters, ScalarChoiceKernel  # noqa: E402
from ax_ext.kernels.fused import choice_operand, scalar_choice_covariance  # noqa: E402

#: (members, points): one full-data model and the leave-one-out folds of 20 and 60 points
WORKLOADS = [(1, 60), (20, 19), (60, 59)]


def _kernel(k: int) -> ScalarChoiceKernel:
    kernel = ScalarChoiceKernel(
        list(range(N_SCALAR)), list(range(N_SCALAR, N_SCALAR + 4)), batch_shape=torch.Size([k])
    ).double()
    gen = torch.Generator().manual_seed(0)
    for name in kernel.hyperparameter_names:
        value = getattr(kernel, name)
        low, high = (0.2, 0.8) if "weight" in name else (0.3, 3.0)
        setattr(kernel, name, low + (high - low) * torch.rand(value.shape, generator=gen).double())
    return kernel


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_workload(k: int, n: int, repeats: int) -> dict:
    X, _ = make_data(n)
    X = X.expand(k, n, X.shape[-1]).contiguous()
    kernel = _kernel(k)
    G = torch.randn(k, n, n, dtype=torch.double, generator=torch.Generator().manual_seed(1))
    G = G + G.transpose(-1, -2)

    s = X[..., kernel.scalar_dims]
    s = s - s.mean(-2, keepdim=True)
    choice, binary = choice_operand(X[..., kernel.choice_dims])

    def leaves():
        hp = kernel.hyperparameters()
        flat = {
            name: v.detach().reshape(k, -1).squeeze(-1)
            if v.dim() == 1
            else v.detach().reshape(k, -1)
            for name, v in hp.items()
        }
        return {name: v.clone().requires_grad_(True) for name, v in flat.items()}

    def fused():
        params = leaves()
        K = scalar_choice_covariance(s, choice, binary, ScalarChoiceHyperparameters(**params))
        torch.autograd.backward(K, G)
        return K

    def autograd():
        kernel.zero_grad(set_to_none=True)
        K = kernel(X).to_dense()
        torch.autograd.backward(K, G)
        return K

    # the same covariance, to the rounding of a different order of operations
    diff = (fused().detach() - autograd().detach()).abs().max().item()
    t_fused, t_auto = [], []
    for _ in range(3):  # interleaved blocks
        t_fused.append(_time(fused, repeats))
        t_auto.append(_time(autograd, repeats))
    return {
        "members": k,
        "n": n,
        "fused_ms": 1e3 * statistics.median(t_fused),
        "autograd_ms": 1e3 * statistics.median(t_auto),
        "max_abs_difference": diff,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed passes per block")
    parser.add_argument("--smoke", action="store_true", help="one small workload, 2 passes")
    add_out_argument(parser, "fused_backward")
    args = parser.parse_args(argv)
    workloads = [(2, 8)] if args.smoke else WORKLOADS
    repeats = 2 if args.smoke else args.repeats
    rows = []
    print(
        f"{'members':>7s} {'n':>4s} {'fused [ms]':>10s} {'autograd [ms]':>13s} "
        f"{'ratio':>6s} {'max |dK|':>9s}"
    )
    for k, n in workloads:
        row = run_workload(k, n, repeats)
        row["autograd_over_fused"] = row["autograd_ms"] / row["fused_ms"]
        rows.append(row)
        print(
            f"{k:7d} {n:4d} {row['fused_ms']:10.2f} {row['autograd_ms']:13.2f} "
            f"{row['autograd_over_fused']:6.2f} {row['max_abs_difference']:9.1e}"
        )
    results = {
        "benchmark": "fused_backward",
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    write_results(results, args.out)
    return results


if __name__ == "__main__":
    main()
