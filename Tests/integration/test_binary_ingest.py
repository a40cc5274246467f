"""Binary ingest over REST: `Content-Type: application/avro` bodies written by
fastavro with the published schema (docs/schemas/vector_batch.avsc) read back
identically over JSON, and every malformed batch is a 4xx that changes nothing."""
import io
import json
import math
import os
import struct

import fastavro
import numpy as np

from conftest import ROOT

with open(os.path.join(ROOT, "docs", "schemas", "vector_batch.avsc")) as f:
    SCHEMA = fastavro.parse_schema(json.load(f))
AVRO = {"Content-Type": "application/avro"}


def payload(records):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, SCHEMA, records)
    return out.getvalue()


def record(id, vector, metadata=None, expires_at=None):
    return {"id": id, "vector": [float(x) for x in vector],
            "metadata": None if metadata is None else json.dumps(metadata), "expires_at": expires_at}


def count(server, name):
    return server.ok("GET", f"/collections/{name}")["vector_count"]


def test_avro_batches_read_back_over_json(server):
    server.ok("POST", "/collections", json={"name": "b", "dimension": 8, "distance_metric": "cosine"})
    rng = np.random.default_rng(7)
    vecs = rng.standard_normal((300, 8)).astype(np.float32)
    records = [record(f"v{i}", vecs[i], {"i": i, "tag": "é" if i % 2 else "x", "tags": ["a", "b"]}) for i in range(300)]
    records[5]["expires_at"] = 4102444800 * 1_000_000  # 2100-01-01, microseconds
    records[6]["id"] = None  # the server assigns one
    data = server.ok("POST", "/collections/b/vectors", data=payload(records), headers=AVRO)
    assert data["count"] == 300 and data["ids"][0] == "v0" and data["ids"][6] not in ("", None)
    for i in (0, 5, 299):
        got = server.ok("GET", f"/collections/b/vectors/v{i}")
        assert np.array_equal(np.array(got["vector"], dtype=np.float32), vecs[i])
        assert got["metadata"] == json.loads(records[i]["metadata"])
    assert server.ok("GET", f"/collections/b/vectors/{data['ids'][6]}")["metadata"]["i"] == 6
    assert server.ok("GET", "/collections/b/vectors/v5")["expires_at"] is not None
    hits = server.ok("POST", "/collections/b/search", json={"vector": vecs[17].tolist(), "k": 1})["results"]
    assert hits[0]["id"] == "v17"

    # Upsert is the query's: without it an existing id conflicts, with it the record is replaced.
    again = payload([record("v1", np.ones(8), {"replaced": True})])
    r = server.request("POST", "/collections/b/vectors", data=again, headers=AVRO)
    assert r.status_code == 409 and r.json()["error"] == "vector_exists", r.text
    server.ok("POST", "/collections/b/vectors?upsert=true", data=again, headers=AVRO)
    assert server.ok("GET", "/collections/b/vectors/v1")["metadata"] == {"replaced": True}
    assert count(server, "b") == 300


def test_malformed_avro_batches_change_nothing(server):
    server.ok("POST", "/collections", json={"name": "m", "dimension": 4, "distance_metric": "euclidean"})
    server.ok("POST", "/collections/m/vectors", data=payload([record("keep", [1, 2, 3, 4])]), headers=AVRO)
    good = payload([record("x", [1, 2, 3, 4])])
    cases = {
        "invalid_avro": [b"", b"\x00\x01\x02garbage", good[:-3], good + b"\x00", b"\x02\x04",
                         payload([record("x", [1, 2, 3, 4], None)])[:-1],
                         # metadata that is JSON text but not an object
                         payload([{"id": "x", "vector": [1.0, 2, 3, 4], "metadata": "[1, 2]", "expires_at": None}])],
        "dimension_mismatch": [payload([record("x", [1, 2, 3])])],
        "invalid_vector": [payload([record("x", [1, math.nan, 3, 4])]), payload([record("x", [1, math.inf, 3, 4])])],
        "invalid_id": [payload([record("", [1, 2, 3, 4])]), payload([record("a\x01b", [1, 2, 3, 4])])],
        "invalid_metadata": [payload([record("x", [1, 2, 3, 4], {"$bad": 1})]),
                             payload([record("x", [1, 2, 3, 4], {"big": "x" * 70_000})])],
        "batch_too_large": [payload([record(f"x{i}", [1, 2, 3, 4]) for i in range(10_001)]),
                            # a count of 2^62 records in nine bytes: refused before anything is allocated
                            bytes([0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])],
        "duplicate_id": [payload([record("d", [1, 2, 3, 4]), record("d", [1, 2, 3, 4])])],
        "invalid_request": [payload([record("x", [1, 2, 3, 4], expires_at=-5)])],
    }
    for code, bodies in cases.items():
        for body in bodies:
            r = server.request("POST", "/collections/m/vectors", data=body, headers=AVRO)
            assert 400 <= r.status_code < 500 and r.json()["error"] == code, (code, body[:40], r.status_code, r.text)
    r = server.request("POST", "/collections/m/vectors?upsert=maybe", data=good, headers=AVRO)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    # A float32 NaN written as raw bytes (not through fastavro's double conversion) is refused too.
    raw = b"\x02" + b"\x02\x04id" + b"\x08" + struct.pack("<4f", 1, 2, float("nan"), 4) + b"\x00" + b"\x00\x00" + b"\x00"
    r = server.request("POST", "/collections/m/vectors", data=raw, headers=AVRO)
    assert r.status_code == 400 and r.json()["error"] == "invalid_vector", r.text
    assert count(server, "m") == 1
    assert server.request("GET", "/collections/m/vectors/x").status_code == 404
