"""A LangChain vector store over a ProximaDB collection.

    from langchain_core.embeddings import Embeddings
    from proximadb.langchain import ProximaDBVectorStore

    store = ProximaDBVectorStore(embedding=my_embeddings, collection_name="docs", url="http://127.0.0.1:5678")
    store.add_texts(["a sentence", "another"], metadatas=[{"lang": "en"}, {"lang": "fr"}])
    store.similarity_search_with_relevance_scores("a query", k=2, filter={"lang": "en"})

A document is one record: its embedding, its metadata, and its text under
the metadata key `text_key` (`page_content` unless chosen otherwise), which
is taken out again on the way back. The collection is created on the first
write, with the embeddings' dimension.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from .client import Client, Collection
from .errors import NotFoundError


class ProximaDBVectorStore(VectorStore):
    """LangChain's `VectorStore` over one ProximaDB collection."""

    def __init__(self, embedding: Embeddings, collection_name: str = "langchain", client: Optional[Client] = None,
                 url: str = "http://127.0.0.1:5678", api_key: Optional[str] = None, metric: str = "cosine",
                 text_key: str = "page_content", **collection_config: Any):
        self._embedding = embedding
        self.client = client or Client(url, api_key=api_key)
        self.collection_name = collection_name
        self.metric = metric
        self.text_key = text_key
        self.collection_config = collection_config
        self._collection: Optional[Collection] = None

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    # -- the collection

    def _existing(self) -> Optional[Collection]:
        if self._collection is None:
            try:
                self.client.get_collection(self.collection_name)
            except NotFoundError:
                return None
            self._collection = self.client.collection(self.collection_name)
        return self._collection

    def _for_write(self, dimension: int) -> Collection:
        existing = self._existing()
        if existing is not None:
            return existing
        from .errors import ConflictError
        try:
            self._collection = self.client.create_collection(self.collection_name, dimension=dimension, metric=self.metric,
                                                             **self.collection_config)
        except ConflictError:  # created meanwhile by someone else
            self._collection = self.client.collection(self.collection_name)
        return self._collection

    def delete_collection(self) -> None:
        """Drops the collection and everything in it."""
        try:
            self.client.delete_collection(self.collection_name)
        except NotFoundError:
            pass
        self._collection = None

    # -- writes

    def add_texts(self, texts: Iterable[str], metadatas: Optional[List[dict]] = None, *, ids: Optional[List[str]] = None,
                  **kwargs: Any) -> List[str]:
        texts = list(texts)
        if not texts:
            return []
        if ids is None:
            ids = [str(uuid.uuid4()) for _ in texts]
        ids = [i if i else str(uuid.uuid4()) for i in ids]
        if len(ids) != len(texts) or (metadatas is not None and len(metadatas) != len(texts)):
            raise ValueError("texts, metadatas and ids must have the same length")
        vectors = self._embedding.embed_documents(texts)
        records = []
        for i, text in enumerate(texts):
            meta = dict(metadatas[i]) if metadatas and metadatas[i] else {}
            meta[self.text_key] = text
            records.append(meta)
        collection = self._for_write(len(vectors[0]))
        return collection.upsert(ids, vectors, metadata=records)

    def add_documents(self, documents: List[Document], **kwargs: Any) -> List[str]:
        ids = kwargs.pop("ids", None)
        if ids is None and any(d.id for d in documents):
            ids = [d.id or str(uuid.uuid4()) for d in documents]
        return self.add_texts([d.page_content for d in documents], [d.metadata for d in documents], ids=ids, **kwargs)

    def delete(self, ids: Optional[List[str]] = None, **kwargs: Any) -> Optional[bool]:
        """Deletes by ids (absent ones are ignored); `filter=` deletes what matches."""
        collection = self._existing()
        if collection is None:
            return True
        filter = kwargs.get("filter")
        if ids is None and filter is None:
            raise ValueError("pass ids or filter")
        collection.delete(ids=ids, filter=filter) if ids is not None else collection.delete(filter=filter)
        return True

    # -- reads

    def _document(self, record_id: str, metadata: Optional[dict]) -> Document:
        meta = dict(metadata or {})
        text = meta.pop(self.text_key, "")
        return Document(id=record_id, page_content=text if isinstance(text, str) else str(text), metadata=meta)

    def get_by_ids(self, ids: Sequence[str], /) -> List[Document]:
        collection = self._existing()
        if collection is None:
            return []
        return [self._document(r.id, r.metadata) for r in collection.get(list(ids)) if r is not None]

    def similarity_search_by_vector_with_score(self, embedding: List[float], k: int = 4, filter: Optional[dict] = None,
                                               **kwargs: Any) -> List[Tuple[Document, float]]:
        """Documents nearest the embedding with the server's score (larger is closer)."""
        collection = self._existing()
        if collection is None:
            return []
        hits = collection.search(embedding, k=k, filter=filter)
        return [(self._document(h.id, h.metadata), h.score) for h in hits]

    def similarity_search_with_score(self, query: str, k: int = 4, filter: Optional[dict] = None,
                                     **kwargs: Any) -> List[Tuple[Document, float]]:
        return self.similarity_search_by_vector_with_score(self._embedding.embed_query(query), k=k, filter=filter)

    def similarity_search_by_vector(self, embedding: List[float], k: int = 4, filter: Optional[dict] = None,
                                    **kwargs: Any) -> List[Document]:
        return [d for d, _ in self.similarity_search_by_vector_with_score(embedding, k=k, filter=filter)]

    def similarity_search(self, query: str, k: int = 4, filter: Optional[dict] = None, **kwargs: Any) -> List[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k=k, filter=filter)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Scores mapped to [0, 1] relevance: cosine similarity, else 1 / (1 + distance)."""
        if self.metric == "cosine":
            return lambda score: (score + 1.0) / 2.0
        if self.metric == "dot_product":
            return lambda score: 1.0 / (1.0 + pow(2.718281828459045, -score))
        return lambda score: 1.0 / (1.0 - score)  # score is -distance

    @classmethod
    def from_texts(cls, texts: List[str], embedding: Embeddings, metadatas: Optional[List[dict]] = None, *,
                   ids: Optional[List[str]] = None, **kwargs: Any) -> "ProximaDBVectorStore":
        store = cls(embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store
