"""The chunk artifact: a document's chunks with their embeddings, as kept in the object
store under ``chunks/{tenant}/{doc_id}/{version}.json``.

It is the system of record for the index: the tier can be rebuilt from artifacts alone,
without calling the embedding model again. Embeddings travel as base64 float32
(little-endian), a quarter of the size of JSON numbers and exact.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ragops.domain.keys import (  # noqa: F401 (the layouts, re-exported for their users)
    artifact_key,
    artifact_prefix,
    duplicate_index_key,
    manifest_key,
    manifest_prefix,
    raw_key,
)
from ragops.domain.models import Chunk, DocumentRecord

if TYPE_CHECKING:
    import numpy as np

ARTIFACT_SCHEMA = 1


@dataclass(frozen=True)
class ChunkArtifact:
    record: DocumentRecord
    chunks: list[Chunk]
    embeddings: np.ndarray  # float32, one row per chunk


def encode_artifact(artifact: ChunkArtifact) -> bytes:
    import numpy as np  # only where artifacts are written or read, not in the API Lambda

    vectors = np.ascontiguousarray(artifact.embeddings, dtype="<f4")
    payload: dict[str, Any] = {
        "schema": ARTIFACT_SCHEMA,
        "document": artifact.record.to_dict(),
        "embedding_model": artifact.record.embedding_model,
        "dimensions": int(vectors.shape[1]) if vectors.ndim == 2 else 0,
        "chunks": [chunk.to_dict() for chunk in artifact.chunks],
        "embeddings": base64.b64encode(vectors.tobytes()).decode("ascii"),
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def decode_artifact(data: bytes) -> ChunkArtifact:
    import numpy as np

    payload = json.loads(data)
    if payload.get("schema") != ARTIFACT_SCHEMA:
        raise ValueError(f"unsupported chunk artifact schema {payload.get('schema')!r}")
    chunks = [Chunk.from_dict(item) for item in payload["chunks"]]
    flat = np.frombuffer(base64.b64decode(payload["embeddings"]), dtype="<f4")
    embeddings = flat.reshape(len(chunks), int(payload["dimensions"])).astype(np.float32)
    return ChunkArtifact(
        record=DocumentRecord.from_dict(payload["document"]), chunks=chunks, embeddings=embeddings
    )


def decode_artifact_chunks(data: bytes) -> list[Chunk]:
    """The artifact's chunks alone, without numpy (the API Lambda has none): what showing
    a document's extracted text needs."""
    payload = json.loads(data)
    if payload.get("schema") != ARTIFACT_SCHEMA:
        raise ValueError(f"unsupported chunk artifact schema {payload.get('schema')!r}")
    return [Chunk.from_dict(item) for item in payload["chunks"]]


def encode_record(record: DocumentRecord) -> bytes:
    return json.dumps(record.to_dict(), ensure_ascii=False, indent=1).encode("utf-8")


def decode_record(data: bytes) -> DocumentRecord:
    return DocumentRecord.from_dict(json.loads(data))
