"""Fixtures of the runner tests: a PostgreSQL server (skipped, saying why, where none)."""

import uuid

import pytest

from tests.runner import _postgres


@pytest.fixture(scope="session")
def postgres_server():
    reason = _postgres.why_not()
    if reason is not None:
        pytest.skip(f"no PostgreSQL server for this test: {reason}")
    url, stop = _postgres.start()
    yield url
    stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a new, empty database on the test server."""
    return _postgres.new_database(postgres_server, f"t_{uuid.uuid4().hex[:12]}")
