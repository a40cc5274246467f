"""gRPC on the seed's proto: a grpcio client generated from proto/proximadb.proto
by grpcio-tools drives every RPC against a running server; what one transport
writes the other reads back identically; malformed, oversize and wrongly typed
calls get status codes with the stable error code, and change nothing."""
import importlib
import io
import json
import os
import sys
import tempfile

import fastavro
import grpc
import numpy as np
import pytest
import requests
from grpc_tools import protoc

from conftest import ROOT, Server, create_key

_OUT = tempfile.mkdtemp(prefix="proximadb-grpc-stubs-")
assert protoc.main(["protoc", f"-I{os.path.join(ROOT, 'proto')}", f"--python_out={_OUT}", f"--grpc_python_out={_OUT}",
                    os.path.join(ROOT, "proto", "proximadb.proto")]) == 0, "grpcio-tools could not compile proto/proximadb.proto"
sys.path.insert(0, _OUT)
pb = importlib.import_module("proximadb_pb2")
pb_grpc = importlib.import_module("proximadb_pb2_grpc")

with open(os.path.join(ROOT, "docs", "schemas", "vector_batch.avsc")) as f:
    BATCH = fastavro.parse_schema(json.load(f))


def avro(records):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, BATCH, [{"id": r.get("id"), "vector": [float(x) for x in r["vector"]],
                                             "metadata": json.dumps(r["metadata"]) if "metadata" in r else None,
                                             "expires_at": r.get("expires_at")} for r in records])
    return out.getvalue()


@pytest.fixture
def grpc_server(data_dir):
    s = Server(data_dir, grpc=True)
    yield s
    s.stop()


def stub_for(server, api_key=None):
    channel = grpc.insecure_channel(server.grpc_target, options=[("grpc.max_send_message_length", 256 << 20)])
    stub = pb_grpc.ProximaDbStub(channel)
    metadata = [("authorization", f"Bearer {api_key}")] if api_key else None
    return stub, metadata, channel


def error_of(call):
    with pytest.raises(grpc.RpcError) as e:
        call()
    trailers = dict(e.value.trailing_metadata() or ())
    return e.value.code(), e.value.details(), trailers.get("proximadb-error-code")


def create(stub, name, dim=4, metric=pb.EUCLIDEAN, **kw):
    config = pb.CollectionConfig(name=name, dimension=dim, distance_metric=metric, **kw)
    return stub.CollectionOperation(pb.CollectionRequest(operation=pb.COLLECTION_CREATE, collection_config=config), timeout=30)


