"""Vector side of the index: Chroma, one collection per tenant.

One collection per tenant, rather than one shared collection filtered by a tenant field,
for two reasons: isolation cannot be lost to a forgotten filter, and a metadata-filtered
Chroma query was measured at about 15x the latency of an unfiltered one at 20k vectors.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ragops.domain.models import Chunk
from ragops.errors import ConfigurationError, TierUnavailable

# Chroma caps one write at a batch size set by the backend; stay well under it.
_WRITE_BATCH = 4096

# HNSW search breadth. Chroma's default (100) finds 98.4% of the exact 100 nearest
# SciFact chunks (all-MiniLM-L6-v2, 11k chunks), and two builds of a graph (an index and its
# rehydrated copy) miss different ones, which moves fused scores; 400 found all of them for
# every query measured, at about 2.5 ms more per search (docs/evaluation.md).
DEFAULT_EF_SEARCH = 400


def collection_name(tenant: str) -> str:
    """Chroma collection names allow 3-512 of [a-zA-Z0-9._-]; tenant ids are a subset, so
    the name is readable and unique per tenant."""
    return f"t-{tenant}-chunks"


def _metadata(chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": chunk.doc_id,
        "tenant": chunk.tenant,
        "ordinal": chunk.ordinal,
        "title": chunk.title,
        "source": chunk.source,
        "start": chunk.start,
        "end": chunk.end,
    }
    if chunk.page is not None:  # Chroma metadata values may not be None
        meta["page"] = chunk.page
    if chunk.section:  # likewise; absent in chunks written before sections existed
        meta["section"] = chunk.section
    return meta


def _chunk(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=meta["doc_id"],
        tenant=meta["tenant"],
        ordinal=int(meta["ordinal"]),
        text=text,
        title=meta.get("title", ""),
        source=meta.get("source", ""),
        page=meta.get("page"),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        section=meta.get("section") or None,
    )


@contextmanager
def _chroma_errors(action: str) -> Iterator[None]:
    """chromadb raises assorted exception types (HTTP, SQLite, Rust bindings): any of them
    means the tier could not do its job."""
    try:
        yield
    except (ConfigurationError, TierUnavailable):
        raise
    except Exception as exc:
        raise TierUnavailable(f"Chroma could not {action}: {exc}") from exc


def make_persistent_client(path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(
        path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    )


def make_http_client(url: str) -> Any:
    """A client of the Chroma server at ``url`` (``http://chroma:8000``); connects lazily."""
    from urllib.parse import urlsplit

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"Chroma URL {url!r} is not an http(s) URL")
    with _chroma_errors("connect"):
        return chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            settings=ChromaSettings(anonymized_telemetry=False),
        )


