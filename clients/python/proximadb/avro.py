"""The binary insert payload (``docs/schemas/vector_batch.avsc`` in the
server's repository): one Avro datum, an array of records whose vectors are
raw little-endian float32s. Written here by hand, so the client needs no Avro
library; a numpy array's rows go out with one copy each."""
from __future__ import annotations

import array
import json
import sys
from typing import Any, Mapping, Optional, Sequence

CONTENT_TYPE = "application/avro"


def _long(out: bytearray, n: int) -> None:
    z = ((n << 1) ^ (n >> 63)) & 0xFFFFFFFFFFFFFFFF
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)


def _string(out: bytearray, s: str) -> None:
    b = s.encode("utf-8")
    _long(out, len(b))
    out += b


def float32_rows(vectors: Any) -> list:
    """Each vector's little-endian float32 bytes, from a 2-d numpy array or a list of sequences."""
    if hasattr(vectors, "shape") and hasattr(vectors, "astype"):
        import numpy as np

        with np.errstate(over="ignore"):  # past float32's range is inf, which the server refuses (invalid_vector)
            matrix = np.ascontiguousarray(vectors, dtype="<f4")
        if matrix.ndim != 2:
            raise ValueError(f"vectors must be 2-d, not {matrix.ndim}-d")
        return [row.tobytes() for row in matrix]
    rows = []
    for v in vectors:
        if hasattr(v, "tolist"):
            v = v.tolist()
        a = array.array("f", (float(x) for x in v))
        if sys.byteorder == "big":
            a.byteswap()
        rows.append(a.tobytes())
    return rows


def encode_batch(ids: Optional[Sequence[Any]], rows: Sequence[bytes],
                 metadata: Optional[Sequence[Optional[Mapping[str, Any]]]]) -> bytes:
    """One payload of ``rows`` (float32 bytes each) with their ids and metadata (None: absent)."""
    out = bytearray()
    if rows:
        _long(out, len(rows))
        for i, row in enumerate(rows):
            if ids is None:
                out.append(0)
            else:
                out.append(2)
                _string(out, str(ids[i]))
            n = len(row) // 4
            if n:
                _long(out, n)
                out += row
            out.append(0)
            m = metadata[i] if metadata is not None else None
            if m:
                out.append(2)
                _string(out, json.dumps(dict(m), allow_nan=False, separators=(",", ":")))
            else:
                out.append(0)
            out.append(0)  # expires_at: absent
    out.append(0)
    return bytes(out)