def test_every_rpc_and_both_transports_agree(grpc_server):
    stub, _, channel = stub_for(grpc_server)
    s = grpc_server
    health = stub.Health(pb.HealthRequest(), timeout=10)
    assert health.status == "ok" and health.version and health.memory_usage_bytes > 0

    made = create(stub, "g", dim=8, metric=pb.COSINE, indexing_algorithm=pb.HNSW,
                  filterable_columns=[pb.FilterableColumnSpec(name="year", data_type=pb.FILTERABLE_INTEGER)],
                  indexing_config={"description": json.dumps("made over gRPC")})
    assert made.success and made.collection.config.name == "g" and made.collection.config.dimension == 8
    rest = s.ok("GET", "/collections/g")
    assert rest["distance_metric"] == "cosine" and rest["indexing_algorithm"] == "hnsw" and rest["description"] == "made over gRPC"
    assert rest["filterable_fields"] == [{"name": "year", "type": "integer"}]

    # Written over gRPC (Avro payload), read over REST, bit for bit.
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((200, 8)).astype(np.float32)
    records = [{"id": f"g{i}", "vector": vecs[i], "metadata": {"year": 2000 + i % 20, "name": f"n{i}é"}} for i in range(200)]
    ins = stub.VectorInsert(pb.VectorInsertRequest(collection_id="g", vectors_avro_payload=avro(records)), timeout=30)
    assert ins.success and list(ins.vector_ids) == [f"g{i}" for i in range(200)] and ins.metrics.successful_count == 200
    got = s.ok("GET", "/collections/g/vectors/g7")
    assert np.array_equal(np.array(got["vector"], dtype=np.float32), vecs[7]) and got["metadata"] == records[7]["metadata"]

    # Written over REST, read over gRPC: the search returns the vector and metadata as stored.
    v = rng.standard_normal(8).astype(np.float32)
    s.ok("POST", "/collections/g/vectors", json={"vectors": [{"id": "r1", "vector": v.tolist(), "metadata": {"year": 1999, "tags": ["a"]}}]})
    res = stub.VectorSearch(pb.VectorSearchRequest(
        collection_id="g", queries=[pb.SearchQuery(vector=v.tolist())], top_k=3,
        include_fields=pb.IncludeFields(vector=True, metadata=True, score=True, rank=True)), timeout=30)
    top = res.compact_results.results[0]
    assert top.id == "r1" and top.rank == 1 and np.array_equal(np.array(top.vector, dtype=np.float32), v)
    assert {k: json.loads(x) for k, x in top.metadata.items()} == {"year": 1999, "tags": ["a"]}
    rest_hits = s.ok("POST", "/collections/g/search", json={"vector": v.tolist(), "k": 3})["results"]
    assert [h["id"] for h in rest_hits] == [r.id for r in res.compact_results.results]
    assert [round(h["score"], 5) for h in rest_hits] == [round(r.score, 5) for r in res.compact_results.results]

    # Several queries with different filters (equality map and REST's language), by vector and by id.
    res = stub.VectorSearch(pb.VectorSearchRequest(collection_id="g", top_k=5, queries=[
        pb.SearchQuery(vector=vecs[0].tolist(), metadata_filter={"year": "2003"}),
        pb.SearchQuery(id="g15", filter_json=json.dumps({"year": {"$gte": 2015}})),
        pb.SearchQuery(vector=vecs[1].tolist())]), timeout=30)
    assert len(res.query_results) == 3
    assert all(json.loads(r.metadata["year"]) == 2003 for r in res.query_results[0].results) and res.query_results[0].results
    assert res.query_results[1].results[0].id == "g15" and all(json.loads(r.metadata["year"]) >= 2015 for r in res.query_results[1].results)
    assert res.query_results[2].results[0].id == "g1"
    exact = stub.VectorSearch(pb.VectorSearchRequest(collection_id="g", top_k=1, queries=[pb.SearchQuery(vector=vecs[5].tolist())],
                                                     search_params={"exact": "true"}), timeout=30)
    assert exact.compact_results.results[0].id == "g5"

    # Upsert, update and delete over gRPC, checked over REST.
    up = stub.VectorInsert(pb.VectorInsertRequest(collection_id="g", upsert_mode=True,
                                                  vectors_avro_payload=avro([{"id": "g1", "vector": np.ones(8), "metadata": {"year": 1}}])))
    assert up.operation == pb.VECTOR_UPSERT and s.ok("GET", "/collections/g/vectors/g1")["metadata"] == {"year": 1}
    upd = stub.VectorMutation(pb.VectorMutationRequest(collection_id="g", operation=pb.MUTATION_UPDATE,
                                                       selector=pb.VectorSelector(ids=["g2", "g3"]),
                                                       updates=pb.VectorUpdates(metadata={"year": "1900"})), timeout=30)
    assert upd.success and list(upd.vector_ids) == ["g2", "g3"]
    assert s.ok("GET", "/collections/g/vectors/g3")["metadata"] == {"year": 1900}
    assert np.array_equal(np.array(s.ok("GET", "/collections/g/vectors/g3")["vector"], dtype=np.float32), vecs[3])
    gone = stub.VectorMutation(pb.VectorMutationRequest(collection_id="g", operation=pb.MUTATION_DELETE,
                                                        selector=pb.VectorSelector(ids=["g4", "missing"])))
    assert gone.metrics.successful_count == 1 and s.request("GET", "/collections/g/vectors/g4").status_code == 404
    gone = stub.VectorMutation(pb.VectorMutationRequest(collection_id="g", operation=pb.MUTATION_DELETE,
                                                        selector=pb.VectorSelector(metadata_filter={"year": "1900"})))
    assert gone.metrics.successful_count == 2
    assert s.ok("GET", "/collections/g")["vector_count"] == 201 - 1 - 2

    got = stub.CollectionOperation(pb.CollectionRequest(operation=pb.COLLECTION_GET, collection_id="g"))
    assert got.collection.stats.vector_count == 198 and got.collection.config.distance_metric == pb.COSINE
    upd = stub.CollectionOperation(pb.CollectionRequest(operation=pb.COLLECTION_UPDATE, collection_id="g",
                                                        collection_config=pb.CollectionConfig(indexing_config={"ef_search": "80"})))
    assert upd.success and s.ok("GET", "/collections/g")["config"]["ef_search"] == 80
    listed = stub.CollectionOperation(pb.CollectionRequest(operation=pb.COLLECTION_LIST))
    assert [c.config.name for c in listed.collections] == ["g"] and listed.total_count == 1

    metrics = stub.GetMetrics(pb.MetricsRequest(metric_names=["proximadb_"]), timeout=10)
    assert metrics.metrics and all(k.startswith("proximadb_") for k in metrics.metrics)
    assert any('route="ProximaDb/VectorInsert"' in k for k in metrics.metrics), sorted(metrics.metrics)[:20]

    dropped = stub.CollectionOperation(pb.CollectionRequest(operation=pb.COLLECTION_DELETE, collection_id="g"))
    assert dropped.success and s.request("GET", "/collections/g").status_code == 404
    channel.close()


