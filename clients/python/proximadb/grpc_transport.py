"""Writes and searches over gRPC (the server's proto/proximadb.proto), used
when ``grpcio`` is installed and the server says (``/health``'s ``grpc_port``)
that it listens for gRPC. Errors and retries behave as over REST: the stable
code travels in the ``proximadb-error-code`` trailer."""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict, List, Optional, Sequence
from urllib.parse import urlparse

from .errors import ProximaDBError, error_for

try:  # optional: without grpcio (or with a protobuf runtime too old for the stubs) the client speaks REST
    import grpc

    from ._grpc import proximadb_pb2 as pb
    from ._grpc import proximadb_pb2_grpc as pb_grpc
except Exception:  # noqa: BLE001
    grpc = None  # type: ignore[assignment]

AVAILABLE = grpc is not None

# gRPC status → the HTTP status REST would answer, for the same exception classes.
_HTTP = {"INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
         "ALREADY_EXISTS": 409, "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503,
         "DEADLINE_EXCEEDED": 504, "UNIMPLEMENTED": 501}


class GRPCTransport:
    def __init__(self, url: str, port: int, api_key: Optional[str], timeout: float, max_retries: int,
                 backoff: Callable[[int, Optional[str]], float]):
        parsed = urlparse(url)
        target = f"{parsed.hostname}:{port}"
        options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
        if parsed.scheme == "https":
            self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(), options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self.stub = pb_grpc.ProximaDbStub(self.channel)
        self.metadata = [("authorization", f"Bearer {api_key}")] if api_key else None
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff

    def close(self) -> None:
        self.channel.close()

    def _call(self, method, request):
        attempt = 0
        while True:
            try:
                return method(request, timeout=self.timeout, metadata=self.metadata)
            except grpc.RpcError as e:
                status = e.code().name if e.code() else "UNKNOWN"
                trailers = dict(e.trailing_metadata() or ())
                retry_after = trailers.get("retry-after")
                if status in ("RESOURCE_EXHAUSTED", "UNAVAILABLE") and attempt < self.max_retries:
                    attempt += 1
                    time.sleep(self.backoff(attempt, retry_after))
                    continue
                code = trailers.get("proximadb-error-code") or status.lower()
                details = e.details() or ""
                message = details[len(code) + 2:] if details.startswith(code + ": ") else details
                raise error_for(_HTTP.get(status, 500), code, message,
                                float(retry_after) if retry_after and retry_after.isdigit() else None) from None

    def insert(self, collection: str, payload: bytes, upsert: bool) -> List[str]:
        r = self._call(self.stub.VectorInsert, pb.VectorInsertRequest(collection_id=collection, upsert_mode=upsert,
                                                                      vectors_avro_payload=payload))
        return list(r.vector_ids)

    def search(self, collection: str, queries: Sequence[Sequence[float]], k: int, filter: Optional[Dict[str, Any]],
               include_vectors: bool, include_metadata: bool, params: Dict[str, Any]) -> List[List[dict]]:
        filter_json = json.dumps(filter) if filter is not None else ""
        request = pb.VectorSearchRequest(
            collection_id=collection, top_k=k,
            queries=[pb.SearchQuery(vector=list(q), filter_json=filter_json) for q in queries],
            search_params={key: json.dumps(value) for key, value in params.items()},
            include_fields=pb.IncludeFields(vector=include_vectors, metadata=include_metadata, score=True, rank=True))
        r = self._call(self.stub.VectorSearch, request)
        out = []
        for results in r.query_results:
            hits = []
            for h in results.results:
                hit = {"id": h.id, "score": h.score, "distance": h.distance, "rank": h.rank}
                if include_metadata:
                    hit["metadata"] = {key: json.loads(value) for key, value in h.metadata.items()}
                if include_vectors:
                    hit["vector"] = list(h.vector)
                hits.append(hit)
            out.append(hits)
        return out


def connect(url: str, health: Dict[str, Any], api_key: Optional[str], timeout: float, max_retries: int,
            backoff: Callable[[int, Optional[str]], float]) -> Optional[GRPCTransport]:
    """A transport to the gRPC port the server advertises, or None if it has none."""
    port = health.get("grpc_port")
    if not AVAILABLE or not port:
        return None
    return GRPCTransport(url, int(port), api_key, timeout, max_retries, backoff)


def require() -> None:
    if not AVAILABLE:
        raise ProximaDBError("grpc_unavailable", "transport='grpc' needs grpcio and protobuf: pip install \"proximadb[grpc]\"")
