"""Quality findings from the command line, with the real local models: a duplicate upload,
a near-duplicate document and a PDF without text are named in `ragops documents list`."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_cli import ragops
from tests.samples import make_pdf
from tests.unit.test_quality import EDITED, LIGHTHOUSES

pytestmark = pytest.mark.slow


def test_documents_list_names_duplicates_and_empty_text(tmp_path):
    data = tmp_path / "data"
    (tmp_path / "lighthouses.md").write_text(LIGHTHOUSES)
    (tmp_path / "lighthouses-copy.md").write_text(LIGHTHOUSES)
    (tmp_path / "lighthouses-edited.md").write_text(EDITED)
    (tmp_path / "scan.pdf").write_bytes(make_pdf([""], title="Scanned"))
    ingested = ragops(
        "ingest",
        *(str(tmp_path / n) for n in ("lighthouses.md", "lighthouses-copy.md")),
        data_dir=data,
    )
    assert ingested.returncode == 0
    later = ragops(
        "ingest",
        str(tmp_path / "lighthouses-edited.md"),
        str(tmp_path / "scan.pdf"),
        data_dir=data,
        check=False,
    )
    assert later.returncode == 1 and "scan.pdf" in later.stderr and "OCR" in later.stderr

    listed = json.loads(ragops("documents", "list", "--json", data_dir=data).stdout)
    by_source = {d["source"]: d for d in listed["documents"]}
    original = by_source["lighthouses.md"]["doc_id"]
    checks = {s: {f["check"]: f for f in d["quality"]} for s, d in by_source.items()}
    assert checks["lighthouses-copy.md"]["exact_duplicate"]["related_doc_id"] == original
    assert checks["lighthouses-edited.md"]["near_duplicate"]["related_doc_id"] in (
        original,
        by_source["lighthouses-copy.md"]["doc_id"],
    )
    assert by_source["scan.pdf"]["status"] == "failed" and "empty_text" in checks["scan.pdf"]
    assert by_source["lighthouses.md"]["language"] == "en"

    table = ragops("documents", "list", data_dir=data, env={"COLUMNS": "300"}).stdout
    assert f"exact_duplicate of {original}" in " ".join(table.split())
    for words in ("near_duplicate", "empty_text", "failed"):
        assert words in table
