import pytest
from ax.exceptions.core import UserInputError

from ax_ext.generation import (
    BO,
    NODE_EXPLANATIONS,
    SOBOL,
    default_num_sobol_trials,
    explain_node,
    sobol_then_bo,
)
from tests.generation._problem import make_client


def test_every_node_the_strategy_builds_is_explained():
    client = make_client()
    names = set()
    for gate in (None, 0.5):
        gs = sobol_then_bo(client, num_sobol_trials=5, quality_gate=gate)
        names |= {node.name for node in gs._nodes}
    assert len(names) == 4  # Sobol, BO, and the gated variant's two BO nodes
    assert names <= set(NODE_EXPLANATIONS), names - set(NODE_EXPLANATIONS)
    assert explain_node(BO) != explain_node(SOBOL)
    assert "outside this strategy" in explain_node("manual")


def test_default_num_sobol_trials():
    assert default_num_sobol_trials(2) == 5
    assert default_num_sobol_trials(6) == 12
    assert default_num_sobol_trials(6, total_trials=12) == 6
    assert default_num_sobol_trials(6, total_trials=3) == 2
    with pytest.raises(UserInputError, match="total_trials to be an integer >= 1"):
        default_num_sobol_trials(6, total_trials=0)
