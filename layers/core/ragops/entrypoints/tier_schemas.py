"""The tier service's request bodies (``entrypoints/tier_service.py``), each bounded so
that one request cannot take the service's memory; the wire formats they carry (chunks,
base64 float32 matrices) are ``ragops/domain/tier_wire.py``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ragops.domain.models import SearchMode


class Matrix(BaseModel):
    rows: int = Field(ge=0)
    dimensions: int = Field(ge=0)
    float32_b64: str


class UpsertRequest(BaseModel):
    chunks: list[dict[str, Any]] = Field(max_length=10_000)
    embeddings: Matrix


class DeleteChunksRequest(BaseModel):
    ids: list[str] = Field(max_length=100_000)


class SearchRequest(BaseModel):
    query: str = Field(max_length=10_000)
    query_embedding: list[float] | None = Field(default=None, max_length=8192)
    top_k: int = Field(ge=1, le=1000)
    mode: SearchMode = SearchMode.HYBRID
    candidates: int | None = Field(default=None, ge=1, le=10_000)


class CacheEntryRequest(BaseModel):
    partition: str = Field(max_length=300)
    key: str = Field(max_length=128)
    entry: dict[str, Any]
    ttl_seconds: int = Field(ge=1, le=30 * 86_400)


class CacheQuestionRequest(BaseModel):
    partition: str = Field(max_length=300)
    entry_id: str = Field(max_length=128)
    question: str = Field(max_length=10_000)
    embedding: list[float] = Field(max_length=8192)


class CacheNearestRequest(BaseModel):
    partition: str = Field(max_length=300)
    embedding: list[float] = Field(max_length=8192)
    k: int = Field(default=5, ge=1, le=50)
    # The question's text: a tier serving the cache's duplicate model compares by it.
    question: str | None = Field(default=None, max_length=10_000)
