"""kill -9 of the server during a stream of inserts loses no acknowledged write;
two servers on one directory lose and duplicate nothing."""
import random
import threading
import time

import requests

from conftest import Server


def writer(url, prefix, acked, stop, errors):
    session = requests.Session()
    n = 0
    while not stop.is_set():
        batch = [{"id": f"{prefix}-{n}-{i}", "vector": [random.random() + 0.01, random.random(), random.random(), 1.0],
                  "metadata": {"writer": prefix}} for i in range(20)]
        n += 1
        try:
            r = session.post(url + "/collections/c/vectors", json={"vectors": batch}, timeout=10)
        except requests.RequestException:
            return  # the server died: this batch was never acknowledged
        if r.status_code == 200:
            acked.extend(r.json()["data"]["ids"])
        else:
            errors.append((r.status_code, r.text))


def all_ids(server, writers):
    """Every stored id, one search per writer (each stays under the k limit)."""
    ids = []
    for w in writers:
        hits = server.ok("POST", "/collections/c/search", json={
            "vector": [1, 1, 1, 1], "k": 10000, "include_metadata": False, "filter": {"writer": w}})["results"]
        assert len(hits) < 10000
        ids.extend(h["id"] for h in hits)
    return ids


def test_kill_9_loses_no_acknowledged_write(data_dir):
    rng = random.Random(1234)
    acked_total, writers = [], []
    s = Server(data_dir)
    s.ok("POST", "/collections", json={"name": "c", "dimension": 4})
    for round_ in range(8):
        acked, errors, stop = [], [], threading.Event()
        names = [f"r{round_}t{t}" for t in range(4)]
        writers.extend(names)
        threads = [threading.Thread(target=writer, args=(s.url, name, acked, stop, errors)) for name in names]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.05, 0.8))
        s.kill()  # SIGKILL while requests are in flight
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        acked_total.extend(acked)
        s = Server(data_dir)
        ids = all_ids(s, writers)
        assert len(ids) == len(set(ids)), "duplicate ids after restart"
        missing = set(acked_total) - set(ids)
        assert not missing, f"round {round_}: {len(missing)} acknowledged writes lost"
    assert len(acked_total) > 0
    s.stop()


def test_two_servers_share_one_directory(data_dir):
    a, b = Server(data_dir), Server(data_dir)
    try:
        a.ok("POST", "/collections", json={"name": "c", "dimension": 4})
        acked, errors, stop = [], [], threading.Event()
        names = [(f"{name}{t}", srv) for name, srv in (("a", a), ("b", b)) for t in range(3)]
        threads = [threading.Thread(target=writer, args=(srv.url, name, acked, stop, errors)) for name, srv in names]
        for t in threads:
            t.start()
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        assert len(acked) > 100
        for srv in (a, b):
            ids = all_ids(srv, [n for n, _ in names])
            assert len(ids) == len(set(ids))
            assert set(ids) == set(acked)
        # each sees the other's single writes on its next query
        a.ok("POST", "/collections/c/vectors", json={"vectors": [{"id": "from-a", "vector": [1, 0, 0, 0]}]})
        assert b.ok("GET", "/collections/c/vectors/from-a")["id"] == "from-a"
        b.ok("POST", "/collections/c/vectors/delete", json={"ids": ["from-a"]})
        assert a.request("GET", "/collections/c/vectors/from-a").status_code == 404
    finally:
        a.stop()
        b.stop()
