"""The API entrypoint must import without the heavy libraries: they do not fit the API
Lambda's 50 MB budget, and each would cost cold-start time (docs/architecture.md)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "numpy",
    "langchain_core",
    "langchain_text_splitters",
    "chromadb",
    "torch",
    "bm25s",
    "llama_cpp",
    "sentence_transformers",
    "pypdf",
    "docx",
    "bs4",
    "boto3",
    "botocore",
]


def test_api_import_chain_stays_light():
    code = (
        "import json, sys; import ragops.entrypoints.api; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert loaded == []
