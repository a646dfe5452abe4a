import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ax.exceptions.core import UserInputError
from botorch.utils.testing import BotorchTestCase

from ax_ext.generation import BO, SOBOL, load_client, save_client, sobol_then_bo
from tests.generation._problem import FAST_ACQF, make_client, node_names, run_trials

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: load, generate 2 more trials, save, report.
CONTINUE = """
import json, sys
from ax_ext.generation import load_client, save_client
from tests.generation._problem import node_names, run_trials
client = load_client(sys.argv[1])
run_trials(client, 2)
model = client._generation_strategy.adapter.generator.surrogate.model
save_client(client, sys.argv[1])
print(json.dumps({"nodes": node_names(client), "model": type(model).__name__,
                  "kernel": type(model.covar_module).__name__}))
"""


class TestStorage(BotorchTestCase):
    def _round_trip(self, filename: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / filename
            client = make_client()
            gs = sobol_then_bo(client, num_sobol_trials=4, seed=0, optimizer_kwargs=FAST_ACQF)
            client.set_generation_strategy(gs)
            run_trials(client, 5)
            save_client(client, path)
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            out = subprocess.run(
                [sys.executable, "-c", CONTINUE, str(path)],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env=env,
                timeout=600,
            )
            self.assertEqual(out.returncode, 0, out.stderr[-3000:])
            report = json.loads(out.stdout.strip().splitlines()[-1])
            self.assertEqual(report["nodes"], [SOBOL] * 4 + [BO] * 3)
            self.assertEqual(report["model"], "ScalarChoiceGP")
            self.assertEqual(report["kernel"], "ScalarChoiceKernel")
            # and what the new process saved loads here too, with all 7 trials
            again = load_client(path)
            self.assertEqual(len(again._experiment.trials), 7)
            self.assertEqual(again._generation_strategy.current_node_name, BO)
            self.assertEqual(node_names(again)[-1], BO)

    def test_json(self):
        self._round_trip("study.json")

    def test_sqlite(self):
        self._round_trip("study.db")

    def test_bad_path(self):
        with self.assertRaisesRegex(UserInputError, "ending in .json"):
            save_client(make_client(), "study.csv")
