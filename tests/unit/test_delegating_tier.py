"""The one base of the tier decorators: every port method goes through ``_forward``, and
the optional abilities pass through only when the inner tier has them."""

from __future__ import annotations

import numpy as np

from ragops.domain.models import SearchMode
from ragops.ports import CountsLoadedChunks, DelegatingTier, ListsTenants

PORT_CALLS = [
    ("upsert", ("acme", [], np.zeros((0, 4), dtype=np.float32))),
    ("delete_document", ("acme", "d1")),
    ("delete_chunks", ("acme", ["c1"])),
    ("document_chunk_ids", ("acme", "d1")),
    ("search", ("acme", "q", [0.0] * 4, 3, SearchMode.HYBRID, None)),
    ("count", ("acme",)),
    ("document_count", ("acme",)),
    ("drop_tenant", ("acme",)),
    ("ping", ()),
]


class RecordingTier:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def __getattr__(self, name: str):
        def call(*args):
            self.calls.append((name, args))
            return 7 if name.endswith("count") else []

        call.__name__ = name
        return call


class CountingDecorator(DelegatingTier):
    def __init__(self, inner) -> None:
        self.inner = inner
        self.forwarded: list[str] = []

    def _forward(self, method, *args):
        self.forwarded.append(method.__name__)
        return method(*args)


def test_every_port_method_goes_through_forward_with_its_arguments():
    inner = RecordingTier()
    tier = CountingDecorator(inner)
    for name, args in PORT_CALLS:
        getattr(tier, name)(*args)
    assert inner.calls == PORT_CALLS
    assert tier.forwarded == [name for name, _ in PORT_CALLS]


class PlainTier:
    """A tier without the optional abilities."""


class RichTier:
    def tenants(self) -> list[str]:
        return ["acme", "globex"]

    def loaded_chunk_count(self) -> int:
        return 42


def test_optional_abilities_pass_through_only_when_the_inner_tier_has_them():
    rich, plain = CountingDecorator(RichTier()), CountingDecorator(PlainTier())
    assert isinstance(rich, ListsTenants) and isinstance(rich, CountsLoadedChunks)
    assert (rich.tenants(), rich.loaded_chunk_count()) == (["acme", "globex"], 42)
    assert (plain.tenants(), plain.loaded_chunk_count()) == ([], 0)
