from __future__ import annotations

import json

import pytest

from ragops.domain.models import SearchMode
from ragops.errors import InvalidInput
from ragops.services.evaluation import load_beir, run_retrieval_eval

DOCS = {
    "tides": ("Tides", "The moon's gravity raises ocean tides twice a day."),
    "volcano": ("Volcanoes", "Magma rises through the crust and volcanoes erupt ash."),
    "glacier": ("Glaciers", "Glaciers carve valleys from solid rock over millennia."),
}
QUERIES = {
    "q1": ("why do ocean tides rise", "tides"),
    "q2": ("when do volcanoes erupt ash", "volcano"),
}


def write_dataset(folder, split="test"):
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, (t, x) in DOCS.items())
    )
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, (t, _) in QUERIES.items())
        + json.dumps({"_id": "unjudged", "text": "no judgments"})
        + "\n"
    )
    (folder / "qrels" / f"{split}.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, (_, d) in QUERIES.items())
    )
    return folder


@pytest.mark.parametrize("mode", list(SearchMode))
def test_eval_scores_every_mode_and_reuses_the_index(container, embedder, tmp_path, mode):
    dataset = write_dataset(tmp_path / "tiny")
    first = run_retrieval_eval(container.ingest_context(), dataset, mode=mode)
    assert first["queries"] == 2  # the unjudged query is not scored
    assert first["ndcg@10"] == pytest.approx(1.0)
    assert first["recall@100"] == pytest.approx(1.0)
    assert first["mode"] == str(mode)
    assert not first["index_reused"]
    embedded = embedder.texts_embedded
    again = run_retrieval_eval(container.ingest_context(), dataset, mode=mode)
    assert again["index_reused"]
    assert {k: again[k] for k in ("ndcg@10", "mrr@10")} == {
        k: first[k] for k in ("ndcg@10", "mrr@10")
    }
    # Only the queries were embedded the second time, not the corpus.
    assert embedder.texts_embedded - embedded == (0 if mode is SearchMode.BM25 else 2)


def test_changed_corpus_is_indexed_anew(container, tmp_path):
    dataset = write_dataset(tmp_path / "tiny")
    first = run_retrieval_eval(container.ingest_context(), dataset)
    with (dataset / "corpus.jsonl").open("a") as corpus:
        corpus.write(
            json.dumps({"_id": "extra", "title": "Deserts", "text": "Deserts are dry."}) + "\n"
        )
    second = run_retrieval_eval(container.ingest_context(), dataset)
    assert second["tenant"] != first["tenant"]
    assert second["corpus_documents"] == 4 and not second["index_reused"]


def test_missing_split_is_named(tmp_path):
    dataset = write_dataset(tmp_path / "tiny")
    with pytest.raises(InvalidInput, match=r"dev\.tsv"):
        load_beir(dataset, "dev")


def test_bad_json_line_is_named(tmp_path):
    dataset = write_dataset(tmp_path / "tiny")
    with (dataset / "queries.jsonl").open("a") as queries:
        queries.write("{not json\n")
    with pytest.raises(InvalidInput, match="line 4"):
        load_beir(dataset, "test")
