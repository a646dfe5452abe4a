"""Where the benchmark scripts write their JSON by default.

A run without ``--out`` (a smoke run, a quick look) writes to ``benchmarks/out/``,
which git ignores; the committed results in ``benchmarks/results/`` are written
only when ``--out`` names them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: The git-ignored folder of the runs without ``--out``.
OUT_DIR = Path(__file__).resolve().parent / "out"


def add_out_argument(parser: argparse.ArgumentParser, name: str) -> None:
    """Add ``--out`` with the default ``benchmarks/out/<name>.json``."""
    parser.add_argument(
        "--out",
        default=str(OUT_DIR / f"{name}.json"),
        help=f"JSON output (default benchmarks/out/{name}.json, not committed; pass "
        f"--out benchmarks/results/{name}.json to update the committed results)",
    )


def write_results(results: dict, out: str | Path, indent: int = 1) -> None:
    """Write ``results`` as JSON to ``out`` (folders created) and say where."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=indent))
    print(f"wrote {out}")
