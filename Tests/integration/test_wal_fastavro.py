"""The WAL is an open format: fastavro reads it with the published schema."""
import glob
import json
import os

import fastavro
import numpy as np

from conftest import ROOT


def test_fastavro_reads_wal_objects(server, data_dir):
    server.ok("POST", "/collections", json={"name": "docs", "dimension": 4, "distance_metric": "euclidean"})
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((50, 4)).astype(np.float32)
    records = [
        {"id": f"id-{i}", "vector": vecs[i].tolist(), "metadata": {"i": i, "name": f"é{i}", "tags": ["x", "y"]}}
        for i in range(50)
    ]
    records[3]["expires_at"] = 4102444800  # 2100-01-01
    server.ok("POST", "/collections/docs/vectors", json={"vectors": records})
    server.ok("POST", "/collections/docs/vectors/delete", json={"ids": ["id-7"]})

    with open(os.path.join(ROOT, "docs", "schemas", "wal_entry.avsc")) as f:
        published = fastavro.parse_schema(json.load(f))
    files = sorted(glob.glob(os.path.join(data_dir, "default", "*", "wal", "*")))
    assert len(files) == 2
    entries = []
    for path in files:
        with open(path, "rb") as f:
            reader = fastavro.reader(f, reader_schema=published)
            entries.extend(reader)
    inserts = [e for e in entries if e["operation"] == "INSERT"]
    assert [e["vector_id"] for e in inserts] == [r["id"] for r in records]
    for e, r, v in zip(inserts, records, vecs):
        assert np.array_equal(np.array(e["vector"], dtype=np.float32), v)
        assert json.loads(e["metadata"]) == r["metadata"]
        assert e["sequence"] == 1 and e["version"] == 1
    assert inserts[3]["expires_at"] is not None and inserts[3]["expires_at"].year == 2100
    deletes = [e for e in entries if e["operation"] == "DELETE"]
    assert [(e["vector_id"], e["sequence"], e["vector"]) for e in deletes] == [("id-7", 2, None)]
