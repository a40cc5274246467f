"""Errors the server answers, carrying its stable code."""
from __future__ import annotations

from typing import Optional


class ProximaDBError(Exception):
    """A request the server refused or could not answer.

    ``code`` is the server's stable machine code (``collection_not_found``,
    ``dimension_mismatch``, ``invalid_filter``, ``rate_limited`` …), ``status``
    the HTTP status, ``message`` the explanation for people.
    """

    def __init__(self, code: str, message: str, status: Optional[int] = None, retry_after: Optional[float] = None):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after


class NotFoundError(ProximaDBError):
    """404: the collection or vector does not exist."""


class ConflictError(ProximaDBError):
    """409: the collection or id already exists, or a concurrent change won."""


class InvalidRequestError(ProximaDBError):
    """400 or 413: the request itself is wrong; nothing was changed."""


class AuthError(ProximaDBError):
    """401 or 403: missing, wrong or insufficient credentials."""


class UnavailableError(ProximaDBError):
    """429, 503 or 504 after the retries ran out: try again later."""


def error_for(status: int, code: str, message: str, retry_after: Optional[float] = None) -> ProximaDBError:
    cls = {404: NotFoundError, 409: ConflictError, 401: AuthError, 403: AuthError}.get(status)
    if cls is None:
        if status in (400, 413, 415):
            cls = InvalidRequestError
        elif status in (429, 503, 504):
            cls = UnavailableError
        else:
            cls = ProximaDBError
    return cls(code, message, status, retry_after)
