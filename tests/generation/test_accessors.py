import logging

from ax.exceptions.core import UserInputError
from botorch.utils.testing import BotorchTestCase

from ax_ext.expressions import model_expression
from ax_ext.generation import fitted_model, quality_gate, quiet_ax, sobol_then_bo
from ax_ext.models import ScalarChoiceGP
from tests.generation._problem import FAST_ACQF, make_client, run_trials


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.NOTSET)
        self.records = []

    def emit(self, record):
        self.records.append(record)


class TestAccessors(BotorchTestCase):
    def test_fitted_model_and_its_expression(self):
        client = make_client()
        with self.assertRaisesRegex(UserInputError, "no generation strategy"):
            fitted_model(client)
        gs = sobol_then_bo(client, num_sobol_trials=4, seed=0, optimizer_kwargs=FAST_ACQF)
        client.set_generation_strategy(gs)
        run_trials(client, 4)
        with self.assertRaisesRegex(UserInputError, "No model has been fitted yet"):
            fitted_model(client)
        run_trials(client, 1)
        model = fitted_model(client)
        self.assertIs(model, fitted_model(gs))
        self.assertIsInstance(model, ScalarChoiceGP)
        # string choices appear by value, not by Ax's code
        features = {r.get("feature") for r in model_expression(model).to_records()}
        self.assertIn("optimizer=adam", features)
        self.assertIn("width=64", features)
        with self.assertRaisesRegex(UserInputError, "Expected an ax.api.client.Client"):
            fitted_model(model)

    def test_quality_gate(self):
        self.assertIsNone(quality_gate(sobol_then_bo(num_sobol_trials=4)))
        client = make_client()
        client.set_generation_strategy(
            sobol_then_bo(client, num_sobol_trials=4, quality_gate=0.3, max_sobol_trials=8)
        )
        gate = quality_gate(client)
        self.assertEqual(gate.threshold, 0.3)
        self.assertEqual(gate.last_reason, "not evaluated yet")


class TestQuietAx(BotorchTestCase):
    def test_hides_info_within_the_block_and_restores(self):
        ax_logger, client_logger = logging.getLogger("ax"), logging.getLogger("ax.api.client")
        records = _Records()
        ax_logger.addHandler(records)
        before = (ax_logger.level, client_logger.level, [h.level for h in ax_logger.handlers])
        try:
            client = make_client()
            client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=4, seed=0))
            with quiet_ax():
                run_trials(client, 2)
                client_logger.warning("a warning still shows")
            self.assertEqual([r.levelno for r in records.records], [logging.WARNING])
            run_trials(client, 1)  # Ax's INFO lines are back
            self.assertIn(logging.INFO, [r.levelno for r in records.records])
        finally:
            ax_logger.removeHandler(records)
        after = (ax_logger.level, client_logger.level, [h.level for h in ax_logger.handlers])
        self.assertEqual(before[:2], after[:2])
        self.assertEqual(before[2], after[2] + [records.level])
