"""`proximadb serve --storage s3://bucket/prefix` with nothing but the standard
AWS variables, against moto's server with signature verification on; a
`kill -9` during writes loses nothing acknowledged there either."""
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, Server
from test_durability import all_ids, writer


@pytest.fixture(scope="module")
def moto():
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "fixtures", "moto_server.py"), "serve-bucket"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("moto did not start")
    info = json.loads(line)
    yield info
    proc.stdin.close()
    proc.wait(timeout=30)


def env_for(moto):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": moto["access_key_id"], "AWS_SECRET_ACCESS_KEY": moto["secret_access_key"],
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto["endpoint"], "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def test_serve_on_s3(moto):
    url = "s3://serve-bucket/it-serve"
    s = Server(url, env=env_for(moto))
    try:
        s.ok("POST", "/collections", json={"name": "c", "dimension": 4, "filterable_fields": ["writer"]})
        s.ok("POST", "/collections/c/vectors", json={"vectors": [
            {"id": f"v{i}", "vector": [i + 1, 1, 0, 0], "metadata": {"writer": "x"}} for i in range(100)]})
        hits = s.ok("POST", "/collections/c/search", json={"vector": [5, 1, 0, 0], "k": 3})["results"]
        assert [h["id"] for h in hits][0] == "v4"
    finally:
        s.stop()
    # A new process over the same bucket sees everything.
    s = Server(url, env=env_for(moto))
    try:
        assert s.ok("GET", "/collections/c")["vector_count"] == 100
        assert s.ok("GET", "/collections/c/vectors/v7")["vector"] == [8, 1, 0, 0]
    finally:
        s.stop()


def test_kill_9_on_s3(moto):
    url = "s3://serve-bucket/it-kill"
    s = Server(url, env=env_for(moto))
    s.ok("POST", "/collections", json={"name": "c", "dimension": 4})
    acked_total, writers = [], []
    for round_ in range(3):
        acked, errors, stop = [], [], threading.Event()
        names = [f"r{round_}t{t}" for t in range(3)]
        writers.extend(names)
        threads = [threading.Thread(target=writer, args=(s.url, n, acked, stop, errors)) for n in names]
        for t in threads:
            t.start()
        time.sleep(0.3 + round_ * 0.3)
        s.kill()
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        acked_total.extend(acked)
        s = Server(url, env=env_for(moto))
        ids = all_ids(s, writers)
        assert len(ids) == len(set(ids))
        assert not set(acked_total) - set(ids)
    assert acked_total
    s.stop()
