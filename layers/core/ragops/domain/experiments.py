"""Prompt experiments: which prompt template a caller's question is answered with.

A caller (tenant and user) always gets the same variant of an experiment, whatever the
process or the day: the variant is a stable hash of the experiment's name, the tenant and
the user, weighted by the variants' shares. Renaming the experiment reshuffles everyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class PromptExperiment:
    """``variants`` maps prompt template ids to positive integer weights."""

    name: str
    variants: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an experiment needs a name")
        if not self.variants or any(w <= 0 for w in self.variants.values()):
            raise ValueError("an experiment needs variants with positive weights")

    def assign(self, tenant: str, user: str | None) -> str:
        """The variant of ``tenant``'s ``user`` (callers without a user id share one)."""
        digest = hashlib.sha256(f"{self.name}\0{tenant}\0{user or ANONYMOUS}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") % sum(self.variants.values())
        for variant in sorted(self.variants):
            point -= self.variants[variant]
            if point < 0:
                return variant
        raise AssertionError("unreachable: the weights cover every point")
