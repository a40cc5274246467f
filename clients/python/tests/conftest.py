"""A real server per test (see `server.py`), once with REST alone and once
with gRPC on, which the client then uses for writes and searches."""
import pytest

from server import Server


@pytest.fixture(params=["rest", "grpc"])
def server(request):
    s = Server(grpc=request.param == "grpc")
    yield s
    s.stop()