def test_bad_calls_get_status_codes_and_change_nothing(grpc_server):
    stub, _, channel = stub_for(grpc_server)
    s = grpc_server
    create(stub, "b")
    stub.VectorInsert(pb.VectorInsertRequest(collection_id="b", vectors_avro_payload=avro([{"id": "keep", "vector": [1, 2, 3, 4]}])))
    INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
    cases = [
        (lambda: stub.VectorInsert(pb.VectorInsertRequest(collection_id="b", vectors_avro_payload=b"\x02garbage")), INVALID, "invalid_avro"),
        (lambda: stub.VectorInsert(pb.VectorInsertRequest(collection_id="b", vectors_avro_payload=avro([{"id": "x", "vector": [1, 2]}]))),
         INVALID, "dimension_mismatch"),
        (lambda: stub.VectorInsert(pb.VectorInsertRequest(collection_id="b", vectors_avro_payload=avro([{"id": "x", "vector": [1, float("nan"), 3, 4]}]))),
         INVALID, "invalid_vector"),
        (lambda: stub.VectorInsert(pb.VectorInsertRequest(collection_id="b", vectors_avro_payload=avro([{"id": "keep", "vector": [1, 2, 3, 4]}]))),
         grpc.StatusCode.ALREADY_EXISTS, "vector_exists"),
        (lambda: stub.VectorInsert(pb.VectorInsertRequest(collection_id="../etc", vectors_avro_payload=avro([{"vector": [1, 2, 3, 4]}]))),
         INVALID, "invalid_name"),
        (lambda: stub.VectorInsert(pb.VectorInsertRequest(collection_id="nope", vectors_avro_payload=avro([{"vector": [1, 2, 3, 4]}]))),
         NOT_FOUND, "collection_not_found"),
        (lambda: stub.VectorInsert(pb.VectorInsertRequest(vectors_avro_payload=avro([{"vector": [1, 2, 3, 4]}]))), INVALID, "invalid_name"),
        (lambda: stub.CollectionOperation(pb.CollectionRequest(operation=pb.COLLECTION_CREATE)), INVALID, "invalid_request"),
        (lambda: stub.CollectionOperation(pb.CollectionRequest(operation=99)), INVALID, "invalid_request"),
        (lambda: create(stub, "c", metric=42), INVALID, "invalid_config"),
        (lambda: create(stub, "c", dim=0), INVALID, "invalid_config"),
        (lambda: create(stub, "c", indexing_algorithm=pb.ANNOY), INVALID, "invalid_config"),
        (lambda: create(stub, "b"), grpc.StatusCode.ALREADY_EXISTS, "collection_exists"),
        (lambda: stub.CollectionOperation(pb.CollectionRequest(operation=pb.COLLECTION_GET)), INVALID, "invalid_request"),
        (lambda: stub.VectorSearch(pb.VectorSearchRequest(collection_id="b", top_k=3)), INVALID, "invalid_request"),
        (lambda: stub.VectorSearch(pb.VectorSearchRequest(collection_id="b", top_k=-1, queries=[pb.SearchQuery(vector=[1, 2, 3, 4])])),
         INVALID, "invalid_request"),
        (lambda: stub.VectorSearch(pb.VectorSearchRequest(collection_id="b", queries=[pb.SearchQuery(vector=[1, 2, 3])])),
         INVALID, "dimension_mismatch"),
        (lambda: stub.VectorSearch(pb.VectorSearchRequest(collection_id="b", queries=[pb.SearchQuery(vector=[1, 2, 3, 4], filter_json='{"x": {"$bogus": 1}}')])),
         INVALID, "invalid_filter"),
        (lambda: stub.VectorSearch(pb.VectorSearchRequest(collection_id="b", queries=[pb.SearchQuery(vector=[1, 2, 3, 4], metadata_filter={"x": "not json"})])),
         INVALID, "invalid_request"),
        (lambda: stub.VectorSearch(pb.VectorSearchRequest(collection_id="b", queries=[pb.SearchQuery(id="missing")])),
         NOT_FOUND, "vector_not_found"),
        (lambda: stub.VectorSearch(pb.VectorSearchRequest(collection_id="b", distance_metric_override=pb.COSINE,
                                                          queries=[pb.SearchQuery(vector=[1, 2, 3, 4])])), INVALID, "invalid_request"),
        (lambda: stub.VectorMutation(pb.VectorMutationRequest(collection_id="b", operation=pb.MUTATION_UPDATE,
                                                              selector=pb.VectorSelector(ids=["keep"]))), INVALID, "invalid_request"),
        (lambda: stub.VectorMutation(pb.VectorMutationRequest(collection_id="b", operation=pb.MUTATION_UPDATE,
                                                              selector=pb.VectorSelector(ids=["missing"]),
                                                              updates=pb.VectorUpdates(metadata={"a": "1"}))), NOT_FOUND, "vector_not_found"),
        (lambda: stub.VectorMutation(pb.VectorMutationRequest(collection_id="b", operation=7)), INVALID, "invalid_request"),
        (lambda: stub.VectorMutation(pb.VectorMutationRequest(collection_id="b", operation=pb.MUTATION_DELETE)), INVALID, "invalid_request"),
    ]
    for call, code, stable in cases:
        got_code, details, trailer = error_of(call)
        assert (got_code, trailer) == (code, stable), (stable, got_code, details)
        assert details.startswith(stable + ":"), details
    got_code, _, _ = error_of(lambda: stub.CollectionOperation(pb.CollectionRequest(operation=pb.COLLECTION_MIGRATE, collection_id="b")))
    assert got_code == grpc.StatusCode.UNIMPLEMENTED

    # Bytes that are not a protobuf message at all, and a message past the size limit (64 MiB).
    raw = channel.unary_unary("/proximadb.ProximaDb/VectorInsert", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    code, _, _ = error_of(lambda: raw(b"\xff\xff\xff\xff\xff\x0f", timeout=10))
    assert code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT), code
    code, _, _ = error_of(lambda: stub.VectorInsert(pb.VectorInsertRequest(collection_id="b", vectors_avro_payload=b"\x00" * (65 << 20)), timeout=60))
    # grpc-swift resets the stream as soon as the declared length passes the limit, while the client
    # still sends: grpcio reports that as CANCELLED (or RESOURCE_EXHAUSTED when the status wins the race).
    assert code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED), code
    # A deadline the call cannot meet.
    code, _, _ = error_of(lambda: stub.VectorSearch(pb.VectorSearchRequest(collection_id="b", queries=[pb.SearchQuery(vector=[1, 2, 3, 4])]),
                                                    timeout=0.000001))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED

    assert stub.Health(pb.HealthRequest()).status == "ok"  # still serving
    assert s.ok("GET", "/collections/b")["vector_count"] == 1
    assert [c["name"] for c in s.ok("GET", "/collections")] == ["b"]
    channel.close()


