"""The read path between processes: Redis as the tier handlers share, what a
search costs in object-store requests (from /metrics), and /warm."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import Server

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


@pytest.fixture
def redis_url():
    proc = subprocess.Popen([sys.executable, os.path.join(FIXTURES, "redis_server.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line, "redis-server did not start"
    yield json.loads(line)["url"]
    proc.stdin.close()
    proc.wait(timeout=30)


def metric(server, name, **labels):
    text = server.request("GET", "/metrics").text
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(re.escape(name + ("{" + selector + "}" if selector else "")) + r" (\d+)", text)
    return int(m.group(1)) if m else 0


def search(server, q, **extra):
    return [h["id"] for h in server.ok("POST", "/collections/c/search", json={"vector": q, "k": 5, **extra})["results"]]


def test_a_second_handler_reads_immutable_objects_from_redis(data_dir, redis_url):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3000, 16)).astype(np.float32)
    extra = ["--redis-url", redis_url, "--gc-grace-seconds", "600"]
    first = Server(data_dir, extra=extra)
    try:
        first.ok("POST", "/collections", json={"name": "c", "dimension": 16, "distance_metric": "euclidean",
                                               "indexing_algorithm": "ivf"})
        for lo in range(0, 3000, 1000):
            first.ok("POST", "/collections/c/vectors",
                     json={"vectors": [{"id": f"v{i}", "vector": vectors[i].tolist()} for i in range(lo, lo + 1000)]})
        assert first.ok("POST", "/collections/c/flush?wait=true")["status"] == "done"
        first.ok("POST", "/collections/c/vectors", json={"vectors": [{"id": "tail", "vector": [9.0] * 16}]})
    finally:
        first.stop()

    # Without the shared tier, a cold handler reads the segment, its index and the WAL tail from the store.
    alone = Server(data_dir, extra=["--gc-grace-seconds", "600"])
    try:
        assert search(alone, vectors[7].tolist())[0] == "v7"
        store_bytes_alone = metric(alone, "proximadb_search_storage_bytes_total", consistency="strong")
        assert store_bytes_alone > 3000 * 16 * 4
    finally:
        alone.stop()

    # With it, a cold handler finds what the first one read (the segment its write
    # loaded after the flush, the WAL its flush read) in Redis: what it reads from
    # the store is the catalog entry alone.
    third = Server(data_dir, extra=extra)
    try:
        assert search(third, [9.0] * 16)[0] == "tail"
        store_bytes_third = metric(third, "proximadb_search_storage_bytes_total", consistency="strong")
        assert store_bytes_third < 2000, (store_bytes_alone, store_bytes_third)
        assert metric(third, "proximadb_cache_hits_total", tier="redis") >= 3  # manifest, segment, index, WAL
        # Warm: one request a strongly consistent query, none an eventual one.
        before = metric(third, "proximadb_search_storage_requests_sum", consistency="strong")
        for i in range(10):
            assert search(third, vectors[i].tolist())[0] == f"v{i}"
        assert metric(third, "proximadb_search_storage_requests_sum", consistency="strong") - before == 10
        for i in range(10):
            search(third, vectors[i].tolist(), consistency="eventual")
        assert metric(third, "proximadb_search_storage_requests_sum", consistency="eventual") == 0
        bad = third.request("POST", "/collections/c/search", json={"vector": [0.0] * 16, "consistency": "weak"})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
    finally:
        third.stop()


def test_warm_loads_a_collection_ahead_of_queries(server):
    server.ok("POST", "/collections", json={"name": "c", "dimension": 4, "distance_metric": "euclidean"})
    server.ok("POST", "/collections/c/vectors", json={"vectors": [{"id": f"v{i}", "vector": [i, 0, 0, 1]} for i in range(50)]})
    server.ok("POST", "/collections/c/flush?wait=true")
    warm = server.ok("POST", "/collections/c/warm")
    assert warm["vector_count"] == 50 and warm["segments"] == 1
    assert warm["storage_requests"] >= 1 and warm["seconds"] >= 0
    missing = server.request("POST", "/collections/nope/warm")
    assert missing.status_code == 404 and missing.json()["error"] == "collection_not_found"
