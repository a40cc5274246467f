"""The read path between processes: Redis as the tier handlers share, what a
search costs in object-store requests (from /metrics), and /warm."""
import json
import time
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


def create_ivf(server, dimension=16):
    server.ok("POST", "/collections", json={"name": "c", "dimension": dimension, "distance_metric": "euclidean",
                                            "indexing_algorithm": "ivf"})


def insert(server, vectors, lo, hi):
    server.ok("POST", "/collections/c/vectors",
              json={"vectors": [{"id": f"v{i}", "vector": vectors[i].tolist()} for i in range(lo, hi)]})


def search(server, q, **extra):
    return [h["id"] for h in server.ok("POST", "/collections/c/search", json={"vector": q, "k": 5, **extra})["results"]]


def test_a_second_handler_reads_immutable_objects_from_redis(data_dir, redis_url):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3000, 16)).astype(np.float32)
    extra = ["--redis-url", redis_url, "--gc-grace-seconds", "600"]
    first = Server(data_dir, extra=extra)
    try:
        create_ivf(first)
        for lo in range(0, 3000, 1000):
            insert(first, vectors, lo, lo + 1000)
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
    # the store is the catalog entry and the manifest copy beside it (both may
    # change, so neither is cached), a kilobyte or so each.
    third = Server(data_dir, extra=extra)
    try:
        assert search(third, [9.0] * 16)[0] == "tail"
        store_bytes_third = metric(third, "proximadb_search_storage_bytes_total", consistency="strong")
        assert store_bytes_third < 4000, (store_bytes_alone, store_bytes_third)
        # The segment and its index (the manifest came with the catalog entry, as its copy).
        assert metric(third, "proximadb_cache_hits_total", tier="redis") >= 2
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


def test_a_graph_copied_to_the_disk_cache_is_searched_in_place(data_dir, tmp_path):
    """Under a memory budget an HNSW segment is served by its route at first;
    its graph and data are copied to the disk cache meanwhile, and from then
    on the graph is searched in place (`local_graph_segments` from /warm)."""
    writer = Server(data_dir)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3000, 16)).astype(np.float32)
    try:
        writer.ok("POST", "/collections", json={"name": "c", "dimension": 16, "distance_metric": "euclidean",
                                                "indexing_algorithm": "hnsw"})
        writer.ok("POST", "/collections/c/vectors",
                  json={"vectors": [{"id": f"v{i}", "vector": v.tolist()} for i, v in enumerate(vectors)]})
        writer.ok("POST", "/collections/c/flush?wait=true")
    finally:
        writer.stop()
    reader = Server(data_dir, extra=["--memory-budget", "64MiB", "--cache-dir", str(tmp_path / "cache")])
    try:
        assert search(reader, vectors[7].tolist())[0] == "v7"
        deadline = time.time() + 60
        while (warm := reader.ok("POST", "/collections/c/warm"))["local_graph_segments"] < 1:
            assert time.time() < deadline, warm
            time.sleep(0.2)
        assert warm["indexed_segments"] == 1
        before = metric(reader, "proximadb_search_storage_requests_sum", consistency="eventual")
        for i in range(0, 3000, 150):
            assert search(reader, vectors[i].tolist(), consistency="eventual")[0] == f"v{i}"
        assert metric(reader, "proximadb_search_storage_requests_sum", consistency="eventual") == before
    finally:
        reader.stop()


@pytest.mark.parametrize("budget", [None, "64MiB"])
def test_killed_handlers_never_serve_a_torn_or_damaged_cache_entry(data_dir, tmp_path, budget):
    """kill -9 while the disk cache is being filled, again and again, then
    damage every entry left: each restart answers exactly as the store does.
    With a memory budget the segment is opened cold: the cache fills behind
    ranged reads, with whole objects streamed to disk."""
    import random
    import signal
    import threading

    cache = str(tmp_path / "cache")
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((4000, 16)).astype(np.float32)
    extra = ["--cache-dir", cache, "--gc-grace-seconds", "600"] + (["--memory-budget", budget] if budget else [])
    server = Server(data_dir, extra=extra)
    # With a budget, one segment large enough for an index (only indexed segments are opened cold).
    step = 4000 if budget else 1000
    try:
        create_ivf(server)
        for lo in range(0, 4000, step):
            insert(server, vectors, lo, lo + step)
            server.ok("POST", "/collections/c/flush?wait=true")
    finally:
        server.stop()
    queries = rng.standard_normal((20, 16)).astype(np.float32)
    exact = [[f"v{i}" for i in np.argsort(((vectors - q) ** 2).sum(axis=1))[:5]] for q in queries]

    def answers(s):
        return [[h["id"] for h in s.ok("POST", "/collections/c/search", json={"vector": q.tolist(), "k": 5, "exact": True})["results"]]
                for q in queries]

    chooser = random.Random(11)
    for _ in range(6):
        s = Server(data_dir, extra=extra)
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    s.request("POST", "/collections/c/search", json={"vector": queries[0].tolist(), "k": 5}, timeout=5)
                except Exception:
                    return

        t = threading.Thread(target=load)
        t.start()
        time.sleep(chooser.uniform(0.0, 0.3))
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        stop.set()
        t.join()
        s.log.close()
        survivor = Server(data_dir, extra=extra)
        try:
            assert answers(survivor) == exact
        finally:
            survivor.stop()

    entries = [os.path.join(d, f) for d, _, files in os.walk(cache) for f in files if "/entries" in d]
    assert entries, "the disk cache holds nothing"
    for path in entries:
        with open(path, "r+b") as f:
            size = os.path.getsize(path)
            f.seek(size - 1)
            last = f.read(1)
            f.seek(size - 1)
            f.write(bytes([last[0] ^ 0xFF]))
    damaged = Server(data_dir, extra=extra)
    try:
        assert answers(damaged) == exact
    finally:
        damaged.stop()


def test_writes_past_the_indexing_backlog_get_429_with_retry_after(server):
    server.ok("POST", "/collections", json={"name": "c", "dimension": 32, "distance_metric": "euclidean",
                                            "config": {"max_unindexed_bytes": 50000, "max_wal_size_bytes": 1000000000}})
    acknowledged, refused = 0, None
    for batch in range(200):
        r = server.request("POST", "/collections/c/vectors",
                           json={"vectors": [{"id": f"b{batch}-{i}", "vector": [float(batch)] * 32} for i in range(50)]})
        if r.status_code == 429:
            refused = r
            break
        assert r.status_code == 200, r.text
        acknowledged += 50
    assert refused is not None, "never refused"
    assert refused.json()["error"] == "indexing_backlog"
    retry = int(refused.headers["Retry-After"])
    assert 1 <= retry <= 60
    info = server.ok("GET", "/collections/c")
    assert info["unflushed_wal_bytes"] > 50000 and info["oldest_unindexed_write_at"]
    # The refusal asked for a flush (the threshold alone never would): once it ran, writes go through.
    deadline = time.time() + 60
    while True:
        time.sleep(retry)
        r = server.request("POST", "/collections/c/vectors", json={"vectors": [{"id": "after", "vector": [1.0] * 32}]})
        if r.status_code == 200:
            break
        assert r.status_code == 429 and time.time() < deadline, r.text
    assert server.ok("GET", "/collections/c")["vector_count"] == acknowledged + 1
