"""Bad input gets the documented 4xx code and leaves stored data unchanged."""
import json

import pytest

from conftest import Server

V = [0.1, 0.2, 0.3]


def snapshot(server):
    coll = server.ok("GET", "/collections/docs")
    hits = server.ok("POST", "/collections/docs/search", json={"vector": V, "k": 1000, "include_vectors": True})["results"]
    names = [c["name"] for c in server.ok("GET", "/collections")]
    return coll["vector_count"], coll["wal_sequence"], coll["config"], coll["tags"], sorted(json.dumps(h, sort_keys=True) for h in hits), names


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("bad-input")))
    s.ok("POST", "/collections", json={
        "name": "docs", "dimension": 3, "filterable_fields": [{"name": "year", "type": "integer"}]})
    s.ok("POST", "/collections/docs/vectors", json={"vectors": [
        {"id": "a", "vector": V, "metadata": {"year": 2020, "genre": "drama"}},
        {"id": "b", "vector": [0.3, 0.2, 0.1], "metadata": {"year": 2021}},
    ]})
    yield s
    s.stop()


def big_json(n):
    return json.dumps({"vectors": [{"vector": V}] * n})


# (method, path, body (str/bytes = raw, else JSON), extra headers, status, code)
CASES = [
    # malformed bodies
    ("POST", "/collections/docs/vectors", "{", {}, 400, "invalid_json"),
    ("POST", "/collections/docs/vectors", "", {}, 400, "invalid_json"),
    ("POST", "/collections/docs/vectors", '{"vectors": [{"vector": [NaN, 1, 2]}]}', {}, 400, "invalid_json"),
    ("POST", "/collections/docs/vectors", '{"vectors": [{"vector": [Infinity, 1, 2]}]}', {}, 400, "invalid_json"),
    ("POST", "/collections/docs/vectors", b'{"vectors": [{"id": "\xff\xfe", "vector": [1,2,3]}]}', {}, 400, "invalid_json"),
    ("POST", "/collections/docs/vectors", '{"vectors": []} trailing', {}, 400, "invalid_json"),
    ("POST", "/collections/docs/vectors", "[" * 200 + "]" * 200, {}, 400, "invalid_json"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V}]}, {"Content-Type": "application/xml"}, 415, "unsupported_media_type"),
    # wrong shapes
    ("POST", "/collections/docs/vectors", [1, 2], {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors", {}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors", {"vectors": []}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors", {"vectors": {"a": 1}}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V}], "bogus": 1}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V}], "upsert": "yes"}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V, "colour": "red"}]}, {}, 400, "invalid_request"),
    # vectors
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": [1, 2]}]}, {}, 400, "dimension_mismatch"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": [1, 2, 3, 4]}]}, {}, 400, "dimension_mismatch"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": []}]}, {}, 400, "dimension_mismatch"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": [1, "2", 3]}]}, {}, 400, "invalid_vector"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": [1, None, 3]}]}, {}, 400, "invalid_vector"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": "1,2,3"}]}, {}, 400, "invalid_vector"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": [1e39, 0, 0]}]}, {}, 400, "invalid_vector"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": [0, 0, 0]}]}, {}, 400, "invalid_vector"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"id": "ok"}]}, {}, 400, "invalid_vector"),
    # one bad record fails the whole batch
    ("POST", "/collections/docs/vectors", {"vectors": [{"id": "new1", "vector": V}, {"id": "new2", "vector": [1]}]}, {}, 400, "dimension_mismatch"),
    # ids
    ("POST", "/collections/docs/vectors", {"vectors": [{"id": "", "vector": V}]}, {}, 400, "invalid_id"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"id": "x" * 257, "vector": V}]}, {}, 400, "invalid_id"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"id": "a\nb", "vector": V}]}, {}, 400, "invalid_id"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"id": 5, "vector": V}]}, {}, 400, "invalid_id"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"id": "d", "vector": V}, {"id": "d", "vector": V}]}, {}, 400, "duplicate_id"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"id": "new3", "vector": V}, {"id": "a", "vector": V}]}, {}, 409, "vector_exists"),
    # metadata
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V, "metadata": [1]}]}, {}, 400, "invalid_metadata"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V, "metadata": {"$where": 1}}]}, {}, 400, "invalid_metadata"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V, "metadata": {"": 1}}]}, {}, 400, "invalid_metadata"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V, "metadata": {"big": "x" * 70000}}]}, {}, 400, "invalid_metadata"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V, "metadata": {"year": "2020"}}]}, {}, 400, "invalid_metadata"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V, "expires_at": "tomorrow"}]}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V, "expires_at": -5}]}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors", {"vectors": [{"vector": V, "expires_at": 1.5}]}, {}, 400, "invalid_request"),
    # batch limits
    ("POST", "/collections/docs/vectors", big_json(10001), {}, 400, "batch_too_large"),
    # collections
    ("POST", "/collections", {"name": "../etc", "dimension": 3}, {}, 400, "invalid_name"),
    ("POST", "/collections", {"name": "", "dimension": 3}, {}, 400, "invalid_name"),
    ("POST", "/collections", {"name": "a" * 65, "dimension": 3}, {}, 400, "invalid_name"),
    ("POST", "/collections", {"name": "naïve", "dimension": 3}, {}, 400, "invalid_name"),
    ("POST", "/collections", {"name": 7, "dimension": 3}, {}, 400, "invalid_name"),
    ("POST", "/collections", {"name": "x1", "dimension": 0}, {}, 400, "invalid_config"),
    ("POST", "/collections", {"name": "x1", "dimension": 70000}, {}, 400, "invalid_config"),
    ("POST", "/collections", {"name": "x1", "dimension": 3.5}, {}, 400, "invalid_config"),
    ("POST", "/collections", {"name": "x1", "dimension": 3, "distance_metric": "cosinus"}, {}, 400, "invalid_config"),
    ("POST", "/collections", {"name": "x1", "dimension": 3, "indexing_algorithm": "annoy2"}, {}, 400, "invalid_config"),
    ("POST", "/collections", {"name": "x1", "dimension": 3, "config": {"max_wal_size": 1}}, {}, 400, "invalid_config"),
    ("POST", "/collections", {"name": "x1", "dimension": 3, "config": {"quantization": "int4"}}, {}, 400, "invalid_config"),
    ("POST", "/collections", {"name": "x1", "dimension": 3, "filterable_fields": [{"name": "a", "type": "blob"}]}, {}, 400, "invalid_config"),
    ("POST", "/collections", {"name": "docs", "dimension": 3}, {}, 409, "collection_exists"),
    ("PATCH", "/collections/docs", {"dimension": 4}, {}, 400, "invalid_request"),
    ("PATCH", "/collections/docs", {"tags": "x"}, {}, 400, "invalid_config"),
    ("PATCH", "/collections/docs", {"filterable_fields": [{"name": "year", "type": "string"}]}, {}, 400, "invalid_config"),
    ("GET", "/collections/..%2F..%2Fetc", None, {}, 400, "invalid_name"),
    ("GET", "/collections/missing", None, {}, 404, "collection_not_found"),
    ("DELETE", "/collections/missing", None, {}, 404, "collection_not_found"),
    ("POST", "/collections/missing/vectors", {"vectors": [{"vector": V}]}, {}, 404, "collection_not_found"),
    # single vectors
    ("GET", "/collections/docs/vectors/zzz", None, {}, 404, "vector_not_found"),
    ("PUT", "/collections/docs/vectors/zzz", {"metadata": {"a": 1}}, {}, 404, "vector_not_found"),
    ("PUT", "/collections/docs/vectors/a", {}, {}, 400, "invalid_request"),
    ("PUT", "/collections/docs/vectors/a", {"vector": [1]}, {}, 400, "dimension_mismatch"),
    ("DELETE", "/collections/docs/vectors/zzz", None, {}, 404, "vector_not_found"),
    # delete requests
    ("POST", "/collections/docs/vectors/delete", {}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors/delete", {"ids": []}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors/delete", {"ids": ["a"], "filter": {"year": 2020}}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/vectors/delete", {"filter": {}}, {}, 400, "invalid_filter"),
    ("POST", "/collections/docs/vectors/delete", {"filter": {"year": {"$gt": [1]}}}, {}, 400, "invalid_filter"),
    # search
    ("POST", "/collections/docs/search", {"vector": V, "k": 0}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/search", {"vector": V, "k": 10001}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/search", {"vector": V, "k": "5"}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/search", {"k": 5}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/search", {"vector": V, "queries": [V]}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/search", {"queries": []}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/search", {"queries": [V, [1, 2]]}, {}, 400, "dimension_mismatch"),
    ("POST", "/collections/docs/search", {"vector": [1, 2]}, {}, 400, "dimension_mismatch"),
    ("POST", "/collections/docs/search", {"vector": V, "filter": "year=2020"}, {}, 400, "invalid_filter"),
    ("POST", "/collections/docs/search", {"vector": V, "filter": {"$nope": []}}, {}, 400, "invalid_filter"),
    ("POST", "/collections/docs/search", {"vector": V, "filter": {"year": {"$in": 2020}}}, {}, 400, "invalid_filter"),
    ("POST", "/collections/docs/search", {"vector": V, "filter": {"t": {"$regex": "(unclosed"}}}, {}, 400, "invalid_filter"),
    ("POST", "/collections/docs/search", {"vector": V, "filter": {"$and": {"a": 1}}}, {}, 400, "invalid_filter"),
    ("POST", "/collections/docs/search", {"vector": V, "filter": {"a": {"$exists": "yes"}}}, {}, 400, "invalid_filter"),
    ("POST", "/collections/docs/search", {"vector": V, "target_recall": 1.5}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/search", {"vector": V, "threshold": "high"}, {}, 400, "invalid_request"),
    ("POST", "/collections/docs/search", {"vector": V, "include_vectors": 1}, {}, 400, "invalid_request"),
    # routes
    ("GET", "/no/such/route", None, {}, 404, "not_found"),
]


@pytest.mark.parametrize("method,path,body,headers,status,code", CASES, ids=[f"{i:02d}-{c[5]}" for i, c in enumerate(CASES)])
def test_bad_input_is_rejected_without_changes(seeded, method, path, body, headers, status, code):
    before = snapshot(seeded)
    kw = {"headers": dict(headers)}
    if isinstance(body, (str, bytes)):
        kw["data"] = body
        kw["headers"].setdefault("Content-Type", "application/json")
    elif body is not None:
        kw["data"] = json.dumps(body)
        kw["headers"].setdefault("Content-Type", "application/json")
    r = seeded.request(method, path, **kw)
    assert r.status_code == status, r.text
    envelope = r.json()
    assert envelope["success"] is False and envelope["data"] is None
    assert envelope["error"] == code, envelope
    assert isinstance(envelope["message"], str) and envelope["message"]
    assert snapshot(seeded) == before


def test_payload_too_large(tmp_path):
    s = Server(str(tmp_path), extra=["--max-body-mb", "1"])
    try:
        s.ok("POST", "/collections", json={"name": "c", "dimension": 3})
        r = s.request("POST", "/collections/c/vectors", data=big_json(40000), headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
        assert s.ok("GET", "/collections/c")["vector_count"] == 0
    finally:
        s.stop()


def test_hostile_and_unicode_ids_round_trip(seeded):
    import urllib.parse
    for vid in ["../../etc/passwd", "ünïcödé-🙂", "a/b?c#d", "%2F", " spaced "]:
        seeded.ok("POST", "/collections/docs/vectors", json={"vectors": [{"id": vid, "vector": V}], "upsert": True})
        got = seeded.ok("GET", "/collections/docs/vectors/" + urllib.parse.quote(vid, safe=""))
        assert got["id"] == vid
        seeded.ok("DELETE", "/collections/docs/vectors/" + urllib.parse.quote(vid, safe=""))


def test_seed_shaped_requests_are_accepted(server):
    """The seed's single-record insert body and its `filters` search key are
    aliases; sending both shapes at once is a 400, and nothing is written."""
    server.ok("POST", "/collections", json={"name": "seed", "dimension": 2, "distance_metric": "euclidean"})
    one = server.ok("POST", "/collections/seed/vectors", json={"id": "a", "vector": [1, 0], "metadata": {"g": "x"}})
    assert one == {"ids": ["a"], "count": 1}
    assert server.ok("POST", "/collections/seed/vectors", json={"vector": [0, 1], "metadata": {"g": "y"}})["count"] == 1
    assert server.ok("POST", "/collections/seed/vectors", json={"id": "a", "vector": [2, 0], "upsert": True})["ids"] == ["a"]
    hits = server.ok("POST", "/collections/seed/search", json={"vector": [1, 0], "k": 5, "filters": {"g": "y"}})["results"]
    assert len(hits) == 1 and hits[0]["metadata"] == {"g": "y"}
    for body, path in [({"vectors": [{"vector": [1, 1]}], "vector": [1, 1]}, "vectors"),
                       ({"vector": [1, 0], "filter": {"g": "x"}, "filters": {"g": "y"}}, "search")]:
        r = server.request("POST", f"/collections/seed/{path}", json=body)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
    assert server.ok("GET", "/collections/seed")["vector_count"] == 2
    assert server.ok("GET", "/collections/seed/vectors/a")["vector"] == [2, 0]
