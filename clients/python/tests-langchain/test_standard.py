"""LangChain's own standard suite for vector stores (langchain-tests'
`VectorStoreIntegrationTests`, sync and async) against a real server."""
import uuid
from typing import Generator

import pytest
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests

from proximadb.langchain import ProximaDBVectorStore


class TestProximaDBStandard(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, server) -> Generator[ProximaDBVectorStore, None, None]:
        store = ProximaDBVectorStore(self.get_embeddings(), collection_name=f"lc_{uuid.uuid4().hex[:12]}", url=server.url)
        try:
            yield store
        finally:
            store.delete_collection()


def test_filters_and_relevance_scores(server):
    store = ProximaDBVectorStore(TestProximaDBStandard.get_embeddings(), collection_name="scored", url=server.url)
    store.add_texts(["red apple", "green pear", "red cherry"], metadatas=[{"color": "red"}, {"color": "green"}, {"color": "red"}],
                    ids=["a", "p", "c"])
    hits = store.similarity_search_with_relevance_scores("red apple", k=3)
    assert hits[0][0].id == "a" and abs(hits[0][1] - 1.0) < 1e-5
    assert all(0.0 <= score <= 1.0 for _, score in hits)
    assert {d.id for d in store.similarity_search("red apple", k=3, filter={"color": "red"})} == {"a", "c"}
    store.delete(filter={"color": "red"})
    assert [d.id for d in store.similarity_search("red apple", k=3)] == ["p"]
    again = ProximaDBVectorStore.from_texts(["more"], TestProximaDBStandard.get_embeddings(), collection_name="scored", url=server.url)
    assert sorted(d.page_content for d in again.similarity_search("more", k=5)) == ["green pear", "more"]
