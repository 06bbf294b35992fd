"""The entrypoints stay thin: no module under ``ragops/entrypoints`` over 400 lines
(docs/architecture.md, "Layers"); a larger one is split by resource, as the API and the
CLI are."""

from __future__ import annotations

from pathlib import Path

import ragops

ENTRYPOINTS = Path(ragops.__file__).parent / "entrypoints"
MAX_LINES = 400


def test_no_entrypoint_module_is_over_400_lines():
    sizes = {
        str(path.relative_to(ENTRYPOINTS)): len(path.read_text(encoding="utf-8").splitlines())
        for path in ENTRYPOINTS.rglob("*.py")
    }
    assert len(sizes) > 10  # the API package, the CLI package, the Lambda and tier modules
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
