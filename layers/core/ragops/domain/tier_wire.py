"""The tier service's wire format, shared by the service and ``HttpVectorTier``.

JSON throughout, except embedding matrices on upsert: they travel as base64 of little-endian
float32 rows (``rows`` x ``dimensions``), a quarter of the size of JSON numbers and parsed
without a float per token. Encoding needs no numpy, so the API function (which has none)
can search; the service decodes with numpy.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from ragops.domain.models import Chunk, SearchHit
from ragops.domain.tenants import validate_tenant
from ragops.errors import ConfigurationError

API_PREFIX = "/v1"


def encode_matrix(rows: Any) -> dict[str, Any]:
    """``{"rows", "dimensions", "float32_b64"}`` for a 2-D array or a list of float lists."""
    if hasattr(rows, "astype") and hasattr(rows, "shape"):  # numpy, without importing it
        matrix = rows.astype("<f4", copy=False)
        if matrix.ndim != 2:
            raise ValueError("embeddings must be a 2-D array (one row per chunk)")
        count, dimensions = (int(n) for n in matrix.shape)
        raw = matrix.tobytes(order="C")
    else:
        values = [list(map(float, row)) for row in rows]
        count = len(values)
        dimensions = len(values[0]) if values else 0
        if any(len(row) != dimensions for row in values):
            raise ValueError("every embedding must have the same number of dimensions")
        flat = array("f", (x for row in values for x in row))
        if sys.byteorder != "little":
            flat.byteswap()
        raw = flat.tobytes()
    return {
        "rows": count,
        "dimensions": dimensions,
        "float32_b64": base64.b64encode(raw).decode("ascii"),
    }


def decode_matrix(payload: dict[str, Any]) -> Any:
    """The numpy float32 matrix of ``encode_matrix``; ``ValueError`` if sizes disagree."""
    import numpy as np

    try:
        rows, dimensions = int(payload["rows"]), int(payload["dimensions"])
        raw = base64.b64decode(payload["float32_b64"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"embeddings are not a valid float32 matrix: {exc}") from exc
    if rows < 0 or dimensions < 0 or len(raw) != rows * dimensions * 4:
        raise ValueError(
            f"embeddings hold {len(raw)} bytes, not {rows} x {dimensions} float32 values"
        )
    return np.frombuffer(raw, dtype="<f4").reshape(rows, dimensions).astype(np.float32)


def encode_chunks(chunks: Sequence[Chunk]) -> list[dict[str, Any]]:
    return [chunk.to_dict() for chunk in chunks]


def decode_chunks(items: Sequence[dict[str, Any]]) -> list[Chunk]:
    """Chunks of ``encode_chunks``. Either side may be older: a chunk without a field that
    has a default (``section``) loads with the default, an unknown key is ignored."""
    try:
        return [Chunk.from_dict(item) for item in items]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"a chunk is missing a field or has a wrong one: {exc}") from exc


def encode_hits(hits: Sequence[SearchHit]) -> list[dict[str, Any]]:
    return [
        {
            "chunk": hit.chunk.to_dict(),
            "score": hit.score,
            "vector_score": hit.vector_score,
            "bm25_score": hit.bm25_score,
        }
        for hit in hits
    ]


def decode_hits(items: Sequence[dict[str, Any]]) -> list[SearchHit]:
    return [
        SearchHit(
            chunk=Chunk.from_dict(item["chunk"]),
            score=float(item["score"]),
            vector_score=item.get("vector_score"),
            bm25_score=item.get("bm25_score"),
        )
        for item in items
    ]


def tier_base_url(base_url: str) -> tuple[str, str]:
    """``(base URL without a trailing slash, host:port)`` of the tier service;
    ``ConfigurationError`` unless it is an http(s) URL."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"tier URL {base_url!r} is not an http(s) URL")
    return base_url.rstrip("/"), parts.netloc


def path_tenant(path: str) -> str | None:
    """The tenant of a ``tenant_path`` (``/v1/tenants/{tenant}/...``), None for another."""
    prefix = f"{API_PREFIX}/tenants/"
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :].split("/", 1)[0] or None


def tenant_path(tenant: str, *rest: str) -> str:
    """``/v1/tenants/{tenant}/...`` with each further part URL-quoted; the tenant is
    validated first, so it cannot climb out of its path."""
    validate_tenant(tenant)
    tail = "".join(f"/{quote(part, safe='')}" for part in rest)
    return f"{API_PREFIX}/tenants/{tenant}{tail}"
