"""ProximaDB's Python client.

    import proximadb
    client = proximadb.Client("http://127.0.0.1:5678")
    docs = client.create_collection("docs", dimension=3, metric="cosine")
    docs.upsert(["a", "b"], [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], metadata=[{"genre": "news"}, {"genre": "blog"}])
    docs.search([0.1, 0.2, 0.3], k=1, filter={"genre": "news"})
"""
from .client import Client, Collection, Hit, Record
from .errors import (AuthError, ConflictError, InvalidRequestError, NotFoundError, ProximaDBError,
                     UnavailableError)

__all__ = ["Client", "Collection", "Hit", "Record", "ProximaDBError", "NotFoundError", "ConflictError",
           "InvalidRequestError", "AuthError", "UnavailableError"]
__version__ = "0.1.0"