class ChromaVectorIndex:
    """Chunks with embeddings in Chroma, cosine space, one collection per tenant.

    ``client`` is any Chroma client (``PersistentClient``, ``HttpClient``, ``EphemeralClient``).
    ``embedding_model`` is recorded on each collection; opening a collection built with
    another model is refused, because its vectors would not be comparable.
    """

    def __init__(
        self, client: Any, *, embedding_model: str, ef_search: int = DEFAULT_EF_SEARCH
    ) -> None:
        self.client = client
        self.embedding_model = embedding_model
        self.ef_search = ef_search
        self._collections: dict[str, Any] = {}

    def _collection(self, tenant: str, *, create: bool) -> Any | None:
        if tenant in self._collections:
            return self._collections[tenant]
        name = collection_name(tenant)
        with _chroma_errors("open the collection"):
            if create:
                collection = self.client.get_or_create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine", "ef_search": self.ef_search}},
                    metadata={"embedding_model": self.embedding_model, "tenant": tenant},
                    embedding_function=None,
                )
            else:
                existing = {
                    c.name if hasattr(c, "name") else c for c in self.client.list_collections()
                }
                if name not in existing:
                    return None
                collection = self.client.get_collection(name, embedding_function=None)
        model = (collection.metadata or {}).get("embedding_model")
        if model and model != self.embedding_model:
            raise ConfigurationError(
                f"tenant {tenant!r} was indexed with {model!r}, not {self.embedding_model!r}; "
                "rebuild the index (ragops tier rehydrate) after changing the embedder"
            )
        self._tune(collection)
        self._collections[tenant] = collection
        return collection

    def _tune(self, collection: Any) -> None:
        """Give a collection made with another ``ef_search`` (an older version, another
        setting) this index's; it is a search-time parameter, so no rebuild is needed."""
        hnsw = (getattr(collection, "configuration_json", None) or {}).get("hnsw") or {}
        if hnsw.get("ef_search", self.ef_search) != self.ef_search:
            with _chroma_errors("configure the collection"):
                collection.modify(configuration={"hnsw": {"ef_search": self.ef_search}})

    def upsert(self, tenant: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk is required")
        if not chunks:
            return
        collection = self._collection(tenant, create=True)
        with _chroma_errors("write"):
            for start in range(0, len(chunks), _WRITE_BATCH):
                batch = chunks[start : start + _WRITE_BATCH]
                collection.upsert(
                    ids=[c.chunk_id for c in batch],
                    embeddings=np.asarray(embeddings[start : start + _WRITE_BATCH], np.float32),
                    documents=[c.text for c in batch],
                    metadatas=[_metadata(c) for c in batch],
                )

    def chunk_ids(self, tenant: str, doc_id: str) -> list[str]:
        collection = self._collection(tenant, create=False)
        if collection is None:
            return []
        with _chroma_errors("read"):
            return list(collection.get(where={"doc_id": doc_id}, include=[])["ids"])

    def delete(self, tenant: str, ids: Sequence[str]) -> None:
        collection = self._collection(tenant, create=False)
        if collection is None or not ids:
            return
        with _chroma_errors("delete"):
            for start in range(0, len(ids), _WRITE_BATCH):
                collection.delete(ids=list(ids[start : start + _WRITE_BATCH]))

    def query(self, tenant: str, embedding: np.ndarray, n_results: int) -> list[tuple[str, float]]:
        """``(chunk_id, cosine similarity)`` of the nearest chunks, best first."""
        collection = self._collection(tenant, create=False)
        if collection is None:
            return []
        with _chroma_errors("query"):
            # Asking for more results than the collection holds returns them all.
            result = collection.query(
                query_embeddings=np.asarray(embedding, np.float32).reshape(1, -1),
                n_results=n_results,
                include=["distances"],
            )
        ids = result["ids"][0]
        distances = result["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def all_chunks(self, tenant: str, page_size: int = 10_000) -> list[Chunk]:
        """Every chunk of the tenant (text and metadata, no embeddings)."""
        collection = self._collection(tenant, create=False)
        if collection is None:
            return []
        chunks: list[Chunk] = []
        with _chroma_errors("read"):
            offset = 0
            while True:
                page = collection.get(
                    include=["documents", "metadatas"], limit=page_size, offset=offset
                )
                for chunk_id, text, meta in zip(
                    page["ids"], page["documents"], page["metadatas"], strict=True
                ):
                    chunks.append(_chunk(chunk_id, text or "", dict(meta or {})))
                if len(page["ids"]) < page_size:
                    break
                offset += page_size
        return chunks

    def count(self, tenant: str) -> int:
        collection = self._collection(tenant, create=False)
        if collection is None:
            return 0
        with _chroma_errors("read"):
            return int(collection.count())

    def ping(self) -> None:
        """Raise ``TierUnavailable`` unless Chroma answers."""
        with _chroma_errors("answer"):
            self.client.heartbeat()

    def tenants(self) -> list[str]:
        """Tenants that have a collection, sorted."""
        with _chroma_errors("list collections"):
            names = [c.name if hasattr(c, "name") else c for c in self.client.list_collections()]
        return sorted(n[2:-7] for n in names if n.startswith("t-") and n.endswith("-chunks"))

    def revision(self, tenant: str) -> tuple[str | None, int]:
        """``(revision, chunk count)`` as stored now, read fresh from the server: the
        revision is the token the last writer left on the collection (``bump_revision``).
        A tenant without a collection is ``(None, 0)``. Refreshes the cached handle, so a
        collection dropped or recreated by another process is noticed."""
        self._collections.pop(tenant, None)
        collection = self._collection(tenant, create=False)
        if collection is None:
            return None, 0
        with _chroma_errors("read"):
            return (collection.metadata or {}).get("revision"), int(collection.count())

    def bump_revision(self, tenant: str) -> str | None:
        """Leave a new revision token on the tenant's collection (after a write), so other
        processes serving the same Chroma know their in-memory view is stale."""
        collection = self._collection(tenant, create=False)
        if collection is None:
            return None
        token = uuid.uuid4().hex
        with _chroma_errors("write"):
            collection.modify(metadata={**(collection.metadata or {}), "revision": token})
        return token

    def drop(self, tenant: str) -> None:
        """Delete the tenant's collection, if it has one."""
        exists = self._collection(tenant, create=False) is not None
        self._collections.pop(tenant, None)
        if exists:
            with _chroma_errors("drop the collection"):
                self.client.delete_collection(collection_name(tenant))
