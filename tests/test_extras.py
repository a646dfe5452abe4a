"""The core imports and works without the optional extras (``ax_ext.extras``).

Each check runs in a fresh interpreter whose import system refuses the extras'
modules (a ``sys.meta_path`` finder raising ``ModuleNotFoundError``, what a
missing package raises), so the check cannot pass because some other test
already imported them. A real minimal virtual environment would need torch,
BoTorch and Ax installed again (about a gigabyte and minutes of pip per run);
the blocker tests the same thing, what ax_ext imports, in a second.
"""

import subprocess
import sys
import textwrap

import pytest

BLOCKER = """
import sys
BLOCKED = {blocked!r}

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Blocker())
"""

# what only ax_ext's extras bring (Ax itself requires plotly and scikit-learn)
EXTRAS_ONLY = ["dask", "distributed", "sqlalchemy", "tabulate"]
EVERY_EXTRA = EXTRAS_ONLY + ["plotly", "sklearn", "tqdm"]


def run(blocked: list[str], code: str) -> subprocess.CompletedProcess:
    script = BLOCKER.format(blocked=set(blocked)) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )


def test_import_ax_ext_imports_no_optional_module():
    res = run(
        [],
        """
        import sys
        import ax_ext
        optional = ("plotly", "dask", "distributed", "sqlalchemy", "ax")
        loaded = [m for m in optional if m in sys.modules]
        assert not loaded, loaded
        """,
    )
    assert res.returncode == 0, res.stderr[-3000:]


def test_kernel_fitter_and_cross_validation_without_any_extra():
    res = run(
        EVERY_EXTRA,
        """
        import ax_ext
        from ax_ext.cross_validation import loo_cross_validation
        from ax_ext.expressions import model_expression
        from ax_ext.fit import fit_gpytorch_mll
        from ax_ext.kernels import ScalarChoiceKernel
        from ax_ext.models import ScalarChoiceGP
        from ax_ext.synthetic import mixed_dataset

        data = mixed_dataset(n=12, seed=0)
        res = loo_cross_validation(
            ScalarChoiceGP, data.X, data.Y, model_kwargs={"scalar_dims": data.scalar_dims},
            fit_kwargs={"optimizer_kwargs": {"options": {"maxiter": 20}}},
        )
        assert res.observed.shape[0] == 12
        print("ok")
        """,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ok" in res.stdout


def test_generation_without_the_extras_and_clear_errors():
    res = run(
        EXTRAS_ONLY,
        """
        import tempfile
        from pathlib import Path
        from ax.api.client import Client
        from ax.api.configs import RangeParameterConfig
        from ax_ext.generation import save_client, sobol_then_bo

        client = Client(random_seed=0)
        client.configure_experiment(parameters=[
            RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0))])
        client.configure_optimization(objective="-loss")
        client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=2))
        for index, p in client.get_next_trials(max_trials=2).items():
            client.complete_trial(index, raw_data={"loss": p["x"] ** 2})
        path = Path(tempfile.mkdtemp())
        save_client(client, path / "study.json")  # Ax's JSON store needs no extra
        try:
            save_client(client, path / "study.db")
        except ImportError as e:
            assert "pip install 'ax-ext[sql]'" in str(e), e
        else:
            raise AssertionError("saving to SQLite without SQLAlchemy should fail clearly")
        print("ok")
        """,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ok" in res.stdout


@pytest.mark.parametrize("module", ["plotly", "tqdm"])
def test_plotting_without_the_plots_extra_says_which_extra(module):
    res = run(
        [module],
        """
        try:
            import ax_ext.plotting
            from ax_ext.cross_validation.size import _progress
            _progress(3, True, "x")
        except ImportError as e:
            assert "pip install 'ax-ext[plots]'" in str(e), e
            print("ok")
        """,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ok" in res.stdout
