"""The client against a real server: every call, errors with the server's
codes, numpy and list inputs, retries on 429 honouring Retry-After, and the
README quickstart as written."""
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

import proximadb


def test_collections_vectors_search_and_delete(server):
    client = proximadb.Client(server.url)
    assert client.health()["status"] == "ok"
    assert client.uses_grpc == server.grpc == (client.health()["grpc_port"] is not None)
    docs = client.create_collection("docs", dimension=3, metric="euclidean", index="flat",
                                    filterable_fields=[{"name": "n", "type": "integer"}], default_ttl_seconds=3600)
    assert [c["name"] for c in client.list_collections()] == ["docs"]
    ids = docs.upsert(["a", "b", "c"], [[0, 0, 1], [0, 1, 0], [1, 0, 0]], metadata=[{"n": 1}, {"n": 2}, None])
    assert ids == ["a", "b", "c"]
    generated = docs.upsert(None, np.array([[5, 5, 5]], dtype=np.float32))
    assert len(generated) == 1 and generated[0] not in ids
    assert docs.count() == 4

    hits = docs.search(np.array([0, 0, 0.9]), k=2)
    assert hits[0].id == "a" and hits[0].rank == 1 and hits[0].metadata == {"n": 1} and hits[0].vector is None
    assert abs(hits[0].distance - 0.1) < 1e-5 and hits[0].score >= hits[1].score
    assert [h.id for h in docs.search([0, 0, 1], k=3, filter={"n": {"$gte": 2}})] == ["b"]
    assert docs.search([0, 1, 0], k=1, include_vectors=True)[0].vector == [0, 1, 0]
    batch = docs.search([[0, 0, 1], [1, 0, 0]], k=1, exact=True)
    assert [[h.id for h in hits] for hits in batch] == [["a"], ["c"]]
    assert [hits[0].id for hits in docs.search(np.eye(3), k=1, consistency="eventual")] == ["c", "b", "a"]

    record = docs.get("b")
    assert record.vector == [0, 1, 0] and record.metadata == {"n": 2} and record.version >= 1 and record.expires_at
    assert [r.id if r else None for r in docs.get(["a", "nope", "c"])] == ["a", None, "c"]

    with pytest.raises(proximadb.ConflictError) as e:
        docs.insert(["a"], [[1, 1, 1]])
    assert e.value.code == "vector_exists" and e.value.status == 409
    assert docs.get("a").vector == [0, 0, 1]

    assert docs.delete(ids=["a"]) == 1
    assert docs.delete(filter={"n": 2}) == 1
    with pytest.raises(proximadb.NotFoundError) as e:
        docs.get("a")
    assert e.value.code == "vector_not_found"
    assert docs.count() == 2
    report = docs.flush()
    assert report["status"] == "done" and docs.count() == 2

    client.delete_collection("docs")
    with pytest.raises(proximadb.NotFoundError) as e:
        docs.info()
    assert e.value.code == "collection_not_found"


def test_bad_input_raises_the_servers_code_and_changes_nothing(server):
    client = proximadb.Client(server.url)
    docs = client.create_collection("docs", dimension=2)
    docs.upsert(["a"], [[1, 0]])
    cases = [
        (lambda: docs.upsert(["b"], [[1, 2, 3]]), "dimension_mismatch"),
        (lambda: docs.upsert(["b"], [[float("nan"), 1]]), "invalid_vector"),
        (lambda: docs.upsert(["b"], np.array([[1e39, 1]])), "invalid_vector"),  # past float32's range
        (lambda: docs.upsert(["b"], [[1, 0]], [{"x": float("nan")}]), "invalid_metadata"),
        (lambda: docs.upsert([""], [[1, 0]]), "invalid_id"),
        (lambda: docs.search([1, 0], filter={"x": {"$bogus": 1}}), "invalid_filter"),
        (lambda: docs.search([1, 0], k=0), "invalid_request"),
        (lambda: client.create_collection("../etc", dimension=2), "invalid_name"),
        (lambda: client.create_collection("docs", dimension=2), "collection_exists"),
        (lambda: client.collection("missing").search([1, 0]), "collection_not_found"),
    ]
    for call, code in cases:
        with pytest.raises(proximadb.ProximaDBError) as e:
            call()
        assert e.value.code == code, (code, e.value)
        assert isinstance(e.value, proximadb.InvalidRequestError) == (e.value.status == 400)
    with pytest.raises(ValueError):
        docs.upsert(["x", "y"], [[1, 0]])
    # An explicit transport: REST is always there; gRPC only where the server offers it.
    assert proximadb.Client(server.url, transport="rest").uses_grpc is False
    if not server.grpc:
        with pytest.raises(proximadb.ProximaDBError) as e:
            proximadb.Client(server.url, transport="grpc").collection("docs").search([1, 0])
        assert e.value.code == "grpc_unavailable"
    assert docs.count() == 1 and docs.get("a").vector == [1, 0]


def test_large_uploads_are_batched(server):
    client = proximadb.Client(server.url, transport="grpc" if server.grpc else "rest")
    docs = client.create_collection("big", dimension=8, metric="euclidean")
    vectors = np.random.default_rng(1).standard_normal((2500, 8)).astype(np.float32)
    ids = docs.upsert([f"v{i}" for i in range(2500)], vectors, batch_size=1000, progress=True)
    assert len(ids) == 2500 and docs.count() == 2500
    assert docs.search(vectors[1234], k=1)[0].id == "v1234"


class _Busy(BaseHTTPRequestHandler):
    """Answers 429 with Retry-After twice, then success."""
    calls = []

    def do_GET(self):
        _Busy.calls.append(time.time())
        if len(_Busy.calls) <= 2:
            body = b'{"success": false, "data": null, "error": "rate_limited", "message": "slow down"}'
            self.send_response(429)
            self.send_header("Retry-After", "1")
        else:
            body = b'{"success": true, "data": {"status": "ok"}, "error": null, "message": null}'
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_429_is_retried_after_what_retry_after_says():
    httpd = HTTPServer(("127.0.0.1", 0), _Busy)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        assert proximadb.Client(url).health() == {"status": "ok"}
        assert len(_Busy.calls) == 3 and _Busy.calls[1] - _Busy.calls[0] >= 0.95 and _Busy.calls[2] - _Busy.calls[1] >= 0.95
        _Busy.calls.clear()
        with pytest.raises(proximadb.UnavailableError) as e:
            proximadb.Client(url, max_retries=1).health()
        assert e.value.code == "rate_limited" and e.value.retry_after == 1
    finally:
        httpd.shutdown()


def test_the_readme_quickstart_runs_as_written(server, capsys):
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    exec(compile(code.replace("http://127.0.0.1:5678", server.url), "README.md", "exec"), {})
    assert capsys.readouterr().out.split() == ["{'genre':", "'news'}", "vector_not_found"]
