"""Groundedness: is each sentence of an answer supported by the passages it cites?

Two signals. Word support (``cite_answer``): the share of a sentence's content words found
in a cited passage; sentences without enough are removed from the answer before it is
returned. Embedding similarity (here): the cosine between the sentence and each passage it
cites, best one counting; a kept sentence below ``min_similarity`` stays in the answer
but is flagged unsupported. An answer is grounded when no sentence was removed or flagged.

The threshold is the embedder's: 0.45 for all-MiniLM-L6-v2 passes 97.9% of SQuAD
sentences against their own paragraph and 6.3% against another paragraph of the same
article (``bench/groundedness.py``; docs/evaluation.md).
"""

from __future__ import annotations

from ragops.domain.models import Groundedness, SentenceGrounding
from ragops.domain.prompts import CitedAnswer
from ragops.ports import Embedder


def check_groundedness(
    embedder: Embedder | None,
    cited: CitedAnswer,
    passages: list[str],
    min_similarity: float,
) -> tuple[Groundedness, int]:
    """The answer's groundedness, and the embedding tokens the check used. Without an
    embedder only word support counts."""
    if not cited.sentences:
        return Groundedness(grounded=False, removed=list(cited.dropped_sentences)), 0
    similarities: list[float | None] = [None] * len(cited.sentences)
    tokens = 0
    if embedder is not None:
        used = sorted({n for s in cited.sentences for n in s.cited})
        texts = [s.body for s in cited.sentences] + [passages[n - 1] for n in used]
        vectors = embedder.embed_array(texts)
        count = embedder.token_counter()
        tokens = sum(count(t) for t in texts)
        row_of = {n: len(cited.sentences) + i for i, n in enumerate(used)}
        for i, sentence in enumerate(cited.sentences):
            similarities[i] = max(_cosine(vectors[i], vectors[row_of[n]]) for n in sentence.cited)
    checked = [
        SentenceGrounding(
            text=sentence.body,
            citations=sentence.cited,
            word_support=round(sentence.support, 4),
            similarity=None if similarity is None else round(similarity, 4),
            supported=similarity is None or similarity >= min_similarity,
        )
        for sentence, similarity in zip(cited.sentences, similarities, strict=True)
    ]
    grounded = all(s.supported for s in checked) and not cited.dropped_sentences
    return (
        Groundedness(
            grounded=grounded,
            sentences=checked,
            removed=list(cited.dropped_sentences),
            min_similarity=min_similarity if embedder is not None else None,
        ),
        tokens,
    )


def _cosine(a, b) -> float:
    """Cosine of two vectors (embedders return unit vectors; dividing is cheap insurance)."""
    dot = sum(float(x) * float(y) for x, y in zip(a, b, strict=True))
    norm_a = sum(float(x) * float(x) for x in a) ** 0.5
    norm_b = sum(float(y) * float(y) for y in b) ** 0.5
    return dot / (norm_a * norm_b) if norm_a and norm_b else 0.0
