"""A small client over ProximaDB's REST API, with writes and searches over
gRPC when ``grpcio`` is installed and the server offers it."""
from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union
from urllib.parse import quote

import requests

from . import avro, grpc_transport
from .errors import InvalidRequestError, ProximaDBError, error_for

Vector = Sequence[float]
Metadata = Mapping[str, Any]


@dataclass
class Hit:
    """One search result: ``score`` is larger-is-better for every metric, ``distance`` the metric's own value."""
    id: str
    score: float
    distance: float
    rank: int
    metadata: Optional[Dict[str, Any]] = None
    vector: Optional[List[float]] = None


@dataclass
class Record:
    """A stored record as the server returns it."""
    id: str
    vector: List[float]
    metadata: Dict[str, Any] = field(default_factory=dict)
    timestamp: Optional[str] = None
    expires_at: Optional[str] = None
    version: Optional[int] = None


def _floats(v: Any) -> List[float]:
    """One vector as plain floats, from a list or a 1-d numpy array (numpy scalars included)."""
    if hasattr(v, "tolist"):
        v = v.tolist()
    return [float(x) for x in v]


def _rows(vectors: Any) -> List[List[float]]:
    """Lists of floats from a list of vectors or a 2-d numpy array."""
    return [_floats(v) for v in vectors]


def _is_matrix(vector: Any) -> bool:
    """Whether ``vector`` is several queries (2-d) rather than one."""
    shape = getattr(vector, "shape", None)
    if shape is not None:
        return len(shape) == 2
    if len(vector) == 0:
        return False
    first = vector[0]
    return isinstance(first, (list, tuple)) or getattr(first, "ndim", 0) >= 1


