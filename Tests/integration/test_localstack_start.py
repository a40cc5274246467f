"""The README's local-cloud flow: `localstack/start`, then `proximadb serve
--storage s3://proximadb/…` ingests and searches against LocalStack; the same
with `--gcs` against fake-gcs-server."""
import os
import subprocess
import uuid

import pytest

from conftest import ROOT, Server

START = os.path.join(ROOT, "localstack", "start")


def exports(args):
    out = subprocess.run([START, *args], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    env = dict(os.environ)
    for line in out.stdout.splitlines():
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            env[k] = v
    return env


@pytest.fixture
def stop_after():
    yield
    subprocess.run([START, "--stop"], timeout=120)


@pytest.mark.parametrize("mode,url", [([], "s3://proximadb/it-{}"), (["--gcs"], "gs://proximadb/it-{}")])
def test_start_then_serve(stop_after, mode, url):
    env = exports(mode)
    storage = url.format(uuid.uuid4().hex[:8])
    s = Server(storage, env=env)
    try:
        s.ok("POST", "/collections", json={"name": "films", "dimension": 3})
        s.ok("POST", "/collections/films/vectors", json={"vectors": [
            {"id": "heat", "vector": [0.9, 0.1, 0.0]}, {"id": "alien", "vector": [0.2, 0.1, 0.9]}]})
        hits = s.ok("POST", "/collections/films/search", json={"vector": [0.8, 0.3, 0.1], "k": 1})["results"]
        assert hits[0]["id"] == "heat"
        assert storage.split("://")[0] in s.ok("GET", "/health")["storage"]
    finally:
        s.stop()
