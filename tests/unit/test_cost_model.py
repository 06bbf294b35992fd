"""The monthly cost model: each lever moves only its own line, by what it should, and the
deployment it prices is the one this repository's files describe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ragops.domain.cost_model import (
    DAYS_PER_MONTH,
    HOURS_PER_MONTH,
    Assumptions,
    Deployment,
    InfraPrices,
    ModelPrices,
    PauseMode,
    QueryInputs,
    UsageProfile,
    archived_share,
    project_costs,
    tier_hourly,
)
from ragops.domain.costs import DEFAULT_PRICES

ROOT = Path(__file__).resolve().parents[2]
MODELS = ModelPrices(
    lite=DEFAULT_PRICES["amazon.nova-2-lite-v1:0"],
    pro=DEFAULT_PRICES["amazon.nova-pro-v1:0"],
    embedding=DEFAULT_PRICES["amazon.titan-embed-text-v2:0"],
)
PROFILE = UsageProfile(queries_per_day=2000, documents=5000, hours_active_per_day=10)


def inputs(hit: float = 0.0, lite: float = 0.0) -> QueryInputs:
    return QueryInputs(
        cache_hit_rate=hit,
        lite_share=lite,
        input_tokens=1140,
        output_tokens=150,
        embedding_tokens=20,
    )


def line(projection, item):
    return next(x for x in projection.lines if x.item == item)


def lever(projection, name):
    return next(x for x in projection.levers if x.lever == name)


def test_no_levers_means_ragops_costs_the_baseline_on_every_line_but_compute():
    p = project_costs(PROFILE, inputs(), MODELS)
    for item in ("LLM", "embeddings", "Lambda + API Gateway"):
        assert line(p, item).ragops_usd == pytest.approx(line(p, item).baseline_usd)
    queries = 2000 * DAYS_PER_MONTH
    assert line(p, "LLM").baseline_usd == pytest.approx(queries * (1140 * 0.80 + 150 * 3.20) / 1e6)
    assert p.total.baseline_usd == pytest.approx(sum(x.baseline_usd for x in p.lines))


def test_a_half_cache_hit_rate_halves_the_llm_line():
    p = project_costs(PROFILE, inputs(hit=0.5), MODELS)
    llm = line(p, "LLM")
    assert llm.ragops_usd == pytest.approx(llm.baseline_usd / 2)
    assert lever(p, "caching").modelled == pytest.approx(0.5)
    assert p.quantities["llm_calls_ragops"] == pytest.approx(p.quantities["llm_calls_baseline"] / 2)
    # Cached answers are shorter function runs; questions are embedded either way.
    assert line(p, "Lambda + API Gateway").saving > 0
    assert line(p, "embeddings").saving == 0


def test_routing_saves_what_the_price_table_says_and_nothing_more():
    all_lite = project_costs(PROFILE, inputs(lite=1.0), MODELS)
    lite_usd, pro_usd = 1140 * 0.33 + 150 * 2.75, 1140 * 0.80 + 150 * 3.20
    assert lever(all_lite, "routing").modelled == pytest.approx(1 - lite_usd / pro_usd)
    assert lever(all_lite, "routing").modelled == pytest.approx(0.433, abs=0.001)
    half = project_costs(PROFILE, inputs(lite=0.5), MODELS)
    assert lever(half, "routing").modelled == pytest.approx(0.5 * (1 - lite_usd / pro_usd))
    # Caching and routing compound on the LLM line.
    both = project_costs(PROFILE, inputs(hit=0.5, lite=1.0), MODELS)
    assert line(both, "LLM").ragops_usd == pytest.approx(
        line(both, "LLM").baseline_usd * 0.5 * lite_usd / pro_usd
    )


def test_the_tier_costs_what_terraform_readme_lists_and_24_hours_saves_nothing():
    parts = tier_hourly(InfraPrices(), Deployment(), Assumptions())
    assert sum(parts.values()) == pytest.approx(0.22, abs=0.005)
    always_on = UsageProfile(queries_per_day=100, documents=10, hours_active_per_day=24)
    p = project_costs(always_on, inputs(), MODELS)
    compute = line(p, "compute tier")
    assert compute.ragops_usd == pytest.approx(compute.baseline_usd)
    assert compute.baseline_usd == pytest.approx(sum(parts.values()) * HOURS_PER_MONTH)
    assert lever(p, "pause/resume").modelled == 0
    assert lever(p, "off-hours scaling").modelled == 0


def test_pausing_saves_the_off_hours_and_scaling_to_zero_only_the_nodes_share():
    destroy = project_costs(PROFILE, inputs(), MODELS)
    assert line(destroy, "compute tier").saving == pytest.approx(14 / 24)
    assert lever(destroy, "pause/resume").modelled == pytest.approx(14 / 24)
    assert not lever(destroy, "pause/resume").met
    short = UsageProfile(queries_per_day=2000, documents=5000, hours_active_per_day=2.4)
    assert lever(project_costs(short, inputs(), MODELS), "pause/resume").met

    parts = tier_hourly(InfraPrices(), Deployment(), Assumptions())
    scaled = project_costs(
        UsageProfile(2000, 5000, 10, pause=PauseMode.SCALE_TO_ZERO), inputs(), MODELS
    )
    nodes_share = parts["nodes"] / sum(parts.values())
    assert line(scaled, "compute tier").saving == pytest.approx(nodes_share * 14 / 24)
    assert lever(scaled, "off-hours scaling").modelled == pytest.approx(nodes_share * 14 / 24)
    # Even never running the nodes cannot reach the promised 45%: the cluster, NLB and
    # volume are most of the hourly cost.
    assert nodes_share < 0.45


def test_every_pause_mode_is_priced_whichever_is_chosen():
    parts = tier_hourly(InfraPrices(), Deployment(), Assumptions())
    for chosen in PauseMode:
        by_pause = project_costs(
            UsageProfile(2000, 5000, 10, pause=chosen), inputs(), MODELS
        ).tier_by_pause
        assert set(by_pause) == {"never paused", "destroy", "scale-to-zero"}
        assert by_pause["never paused"] == pytest.approx(sum(parts.values()) * HOURS_PER_MONTH)
        assert by_pause["destroy"] == pytest.approx(by_pause["never paused"] * 10 / 24)
        off_hours_nodes = parts["nodes"] * HOURS_PER_MONTH * 14 / 24
        assert by_pause["scale-to-zero"] == pytest.approx(
            by_pause["never paused"] - off_hours_nodes
        )
        # The chosen mode's figure is the compute line's.
        chosen_line = line(
            project_costs(UsageProfile(2000, 5000, 10, pause=chosen), inputs(), MODELS),
            "compute tier",
        )
        assert by_pause[str(chosen)] == pytest.approx(chosen_line.ragops_usd)


def test_the_docs_quote_the_cost_models_figure_for_each_pause_mode():
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    quoted = re.findall(r"^\| (never paused|destroy|scale-to-zero) \| \**([\d.]+) USD", text, re.M)
    default_schedule = UsageProfile(2000, 5000, hours_active_per_day=9.5)
    by_pause = project_costs(default_schedule, inputs(), MODELS).tier_by_pause
    assert {mode: float(usd) for mode, usd in quoted} == {
        mode: round(usd, 2) for mode, usd in by_pause.items()
    }
    # The sentence that says it in words quotes the same figures.
    summary = " ".join(text[text.index("So on the default schedule") :].split()[:45])
    for usd in by_pause.values():
        assert f"{usd:.2f} USD a month" in summary, (usd, summary)


def test_the_lifecycle_saves_on_old_originals_only():
    assert archived_share(5000, 500, 90) == pytest.approx(1 - 500 * 90 / DAYS_PER_MONTH / 5000)
    assert archived_share(5000, 0, 90) == 1.0
    assert archived_share(100, 1000, 90) == 0.0
    young = UsageProfile(2000, 100, 10, documents_added_per_month=1000)
    assert line(project_costs(young, inputs(), MODELS), "storage (S3)").saving == 0
    old = UsageProfile(2000, 5000, 10, documents_added_per_month=0)
    storage = line(project_costs(old, inputs(), MODELS), "storage (S3)")
    # Every original in Glacier IR; artifacts and manifests stay in Standard.
    assert 0.5 < storage.saving < 1 - 0.004 / 0.023
    # An original under Glacier IR's 128 KB minimum is billed as 128 KB.
    tiny = project_costs(old, inputs(), MODELS, assumptions=Assumptions(raw_document_mb=0.01))
    assert line(tiny, "storage (S3)").saving < storage.saving


def test_out_of_range_input_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="queries per day"):
        project_costs(UsageProfile(-1, 10, 10), inputs(), MODELS)
    with pytest.raises(ValueError, match="hours active"):
        project_costs(UsageProfile(1, 10, 25), inputs(), MODELS)
    with pytest.raises(ValueError, match="cache hit rate"):
        project_costs(PROFILE, inputs(hit=1.5), MODELS)
    with pytest.raises(ValueError, match="unknown price nope"):
        InfraPrices().with_overrides({"nope": 1.0})
    with pytest.raises(ValueError, match="non-negative"):
        InfraPrices().with_overrides({"node_hour": -1.0})


def test_a_price_override_moves_its_line():
    cheap = InfraPrices().with_overrides({"eks_cluster_hour": 0.0})
    base = line(project_costs(PROFILE, inputs(), MODELS), "compute tier")
    lower = line(project_costs(PROFILE, inputs(), MODELS, prices=cheap), "compute tier")
    assert base.baseline_usd - lower.baseline_usd == pytest.approx(0.10 * HOURS_PER_MONTH)


def test_the_deployment_defaults_are_the_repositorys():
    """If the Terraform, Kubernetes or SAM defaults change, the cost model must follow."""
    tier = (ROOT / "terraform/tier/variables.tf").read_text()
    persistent = (ROOT / "terraform/persistent/variables.tf").read_text()
    template = (ROOT / "template.yaml").read_text()
    chroma = (ROOT / "k8s/base/chroma.yaml").read_text()
    d = Deployment()

    def default(text: str, variable: str) -> str:
        block = text.split(f'variable "{variable}"', 1)[1]
        return re.search(r"default\s*=\s*(.+)", block).group(1).strip()

    assert default(tier, "node_instance_types") == f'["{d.node_instance_type}"]'
    assert int(default(tier, "node_desired_size")) == d.nodes
    assert float(default(tier, "node_disk_size")) == d.node_root_gb
    assert default(tier, "private_nodes") == "false"  # nodes have public addresses
    assert float(default(persistent, "raw_archive_after_days")) == d.raw_archive_after_days
    assert default(persistent, "raw_archive_storage_class") == f'"{d.raw_archive_class}"'
    assert "storage: 20Gi" in chroma and d.chroma_volume_gb == 20
    assert "Architectures: [arm64]" in template
    assert "MemorySize: 1024" in template and d.api_memory_gb == 1.0
    ingest = template.split("IngestFunction:", 1)[1].split("Events:", 1)[0]
    assert "MemorySize: 2048" in ingest and d.ingest_memory_gb == 2.0