class Client:
    """A ProximaDB server at ``url`` (``http://127.0.0.1:5678`` by default).

    ``api_key`` is sent as ``Authorization: Bearer``. Answers 429 and 503 are
    retried up to ``max_retries`` times, waiting what ``Retry-After`` says
    (else backing off exponentially); other errors raise a ``ProximaDBError``
    subclass carrying the server's code.
    """

    def __init__(self, url: str = "http://127.0.0.1:5678", api_key: Optional[str] = None, timeout: float = 60.0,
                 max_retries: int = 5, session: Optional[requests.Session] = None, transport: str = "auto"):
        if transport not in ("auto", "grpc", "rest"):
            raise ValueError("transport is 'auto', 'grpc' or 'rest'")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.session = session or requests.Session()
        self.api_key = api_key
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        # Writes and searches go over gRPC when grpcio is installed and the server offers it
        # ("auto"), always ("grpc"), or never ("rest"); everything else is REST.
        self.transport = transport
        self._grpc: Any = None
        self._grpc_resolved = transport == "rest"
        if transport == "grpc":
            grpc_transport.require()

    @property
    def uses_grpc(self) -> bool:
        """Whether writes and searches go over gRPC (asks the server once)."""
        return self._grpc_channel() is not None

    def _grpc_channel(self) -> Any:
        if not self._grpc_resolved:
            self._grpc = grpc_transport.connect(self.url, self.health(), self.api_key, self.timeout, self.max_retries, self._backoff)
            if self._grpc is None and self.transport == "grpc":
                raise ProximaDBError("grpc_unavailable", f"{self.url} does not offer gRPC (serve --grpc-port)")
            self._grpc_resolved = True
        return self._grpc

    def close(self) -> None:
        if self._grpc is not None:
            self._grpc.close()
        self.session.close()

    # -- collections

    def create_collection(self, name: str, dimension: int, metric: str = "cosine", index: Optional[str] = None,
                          filterable_fields: Optional[Sequence[Mapping[str, str]]] = None,
                          description: Optional[str] = None, **config: Any) -> "Collection":
        """Creates a collection; ``config`` takes the server's per-collection
        settings (``ef_search``, ``n_probes``, ``default_ttl_seconds`` …)."""
        body: Dict[str, Any] = {"name": name, "dimension": dimension, "distance_metric": metric}
        if index:
            body["indexing_algorithm"] = index
        if filterable_fields:
            body["filterable_fields"] = list(filterable_fields)
        if description is not None:
            body["description"] = description
        if config:
            body["config"] = config
        self._request("POST", "/collections", body)
        return Collection(self, name)

    def collection(self, name: str) -> "Collection":
        """A handle on an existing collection (no request is made)."""
        return Collection(self, name)

    def get_collection(self, name: str) -> Dict[str, Any]:
        """The collection's configuration and counts (``vector_count`` …)."""
        return self._request("GET", f"/collections/{quote(name, safe='')}")

    def list_collections(self) -> List[Dict[str, Any]]:
        return self._request("GET", "/collections")

    def delete_collection(self, name: str) -> None:
        self._request("DELETE", f"/collections/{quote(name, safe='')}")

    def health(self) -> Dict[str, Any]:
        return self._request("GET", "/health")

    # -- transport

    def _request(self, method: str, path: str, body: Any = None, params: Optional[Mapping[str, str]] = None,
                 raw: Optional[tuple] = None) -> Any:
        """One call, retried on 429 and 503; ``body`` is sent as JSON, ``raw`` as (content type, bytes)."""
        data = None
        headers = None
        if raw is not None:
            headers = {"Content-Type": raw[0]}
            data = raw[1]
        elif body is not None:
            try:
                data = json.dumps(body, allow_nan=False).encode()
            except ValueError:
                raise InvalidRequestError("invalid_vector", "NaN and infinite values cannot be sent", 400) from None
            headers = {"Content-Type": "application/json"}
        attempt = 0
        while True:
            try:
                r = self.session.request(method, self.url + path, data=data, headers=headers, params=params, timeout=self.timeout)
            except requests.ConnectionError as e:
                if attempt >= self.max_retries:
                    raise ProximaDBError("unavailable", f"cannot reach {self.url}: {e}") from e
                attempt += 1
                time.sleep(self._backoff(attempt, None))
                continue
            if r.status_code in (429, 503) and attempt < self.max_retries:
                attempt += 1
                time.sleep(self._backoff(attempt, r.headers.get("Retry-After")))
                continue
            try:
                envelope = r.json()
            except ValueError:
                raise error_for(r.status_code, "invalid_response", r.text[:200]) from None
            if r.ok and envelope.get("success", False):
                return envelope.get("data")
            retry_after = r.headers.get("Retry-After")
            raise error_for(r.status_code, envelope.get("error") or "error", envelope.get("message") or "",
                            float(retry_after) if retry_after and retry_after.isdigit() else None)

    @staticmethod
    def _backoff(attempt: int, retry_after: Optional[str]) -> float:
        if retry_after:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                pass
        return min(10.0, 0.2 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


class Collection:
    """The vectors of one collection."""

    #: Largest batch of records per write request, and of queries per search request.
    batch_size = 1000
    query_batch = 100

    def __init__(self, client: Client, name: str):
        self.client = client
        self.name = name
        self._path = f"/collections/{quote(name, safe='')}"

    def __repr__(self) -> str:
        return f"Collection({self.name!r})"

    def info(self) -> Dict[str, Any]:
        return self.client.get_collection(self.name)

    def count(self) -> int:
        return int(self.info()["vector_count"])

    def upsert(self, ids: Optional[Sequence[str]], vectors: Any, metadata: Optional[Sequence[Optional[Metadata]]] = None,
               batch_size: Optional[int] = None, progress: Optional[bool] = None) -> List[str]:
        """Writes records, replacing those whose id exists; answers their ids
        (generated where ``ids`` is None). ``vectors``: lists or a 2-d numpy
        array. Long uploads show a progress bar on a terminal (``progress``
        forces it on or off)."""
        return self._write(ids, vectors, metadata, upsert=True, batch_size=batch_size, progress=progress)

    def insert(self, ids: Optional[Sequence[str]], vectors: Any, metadata: Optional[Sequence[Optional[Metadata]]] = None,
               batch_size: Optional[int] = None, progress: Optional[bool] = None) -> List[str]:
        """As ``upsert``, but an existing id is a ``ConflictError`` (its batch is not written)."""
        return self._write(ids, vectors, metadata, upsert=False, batch_size=batch_size, progress=progress)

    def _write(self, ids, vectors, metadata, upsert: bool, batch_size: Optional[int], progress: Optional[bool]) -> List[str]:
        # Sent as the binary batch (application/avro): raw float32s, no number formatting or parsing.
        rows = avro.float32_rows(vectors)
        if ids is not None and len(ids) != len(rows):
            raise ValueError(f"{len(ids)} ids for {len(rows)} vectors")
        if metadata is not None and len(metadata) != len(rows):
            raise ValueError(f"{len(metadata)} metadata for {len(rows)} vectors")
        size = batch_size or self.batch_size
        batches = range(0, len(rows), size)
        bar = _Progress(len(rows), enabled=progress if progress is not None else len(batches) > 10 and sys.stderr.isatty())
        written: List[str] = []
        for lo in batches:
            hi = min(len(rows), lo + size)
            try:
                body = avro.encode_batch(ids[lo:hi] if ids is not None else None, rows[lo:hi],
                                         metadata[lo:hi] if metadata is not None else None)
            except ValueError:
                raise InvalidRequestError("invalid_metadata", "NaN and infinite values cannot be sent in metadata", 400) from None
            channel = self.client._grpc_channel()
            if channel is not None:
                written += channel.insert(self.name, body, upsert)
            else:
                data = self.client._request("POST", self._path + "/vectors", raw=(avro.CONTENT_TYPE, body),
                                            params={"upsert": "true"} if upsert else None)
                written += data["ids"]
            bar.advance(hi - lo)
        bar.close()
        return written

    def search(self, vector: Any, k: int = 10, filter: Optional[Mapping[str, Any]] = None, include_vectors: bool = False,
               include_metadata: bool = True, exact: bool = False, target_recall: Optional[float] = None,
               consistency: Optional[str] = None) -> Union[List[Hit], List[List[Hit]]]:
        """Nearest records to ``vector`` (a list of hits), or to each row of a
        2-d ``vector`` (a list of lists). ``filter`` is Mongo-style
        (``{"genre": "news", "year": {"$gte": 2020}}``)."""
        if not isinstance(k, int) or k < 1:  # gRPC's proto3 would read 0 as "unset"
            raise InvalidRequestError("invalid_request", "k must be a positive integer", 400)
        batch = _is_matrix(vector)
        queries = _rows(vector) if batch else [_floats(vector)]
        options: Dict[str, Any] = {"k": k, "include_vectors": include_vectors, "include_metadata": include_metadata}
        if filter is not None:
            options["filter"] = dict(filter)
        if exact:
            options["exact"] = True
        if target_recall is not None:
            options["target_recall"] = target_recall
        if consistency is not None:
            options["consistency"] = consistency
        channel = self.client._grpc_channel()
        out: List[List[Hit]] = []
        for lo in range(0, len(queries), self.query_batch):
            chunk = queries[lo:lo + self.query_batch]
            if channel is not None:
                params = {key: options[key] for key in ("exact", "target_recall", "consistency") if key in options}
                results = channel.search(self.name, chunk, k, options.get("filter"), include_vectors, include_metadata, params)
            else:
                results = self.client._request("POST", self._path + "/search", {"queries": chunk, **options})["results"]
            out += [[Hit(id=h["id"], score=h["score"], distance=h["distance"], rank=h["rank"], metadata=h.get("metadata"),
                         vector=h.get("vector")) for h in hits] for hits in results]
        return out if batch else out[0]

    def get(self, ids: Union[str, Sequence[str]]) -> Union[Record, List[Optional[Record]]]:
        """One record by id (``NotFoundError`` if absent), or for a list of ids
        a list of records with None where one is absent."""
        from .errors import NotFoundError

        def one(i: str) -> Record:
            d = self.client._request("GET", f"{self._path}/vectors/{quote(str(i), safe='')}")
            return Record(id=d["id"], vector=d["vector"], metadata=d.get("metadata") or {}, timestamp=d.get("timestamp"),
                          expires_at=d.get("expires_at"), version=d.get("version"))

        if isinstance(ids, str):
            return one(ids)
        records: List[Optional[Record]] = []
        for i in ids:
            try:
                records.append(one(i))
            except NotFoundError:
                records.append(None)
        return records

    def delete(self, ids: Optional[Iterable[str]] = None, filter: Optional[Mapping[str, Any]] = None) -> int:
        """Deletes by ids or by filter (not both); answers how many records went."""
        if (ids is None) == (filter is None):
            raise ValueError("pass ids or filter")
        body = {"ids": [str(i) for i in ids]} if ids is not None else {"filter": dict(filter)}
        return int(self.client._request("POST", self._path + "/vectors/delete", body)["deleted"])

    def flush(self, wait: bool = True) -> Dict[str, Any]:
        """Turns the unflushed WAL into an indexed segment; with ``wait``, answers what the job did."""
        return self.client._request("POST", self._path + "/flush", params={"wait": "true" if wait else "false"})


class _Progress:
    """A one-line progress bar on standard error."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.enabled, self.started = total, 0, enabled, time.time()

    def advance(self, n: int) -> None:
        self.done += n
        if self.enabled:
            width = 30
            filled = int(width * self.done / max(1, self.total))
            rate = self.done / max(1e-9, time.time() - self.started)
            sys.stderr.write(f"\rupserting [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} ({rate:,.0f}/s)")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
