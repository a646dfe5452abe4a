"""Shared pytest configuration: tests marked ``slow`` run only with AX_EXT_SLOW=1."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("AX_EXT_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: set AX_EXT_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
