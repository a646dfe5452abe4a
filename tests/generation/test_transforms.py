from ax.core.observation import ObservationFeatures
from ax.core.parameter import ChoiceParameter, ParameterType, RangeParameter
from ax.core.search_space import SearchSpace
from botorch.utils.testing import BotorchTestCase

from ax_ext.generation import UNORDERED_SUFFIX, UnorderedChoiceEncode, original_name


def search_space() -> SearchSpace:
    return SearchSpace(
        [
            RangeParameter("lr", ParameterType.FLOAT, 1e-4, 1e-1, log_scale=True),
            ChoiceParameter(
                "opt", ParameterType.STRING, ["adam", "sgd", "rmsprop"], is_ordered=False
            ),
            ChoiceParameter("width", ParameterType.INT, [16, 64, 256], is_ordered=False),
            ChoiceParameter("size", ParameterType.STRING, ["s", "m", "l"], is_ordered=True),
            ChoiceParameter("depth", ParameterType.INT, [1, 2, 4], is_ordered=True),
        ]
    )


class TestUnorderedChoiceEncode(BotorchTestCase):
    def test_search_space(self):
        tf = UnorderedChoiceEncode(search_space=search_space())
        params = tf.transform_search_space(search_space()).parameters
        self.assertEqual(
            list(params), ["lr", "opt (unordered)", "width (unordered)", "size", "depth"]
        )
        for name in ("opt (unordered)", "width (unordered)"):
            self.assertEqual(params[name].values, [0, 1, 2])
            self.assertFalse(params[name].is_ordered)
        # ordered choices as Ax's ChoiceToNumericChoice has them
        self.assertEqual(params["size"].values, [0, 1, 2])
        self.assertTrue(params["size"].is_ordered)
        self.assertEqual(params["depth"].values, [1, 2, 4])

    def test_observation_features_round_trip(self):
        tf = UnorderedChoiceEncode(search_space=search_space())
        original = {"lr": 0.01, "opt": "sgd", "width": 256, "size": "m", "depth": 4}
        obsf = tf.transform_observation_features([ObservationFeatures(dict(original))])
        self.assertEqual(
            obsf[0].parameters,
            {"lr": 0.01, "opt (unordered)": 1, "width (unordered)": 2, "size": 1, "depth": 4},
        )
        # generated candidates come back as floats
        obsf[0].parameters["opt (unordered)"] = 1.0
        back = tf.untransform_observation_features(obsf)
        self.assertEqual(back[0].parameters, original)

    def test_original_name(self):
        self.assertEqual(original_name("opt" + UNORDERED_SUFFIX), "opt")
        self.assertEqual(original_name("opt"), "opt")
