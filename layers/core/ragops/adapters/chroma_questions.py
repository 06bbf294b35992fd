"""``QuestionIndex`` in Chroma: the answer cache's cached questions, shared by every tier
replica (a per-process index would leave each replica blind to the others' entries).

One collection per tenant (``c-{tenant}-questions``, cosine space; with the cache's
duplicate model, ``c-{tenant}-questions-duplicate-model``). Each question carries
its partition (``{generation}:{scope}``) and generation; searches filter on the partition,
and writing into a newer generation deletes the tenant's older ones.
"""

from __future__ import annotations

from typing import Any

from ragops.domain.cache import Candidate
from ragops.errors import CacheUnavailable

# The collections of questions the cache's duplicate model embedded (its vectors have
# another dimension than the functions' embedder's; versions are kept apart by partition).
DUPLICATE_MODEL_SUFFIX = "duplicate-model"


def question_collection_name(tenant: str, suffix: str = "") -> str:
    return f"c-{tenant}-questions" + (f"-{suffix}" if suffix else "")


def _generation(partition: str) -> int:
    head = partition.split(":", 1)[0]
    return int(head) if head.isdigit() else 0


class ChromaQuestionIndex:
    def __init__(self, client: Any, suffix: str = "") -> None:
        self.client = client
        self.suffix = suffix
        self._collections: dict[str, Any] = {}
        self._newest: dict[str, int] = {}

    def _collection(self, tenant: str) -> Any:
        if tenant not in self._collections:
            self._collections[tenant] = self._guard(
                "open the question collection",
                lambda: self.client.get_or_create_collection(
                    question_collection_name(tenant, self.suffix),
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"tenant": tenant, "kind": "cached-questions"},
                    embedding_function=None,
                ),
            )
        return self._collections[tenant]

    def _guard(self, action: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:  # chromadb raises many types; all mean "not now"
            self._collections.clear()
            raise CacheUnavailable(f"the question index could not {action}: {exc}") from exc

    def drop_tenant(self, tenant: str) -> None:
        """Delete the tenant's question collections, the duplicate model's included."""
        self._collections.pop(tenant, None)
        self._newest.pop(tenant, None)
        for suffix in ("", DUPLICATE_MODEL_SUFFIX):
            name = question_collection_name(tenant, suffix)
            try:
                self.client.delete_collection(name)
            except Exception as exc:  # chromadb raises several types for "no such collection"
                text = f"{type(exc).__name__} {exc}".lower()
                if "notfound" in text or "not exist" in text or "not found" in text:
                    continue
                raise CacheUnavailable(f"the question index could not drop {name}: {exc}") from exc

    def add(
        self, tenant: str, partition: str, entry_id: str, question: str, embedding: Any
    ) -> None:
        collection = self._collection(tenant)
        generation = _generation(partition)
        if generation > self._newest.get(tenant, -1):
            self._newest[tenant] = generation
            self._guard(
                "drop old generations",
                lambda: collection.delete(where={"generation": {"$lt": generation}}),
            )
        self._guard(
            "add a question",
            lambda: collection.upsert(
                ids=[entry_id],
                embeddings=[[float(x) for x in embedding]],
                documents=[question],
                metadatas=[{"partition": partition, "generation": generation}],
            ),
        )

    def nearest(
        self, tenant: str, partition: str, embedding: Any, k: int, question: str | None = None
    ) -> list[Candidate]:
        collection = self._collection(tenant)
        result = self._guard(
            "search",
            lambda: collection.query(
                query_embeddings=[[float(x) for x in embedding]],
                n_results=k,
                where={"partition": partition},
                include=["documents", "distances"],
            ),
        )
        ids = (result.get("ids") or [[]])[0]
        documents = (result.get("documents") or [[]])[0]
        distances = (result.get("distances") or [[]])[0]
        return [
            Candidate(entry_id, question or "", 1.0 - float(distance))
            for entry_id, question, distance in zip(ids, documents, distances, strict=True)
        ]