def test_grpc_honours_credentials_and_roles(data_dir):
    admin = create_key(data_dir, role="admin")
    reader = create_key(data_dir, role="read", extra=["--collections", "docs"])
    s = Server(data_dir, grpc=True)
    try:
        stub, _, channel = stub_for(s)
        code, _, stable = error_of(lambda: stub.CollectionOperation(pb.CollectionRequest(operation=pb.COLLECTION_LIST)))
        assert (code, stable) == (grpc.StatusCode.UNAUTHENTICATED, "unauthorized")
        code, _, stable = error_of(lambda: stub.CollectionOperation(pb.CollectionRequest(operation=pb.COLLECTION_LIST),
                                                                    metadata=[("authorization", "Bearer pdb_bogus")]))
        assert (code, stable) == (grpc.StatusCode.UNAUTHENTICATED, "unauthorized")
        as_admin = [("authorization", f"Bearer {admin}")]
        create_req = pb.CollectionRequest(operation=pb.COLLECTION_CREATE, collection_config=pb.CollectionConfig(name="docs", dimension=2))
        assert stub.CollectionOperation(create_req, metadata=as_admin).success
        as_reader = [("x-api-key", reader)]
        search = pb.VectorSearchRequest(collection_id="docs", queries=[pb.SearchQuery(vector=[1, 0])])
        assert stub.VectorSearch(search, metadata=as_reader).success
        code, _, stable = error_of(lambda: stub.VectorInsert(pb.VectorInsertRequest(collection_id="docs", vectors_avro_payload=avro([{"vector": [1, 0]}])),
                                                             metadata=as_reader))
        assert (code, stable) == (grpc.StatusCode.PERMISSION_DENIED, "forbidden")
        assert s.request("GET", "/collections/docs", headers={"Authorization": f"Bearer {admin}"}).json()["data"]["vector_count"] == 0
        channel.close()
    finally:
        s.stop()
