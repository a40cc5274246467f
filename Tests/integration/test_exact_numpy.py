"""Exact search returns numpy's brute-force top-k for all six metrics, with and without filters."""
import numpy as np
import pytest

METRICS = ["cosine", "euclidean", "dot_product", "manhattan", "hamming", "jaccard"]


def distances(metric, data, q):
    d64, q64 = data.astype(np.float64), q.astype(np.float64)
    if metric == "cosine":
        return 1 - (d64 @ q64) / (np.linalg.norm(d64, axis=1) * np.linalg.norm(q64))
    if metric == "euclidean":
        return np.linalg.norm(d64 - q64, axis=1)
    if metric == "dot_product":
        return -(d64 @ q64)
    if metric == "manhattan":
        return np.abs(d64 - q64).sum(axis=1)
    if metric == "hamming":
        return (d64 != q64).sum(axis=1).astype(np.float64)
    if metric == "jaccard":
        mins, maxs = np.minimum(d64, q64).sum(axis=1), np.maximum(d64, q64).sum(axis=1)
        return np.where(maxs == 0, 0.0, 1 - mins / np.where(maxs == 0, 1, maxs))
    raise ValueError(metric)


@pytest.mark.parametrize("metric", METRICS)
def test_matches_numpy(server, metric):
    rng = np.random.default_rng(abs(hash(metric)) % 2**32)
    n, dim, k = 3000, 48, 10
    if metric in ("hamming", "jaccard"):
        data = rng.integers(0, 2, (n, dim)).astype(np.float32)
        data[:, 0] = 1
    else:
        data = rng.standard_normal((n, dim)).astype(np.float32)
    colour = rng.integers(0, 20, n)
    server.ok("POST", "/collections", json={"name": "m", "dimension": dim, "distance_metric": metric})
    for start in range(0, n, 1000):
        server.ok("POST", "/collections/m/vectors", json={"vectors": [
            {"id": str(i), "vector": data[i].tolist(), "metadata": {"colour": int(colour[i]), "even": bool(i % 2 == 0)}}
            for i in range(start, min(n, start + 1000))]})
    queries = data[rng.choice(n, 5)] if metric in ("hamming", "jaccard") else rng.standard_normal((5, dim)).astype(np.float32)
    filters = [None, {"colour": {"$lt": 2}}, {"$and": [{"even": True}, {"colour": {"$in": [3, 4, 5]}}]}]
    for flt in filters:
        mask = np.ones(n, bool)
        if flt == filters[1]:
            mask = colour < 2
        elif flt == filters[2]:
            mask = (np.arange(n) % 2 == 0) & np.isin(colour, [3, 4, 5])
        body = {"queries": [q.tolist() for q in queries], "k": k}
        if flt:
            body["filter"] = flt
        results = server.ok("POST", "/collections/m/search", json=body)["results"]
        for q, hits in zip(queries, results):
            d = distances(metric, data, q)
            d[~mask] = np.inf
            order = np.argsort(d, kind="stable")[:k]
            got = np.array([h["distance"] for h in hits])
            assert len(hits) == k
            assert np.allclose(got, d[order], rtol=1e-4, atol=1e-4), (metric, flt)
            kth = d[order[-1]]
            must = {str(i) for i in np.nonzero(d < kth - 1e-4)[0]}
            assert must <= {h["id"] for h in hits}
            assert all(mask[int(h["id"])] for h in hits)
            assert [h["rank"] for h in hits] == list(range(1, k + 1))
            scores = [h["score"] for h in hits]
            assert scores == sorted(scores, reverse=True)
