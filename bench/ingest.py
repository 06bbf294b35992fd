"""Ingest throughput: chunks per second through the whole pipeline against bare torch
``SentenceTransformer.encode`` of the same chunk texts, measured in the same run.

The pipeline is ``ingest_files`` as the CLI and API run it: parse, chunk, embed (with the
local embedder the settings choose: ONNX int8 by default, ``--runtime`` to pick), write the
chunk artifact and manifest to the local object store, upsert into Chroma and invalidate
BM25. The baseline encodes exactly the texts the pipeline embeds (title + chunk) with
sentence-transformers on torch, in one call at the batch size the torch embedder uses.
Runs alternate (baseline, pipeline, baseline, pipeline...) so drift in machine load hits
both; the best run of each counts.

    python bench/ingest.py [--docs 300] [--repeats 2] [--runtime onnx-int8|onnx|torch]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from ragops.adapters.local_embedder import SentenceTransformerEmbedder
from ragops.bootstrap import build_container
from ragops.domain.models import document_id_for
from ragops.domain.parsing import parse_document
from ragops.services.ingestion import UploadedFile, ingest_files
from ragops.settings import Settings


def load_documents(dataset: Path, count: int) -> list[UploadedFile]:
    files = []
    with (dataset / "corpus.jsonl").open() as corpus:
        for line in corpus:
            row = json.loads(line)
            files.append(
                UploadedFile(f"{row['_id']}.txt", row["text"].encode(), title=row["title"] or None)
            )
            if len(files) == count:
                break
    return files


def run_pipeline(files: list[UploadedFile], settings: Settings, embedder) -> tuple[float, int]:
    workdir = Path(tempfile.mkdtemp(prefix="ragops-ingest-bench-"))
    try:
        container = build_container(settings.replaced(data_dir=workdir), embedder=embedder)
        ctx = container.ingest_context()
        started = time.perf_counter()
        results = ingest_files(ctx, tenant="bench", files=files)
        elapsed = time.perf_counter() - started
        return elapsed, sum(r.record.chunk_count for r in results)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--runtime", choices=["onnx-int8", "onnx", "torch"], default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    files = load_documents(args.dataset, args.docs)
    settings = Settings(data_dir=Path(tempfile.mkdtemp()))
    if args.runtime:
        settings = settings.replaced(local_embedder_runtime=args.runtime)
    container = build_container(settings)
    embedder = container.embedder
    # The exact texts the pipeline embeds, chunked the same way.
    ctx = container.ingest_context()
    texts = []
    for f in files:
        parsed = parse_document(f.filename, f.data, max_bytes=ctx.max_bytes)
        chunks = ctx.chunker.split(
            parsed,
            doc_id=document_id_for(f.filename),
            tenant="bench",
            title=f.title or f.filename,
            source=f.filename,
            version="0" * 16,
        )
        texts.extend(c.indexed_text() for c in chunks)
    torch_embedder = SentenceTransformerEmbedder(batch_size=settings.embed_batch_size)
    model = torch_embedder.model
    model.encode(texts[:64], batch_size=torch_embedder.batch_size)  # warm up
    embedder.embed_array(texts[:64])  # warm up (and export the ONNX model if need be)

    bare, pipeline = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        model.encode(texts, batch_size=torch_embedder.batch_size, normalize_embeddings=True)
        bare.append(len(texts) / (time.perf_counter() - started))
        elapsed, chunks = run_pipeline(files, settings, embedder)
        assert chunks == len(texts), (chunks, len(texts))
        pipeline.append(chunks / elapsed)
    result = {
        "runtime": settings.local_embedder_runtime,
        "documents": len(files),
        "chunks": len(texts),
        "bare_encode_chunks_per_s": round(max(bare), 2),
        "pipeline_chunks_per_s": round(max(pipeline), 2),
        "ratio": round(max(pipeline) / max(bare), 3),
        "runs": {"bare": [round(x, 2) for x in bare], "pipeline": [round(x, 2) for x in pipeline]},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['chunks']} chunks from {result['documents']} documents: pipeline "
            f"({result['runtime']}) "
            f"{result['pipeline_chunks_per_s']} chunks/s, bare encode "
            f"{result['bare_encode_chunks_per_s']} chunks/s (torch), ratio {result['ratio']:.2f}x"
        )


if __name__ == "__main__":
    main()
