"""A real server per test, as for the client's own tests."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from server import Server  # noqa: E402


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()
