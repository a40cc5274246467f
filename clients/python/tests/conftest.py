"""A real server per test (see `server.py`)."""
import pytest

from server import Server


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()
