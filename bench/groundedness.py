"""Calibrate the groundedness check's similarity threshold on SQuAD.

For each answerable question, the sentence of its paragraph that holds the answer is a
supported sentence; scored against its own paragraph it should pass, against another
paragraph of the same article (same topic, different facts) it should not. Prints the
share that passes at each threshold for all-MiniLM-L6-v2; the product's default
(``RAGOPS_GROUNDEDNESS_MIN_SIMILARITY=0.45``) is read off this table.

    python bench/groundedness.py [--squad ../shared/data/squad/squad_v2_normans.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ragops.adapters.local_embedder import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parent.parent


def answer_sentence(context: str, start: int) -> str:
    """The sentence of ``context`` around character ``start``."""
    left = context.rfind(". ", 0, start)
    right = context.find(". ", start)
    return context[left + 2 if left >= 0 else 0 : len(context) if right < 0 else right + 1].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--squad", type=Path, default=ROOT.parent / "shared/data/squad/squad_v2_normans.json"
    )
    args = parser.parse_args()
    data = json.loads(args.squad.read_text(encoding="utf-8"))
    paragraphs: list[str] = []
    items: list[tuple[str, int]] = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraphs.append(paragraph["context"])
            for qa in paragraph["qas"]:
                if not qa.get("is_impossible") and qa.get("answers"):
                    start = qa["answers"][0]["answer_start"]
                    items.append(
                        (answer_sentence(paragraph["context"], start), len(paragraphs) - 1)
                    )
    embedder = SentenceTransformerEmbedder()
    passages = embedder.embed_array(paragraphs)
    sentences = embedder.embed_array([s for s, _ in items])
    rng = random.Random(0)
    own = np.array([sentences[i] @ passages[j] for i, (_, j) in enumerate(items)])
    other = np.array(
        [
            sentences[i] @ passages[rng.choice([k for k in range(len(paragraphs)) if k != j])]
            for i, (_, j) in enumerate(items)
        ]
    )
    print(f"{len(items)} answer sentences, {len(paragraphs)} paragraphs ({embedder.model_id})")
    print("threshold  passes vs own paragraph  passes vs another paragraph")
    for threshold in (0.30, 0.35, 0.40, 0.45, 0.50, 0.55):
        passes_own, passes_other = (own >= threshold).mean(), (other >= threshold).mean()
        print(f"{threshold:9.2f}  {passes_own:22.1%}  {passes_other:27.1%}")


if __name__ == "__main__":
    main()
