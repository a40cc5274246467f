"""Approximate search through the segment indexes, end to end over HTTP: for
each index kind a collection is flushed into an indexed segment and its
answers are held against numpy's exact top-10 (recall bounds, not equality).
The collection's own width is set narrow, so the index is visibly in use;
`target_recall` must then widen it from the calibration made at build."""
import numpy as np
import pytest

from conftest import Server

KINDS = [
    ("hnsw", "cosine", {"ef_search": 10}),
    ("hnsw", "dot_product", {"n_probes": 1}),  # inner products are indexed by IVF
    ("ivf", "euclidean", {"quantization": "sq8", "n_probes": 1}),
    ("ivf", "cosine", {"quantization": "binary", "n_probes": 1}),
]


def exact_top(metric, data, q, k):
    if metric == "cosine":
        d = 1 - (data @ q) / (np.linalg.norm(data, axis=1) * np.linalg.norm(q))
    elif metric == "dot_product":
        d = -(data @ q)
    else:
        d = np.linalg.norm(data - q, axis=1)
    return [str(i) for i in np.argsort(d, kind="stable")[:k]]


@pytest.mark.parametrize("algorithm,metric,config", KINDS, ids=[f"{a}-{m}-{c.get('quantization', '')}" for a, m, c in KINDS])
def test_indexed_search_recall(data_dir, algorithm, metric, config):
    n, dim, k = 4000, 32, 10
    rng = np.random.default_rng(17)
    # Unstructured data, where the search width matters.
    data = rng.standard_normal((n, dim)).astype(np.float32)
    if metric == "dot_product":
        data *= rng.uniform(0.3, 3, (n, 1)).astype(np.float32)  # unequal norms
    queries = rng.standard_normal((40, dim)).astype(np.float32)
    server = Server(data_dir)
    try:
        server.ok("POST", "/collections", json={"name": "ix", "dimension": dim, "distance_metric": metric,
                                                "indexing_algorithm": algorithm, "config": config})
        for start in range(0, n, 1000):
            server.ok("POST", "/collections/ix/vectors", json={"vectors": [
                {"id": str(i), "vector": data[i].tolist()} for i in range(start, start + 1000)]})
        report = server.ok("POST", "/collections/ix/flush?wait=true")
        assert report["status"] == "done" and report["rows"] == n
        assert server.ok("GET", "/collections/ix")["indexed_segment_count"] == 1

        def recall(extra):
            results = server.ok("POST", "/collections/ix/search",
                                json={"queries": [q.tolist() for q in queries], "k": k, **extra})["results"]
            return sum(len(set(exact_top(metric, data, q, k)) & {h["id"] for h in found})
                       for q, found in zip(queries, results)) / (len(queries) * k)

        narrow, calibrated = recall({}), recall({"target_recall": 0.99})
        assert narrow < 0.95, f"the narrow width should miss some neighbours: {narrow}"
        # IVF picks lists by euclidean distance to their centroids, which under-serves inner products on
        # vectors of unequal norms: there the calibration promises more than it gets (a known weakness).
        wanted = 0.8 if metric == "dot_product" else 0.96
        assert calibrated >= wanted, f"target_recall 0.99 gave {calibrated} (narrow width: {narrow})"
        assert recall({"exact": True}) == 1.0
    finally:
        server.stop()
