"""English function words the word-overlap measures ignore. Each measure adds its own:
the duplicate-question verifier (``domain/cache.py``) also ignores pronouns and modals but
keeps negations (they change a question's meaning); groundedness word support
(``domain/prompts.py``) also ignores negations."""

from __future__ import annotations

FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "did",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
    ]
)
