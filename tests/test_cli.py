import subprocess
import sys

import pytest

from ax_ext.cli import main


def test_demo_prints_expression_and_beats_constant(capsys):
    assert main(["demo", "--n", "20", "--n-test", "50"]) == 0
    out = capsys.readouterr().out
    assert "Covariance:" in out
    assert "compare('log_lr')" in out
    assert "# Kernel: Joint scalar and choice parameters" in out
    rmse, const = [
        float(x)
        for x in out.split("Held-out RMSE on 50 new points: ")[1]
        .replace("(predicting the training mean: ", "")
        .rstrip(")\n")
        .split()
    ]
    assert rmse < const


def test_demo_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--n", "1"])
    assert "--n must be at least 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["demo", "--prior", "wide"])


def test_module_entry_point():
    res = subprocess.run(
        [sys.executable, "-m", "ax_ext", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in res.stdout


def test_help_imports_neither_torch_nor_ax():
    # what `ax-ext --help` and `ax-ext tune --help` run, in a fresh interpreter
    code = (
        "import sys\n"
        "from ax_ext.cli import main\n"
        "for argv in (['--help'], ['tune', '--help'], ['report', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'torch', 'botorch', 'gpytorch', 'ax', 'dask', 'plotly'}\n"
        "heavy = sorted(heavy & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usage: ax-ext" in res.stdout


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    res = subprocess.run(
        [sys.executable, "-m", "ax_ext", "--version"], capture_output=True, text=True, check=True
    )
    assert res.stdout.strip() == f"ax-ext {version('ax-ext')}"


def test_the_package_names_import_on_first_access():
    import ax_ext

    assert ax_ext.ScalarChoiceGP.__name__ == "ScalarChoiceGP"
    assert "ScalarChoiceKernel" in dir(ax_ext)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ax_ext.nope  # noqa: B018


def test_the_clis_names_are_the_librarys():
    # the CLI spells the names out so that `ax-ext --help` imports neither torch nor Ax;
    # this test keeps them equal to the library's tables
    from ax_ext.cli import build_parser
    from ax_ext.kernels import LENGTHSCALE_PRIOR_STRENGTHS
    from ax_ext.runner.compare import COMPARE_STRATEGIES
    from ax_ext.runner.strategies import STRATEGIES

    subparsers = next(
        a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction"
    )

    def option(command, dest):
        (action,) = [a for a in subparsers.choices[command]._actions if a.dest == dest]
        return action

    assert list(option("demo", "prior").choices) == list(LENGTHSCALE_PRIOR_STRENGTHS)
    assert list(option("tune", "strategy").choices) == list(STRATEGIES)
    compare = option("compare", "strategies")
    assert all(s in compare.help for s in COMPARE_STRATEGIES)
    assert list(compare.default) == list(STRATEGIES)
