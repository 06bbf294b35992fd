from __future__ import annotations

import math

import pytest

from ragops.domain.fusion import reciprocal_rank_fusion, zscore_fusion
from ragops.domain.metrics import mrr_at_k, ndcg_at_k, recall_at_k, retrieval_report


def test_rrf_rewards_agreement_between_lists():
    vector = {"a": 0.9, "b": 0.8, "c": 0.1}
    keyword = {"b": 12.0, "d": 11.0, "a": 1.0}
    ranked = [key for key, _ in reciprocal_rank_fusion(vector, keyword, k=60)]
    assert ranked[0] == "b"  # ranks 2 and 1
    assert ranked[1] == "a"  # ranks 1 and 3
    assert set(ranked) == {"a", "b", "c", "d"}
    fused = dict(reciprocal_rank_fusion(vector, keyword, k=60))
    assert fused["b"] == pytest.approx(0.5 / 62 + 0.5 / 61)


def test_rrf_weight_one_follows_the_vector_list():
    vector = {"a": 0.9, "b": 0.5}
    keyword = {"b": 10.0, "a": 1.0}
    assert [k for k, _ in reciprocal_rank_fusion(vector, keyword, vector_weight=1.0)] == ["a", "b"]


def test_zscore_fusion_keeps_margins():
    # "a" is far ahead on vectors and a little behind on keywords: margins decide.
    vector = {"a": 0.95, "b": 0.40, "c": 0.39, "d": 0.38}
    keyword = {"b": 10.2, "a": 10.0, "c": 2.0, "d": 1.0}
    ranked = [key for key, _ in zscore_fusion(vector, keyword)]
    assert ranked[0] == "a"
    # RRF only sees ranks: a and b tie.
    rrf = dict(reciprocal_rank_fusion(vector, keyword))
    assert rrf["a"] == pytest.approx(rrf["b"])


def test_zscore_fusion_gives_absent_items_the_list_floor():
    vector = {"a": 0.9, "b": 0.1}
    keyword = {"c": 5.0, "b": 1.0}
    fused = dict(zscore_fusion(vector, keyword, vector_weight=0.5))
    # c is missing from the vector list and gets its minimum (-1 z) there.
    assert fused["c"] == pytest.approx(0.5 * -1.0 + 0.5 * 1.0)
    assert zscore_fusion({}, {}) == []


RUN = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d9": 1.0, "d4": 0.5}}
QRELS = {"q1": {"d2": 1, "d3": 2}, "q2": {"d4": 1}, "q3": {"d7": 1}}


def test_ndcg_matches_a_hand_computation():
    q1 = (1 / math.log2(3) + 2 / math.log2(4)) / (2 / math.log2(2) + 1 / math.log2(3))
    q2 = (1 / math.log2(3)) / 1.0
    q3 = 0.0  # judged but not retrieved
    assert ndcg_at_k(RUN, QRELS, 10) == pytest.approx((q1 + q2 + q3) / 3)


def test_recall_and_mrr():
    assert recall_at_k(RUN, QRELS, 1) == pytest.approx((0 + 0 + 0) / 3)
    assert recall_at_k(RUN, QRELS, 3) == pytest.approx((1 + 1 + 0) / 3)
    assert mrr_at_k(RUN, QRELS, 10) == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    report = retrieval_report(RUN, QRELS)
    assert set(report) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}


@pytest.mark.parametrize("fuse", [reciprocal_rank_fusion, zscore_fusion])
def test_fusion_breaks_ties_by_id_whatever_the_input_order(fuse):
    """Equal scores rank by chunk id, so the order never depends on the order chunks were
    written (an index and its rehydrated copy must rank alike)."""
    vector = {"c": 0.5, "a": 0.5, "b": 0.5, "d": 0.9}
    keyword = {"b": 1.0, "a": 1.0, "c": 1.0}
    forward = fuse(vector, keyword)
    backward = fuse(dict(reversed(vector.items())), dict(reversed(keyword.items())))
    assert forward == backward
    assert [key for key, _ in forward if key != "d"] == ["a", "b", "c"]
