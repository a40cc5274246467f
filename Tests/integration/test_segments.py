"""Segment data files are plain Parquet: pyarrow and DuckDB read what was
inserted (ids, vectors bit for bit, typed metadata columns, the rest as JSON)."""
import glob
import json
import os

import duckdb
import numpy as np
import pyarrow.parquet as pq

from conftest import Server, read_manifest


def test_pyarrow_and_duckdb_read_segments(data_dir):
    s = Server(data_dir)
    try:
        s.ok("POST", "/collections", json={
            "name": "docs", "dimension": 16, "distance_metric": "euclidean",
            "filterable_fields": [{"name": "category", "type": "string"}, {"name": "price", "type": "float"},
                                  {"name": "stock", "type": "integer"}, {"name": "active", "type": "boolean"}]})
        rng = np.random.default_rng(5)
        vectors = rng.standard_normal((500, 16)).astype(np.float32)
        expected = {}
        for start in range(0, 500, 100):
            batch = []
            for i in range(start, start + 100):
                meta = {"category": ["a", "b", "ü/../c"][i % 3], "stock": i - 250, "note": f"row {i}",
                        "tags": ["x", i % 2 == 0], "active": i % 4 == 0}
                if i % 5:
                    meta["price"] = i * 0.5 + 0.25
                expected[f"id-{i}"] = (vectors[i], meta)
                batch.append({"id": f"id-{i}", "vector": vectors[i].tolist(), "metadata": meta})
            s.ok("POST", "/collections/docs/vectors", json={"vectors": batch})
        s.ok("POST", "/collections/docs/vectors/delete", json={"ids": ["id-7"]})
        report = s.ok("POST", "/collections/docs/flush?wait=true")
        assert report["status"] == "done" and report["rows"] == 500 and report["tombstones"] == 1
        del expected["id-7"]
    finally:
        s.stop()

    files = glob.glob(os.path.join(data_dir, "default", "*", "segments", "*", "data.parquet"))
    assert len(files) == 1
    path = files[0]
    # pyarrow, verifying every page's CRC-32.
    table = pq.ParquetFile(path, page_checksum_verification=True).read()
    schema = table.schema
    assert str(schema.field("vector").type) == "list<element: float not null>"
    assert str(schema.field("category").type) == "string" and str(schema.field("stock").type) == "int64"
    assert str(schema.field("price").type) == "double" and str(schema.field("active").type) == "bool"
    assert str(schema.field("timestamp").type).startswith("timestamp[us")
    info = json.loads(pq.read_metadata(path).metadata[b"proximadb.segment"])
    assert info["dimension"] == 16 and info["rows"] == 500
    rows = table.to_pylist()
    live = [r for r in rows if not r["deleted"]]
    assert len(live) == len(expected)
    assert [r["id"] for r in rows if r["deleted"]] == ["id-7"]
    for r in live:
        vector, meta = expected[r["id"]]
        assert np.array_equal(np.array(r["vector"], dtype=np.float32), vector)
        got = json.loads(r["extra_meta"]) if r["extra_meta"] else {}
        for field in ("category", "price", "stock", "active"):
            if r[field] is not None:
                got[field] = r[field]
        assert got == meta, (r["id"], got, meta)
    # Live rows first and the vector column uncompressed: the footer's vector_pages place every
    # live row's floats at a byte range of the file (what a cold query's rerank reads).
    assert [r["deleted"] for r in rows] == [False] * len(live) + [True]
    assert info["live_rows"] == len(live)
    raw = open(path, "rb").read()
    pages = info["vector_pages"]
    for i, r in enumerate(rows[:len(live)]):
        first, offset = max((p for p in pages if p[0] <= i), key=lambda p: p[0])
        start = offset + (i - first) * 16 * 4
        assert np.array_equal(np.frombuffer(raw[start:start + 64], dtype="<f4"), expected[r["id"]][0]), r["id"]

    # DuckDB, with SQL over the typed columns.
    con = duckdb.connect()
    n, = con.execute(f"select count(*) from '{path}' where not deleted and category = 'ü/../c' and stock > 0").fetchone()
    assert n == sum(1 for _, m in expected.values() if m["category"] == "ü/../c" and m["stock"] > 0)
    rid, vec = con.execute(f"select id, vector from '{path}' where id = 'id-42'").fetchone()
    assert np.array_equal(np.array(vec, dtype=np.float32), expected["id-42"][0])
    note, = con.execute(f"select extra_meta->>'note' from '{path}' where id = 'id-42'").fetchone()
    assert note == "row 42"

    # The manifest names the segment with its checksum.
    manifests = sorted(glob.glob(os.path.join(data_dir, "default", "*", "manifest", "*")))
    m = read_manifest(open(manifests[-1], "rb").read())
    assert m["segments"][0]["rows"] == 500 and m["segments"][0]["bytes"] == os.path.getsize(path)
    assert m["wal_through"] == 6
