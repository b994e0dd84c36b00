"""The Dagster code location loads: every asset, check, job and schedule; code versions carry config hashes."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from spymaster_assets.definitions import defs
from spymaster_assets.partitions import trading_day_partitions
from spymaster_core.config import DEFAULT_CONFIG, config_hash

REPO = Path(__file__).resolve().parents[1]
EXPECTED = {
    "bronze_futures_trades",
    "bronze_futures_mbp10",
    "bronze_options_definitions",
    "bronze_options_bbo",
    "bronze_options_trades",
    "silver_bars_2m",
    "silver_levels",
    "silver_touches",
    "silver_labels",
    "silver_features",
    "gold_training",
    "gold_daily_touches",
    "gold_level_kind_stats",
    "gold_model_eval",
    "break_bounce_model",
}


def test_every_asset_loads() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert EXPECTED <= keys
    dg.Definitions.validate_loadable(defs)


def test_checks_jobs_schedules() -> None:
    graph = defs.resolve_asset_graph()
    checks = {c.name for c in graph.asset_check_keys}
    assert {
        "timestamps_sorted",
        "no_crossed_book_outside_preopen",
        "single_front_month",
        "expirations_on_partition_date",
        "features_finite",
        "one_label_per_touch",
    } <= checks
    assert defs.resolve_job_def("daily_partition_job") is not None
    assert defs.resolve_schedule_def("nightly_schedule").cron_schedule == "0 19 * * 1-5"


def test_gold_reads_silver_lineage() -> None:
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("gold_training")).parent_keys}
    assert {"silver_touches", "silver_labels", "silver_features"} <= parents


def test_partitions_follow_cme_calendar() -> None:
    keys = trading_day_partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange("2023-12-21", "2024-01-03")
    )
    assert keys == [
        "2023-12-21",
        "2023-12-22",
        "2023-12-26",
        "2023-12-27",
        "2023-12-28",
        "2023-12-29",
        "2024-01-02",
        "2024-01-03",
    ]


def test_code_versions_carry_config_hash() -> None:
    graph = defs.resolve_asset_graph()
    labels_cv = graph.get(dg.AssetKey("silver_labels")).code_version
    assert labels_cv.endswith(config_hash(DEFAULT_CONFIG, ["labels"]))
    changed = DEFAULT_CONFIG.model_copy(
        update={"labels": DEFAULT_CONFIG.labels.model_copy(update={"LOOKFORWARD_MINUTES": 10.0})}
    )
    assert config_hash(changed, ["labels"]) != config_hash(DEFAULT_CONFIG, ["labels"])
    assert config_hash(changed, ["bands"]) == config_hash(DEFAULT_CONFIG, ["bands"])


def test_gold_models_list_matches_the_dbt_assets() -> None:
    """GOLD_MODELS (what jobs and the demo select) names exactly the dbt project's models."""
    from spymaster_assets.dbt_project import DBT_DIR, GOLD_MODELS
    from spymaster_assets.defs.gold import assets

    keys = {k.to_user_string() for a in assets for k in a.keys}
    on_disk = {p.stem for p in (DBT_DIR / "models" / "gold").glob("**/*.sql")}
    assert set(GOLD_MODELS) == keys == on_disk
    graph = defs.resolve_asset_graph()
    assert {graph.get(dg.AssetKey(m)).group_name for m in GOLD_MODELS} == {"gold"}


def test_gold_partitioning_and_lineage() -> None:
    """Per-date marts share the daily partitions and backfill as one run; the summary marts span
    every date; gold_model_eval sits downstream of the model that writes its predictions."""
    from spymaster_assets.defs.gold import gold_daily_marts

    graph = defs.resolve_asset_graph()
    training = graph.get(dg.AssetKey("gold_training"))
    assert training.partitions_def == trading_day_partitions
    assert gold_daily_marts.backfill_policy == dg.BackfillPolicy.single_run()
    assert graph.get(dg.AssetKey("gold_level_kind_stats")).partitions_def is None
    assert graph.get(dg.AssetKey("gold_model_eval")).parent_keys == {dg.AssetKey("model_predictions")}
    # The gate blocks promotion, not the comparison: model_predictions is outside the blocking check.
    assert graph.get(dg.AssetKey("champion_model")).parent_keys == {dg.AssetKey("break_bounce_model")}


def test_daily_tiers_must_be_fresh_before_the_open() -> None:
    """Bronze, Silver and the Gold per-date marts carry the nightly freshness policy (built in the
    14 h before 09:00 ET on weekdays); the model, trained on demand, does not."""
    graph = defs.resolve_asset_graph()
    jobs = {j.name for j in defs.resolve_all_job_defs()}
    assert {
        "bronze_job",
        "silver_job",
        "gold_daily_job",
        "daily_partition_job",
        "gold_and_models_job",
    } <= jobs
    for key in ("bronze_futures_trades", "silver_touches", "silver_features", "gold_training"):
        policy = graph.get(dg.AssetKey(key)).freshness_policy
        assert policy is not None and policy.deadline_cron == "0 9 * * 1-5", key
    assert graph.get(dg.AssetKey("break_bounce_model")).freshness_policy is None


def test_executor_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """SPYMASTER_EXECUTOR picks the executor; bad names and values fail with the variable named."""
    from spymaster_assets.executors import executor_from_env

    monkeypatch.delenv("SPYMASTER_EXECUTOR", raising=False)
    monkeypatch.setenv("SPYMASTER_MAX_CONCURRENT_STEPS", "3")
    ex = executor_from_env()
    assert ex.name == "multiprocess"
    assert ex is not dg.multiprocess_executor  # the configured copy (max_concurrent=3)
    monkeypatch.setenv("SPYMASTER_EXECUTOR", "in_process")
    assert executor_from_env() is dg.in_process_executor
    monkeypatch.setenv("SPYMASTER_EXECUTOR", "threads")
    with pytest.raises(ValueError, match="SPYMASTER_EXECUTOR='threads'"):
        executor_from_env()
    monkeypatch.setenv("SPYMASTER_EXECUTOR", "multiprocess")
    monkeypatch.setenv("SPYMASTER_MAX_CONCURRENT_STEPS", "two")
    with pytest.raises(ValueError, match="SPYMASTER_MAX_CONCURRENT_STEPS='two'"):
        executor_from_env()
    for name, package in (("k8s", "dagster_k8s"), ("celery", "dagster_celery")):
        monkeypatch.setenv("SPYMASTER_EXECUTOR", name)
        try:
            __import__(package)
        except ImportError:
            with pytest.raises(ImportError, match=package.replace("_", "-")):
                executor_from_env()
        else:
            assert executor_from_env().name == name


def test_gold_steps_share_the_duckdb_writer_pool() -> None:
    """Every Gold dbt asset is in the single-writer pool; the deploy instance files limit pools to 1."""
    import yaml

    from spymaster_assets.defs import gold
    from spymaster_assets.duckdb_writer import DUCKDB_POOL

    for a in gold.assets:
        assert a.op.pool == DUCKDB_POOL, a.op.name
    for name in ("dagster.yaml", "dagster.postgres.yaml", "k8s/dagster.yaml", "celery/dagster.yaml"):
        cfg = yaml.safe_load((REPO / "deploy" / name).read_text())
        assert cfg["concurrency"]["pools"]["default_limit"] == 1, name


def test_dbt_sources_are_generated_from_the_lake_layout() -> None:
    """dbt reads Silver and the predictions where the lake module says they are: the committed
    sources.yml is exactly what `dbt_sources.render()` makes of `lake.TABLE_DIRS`."""
    from spymaster_assets import dbt_sources
    from spymaster_assets.dbt_project import DBT_DIR
    from spymaster_core.io import lake

    text = (DBT_DIR / "models" / "sources.yml").read_text()
    assert text == dbt_sources.render()
    for table in ("touches", "labels", "features"):
        assert f"/{lake.TABLE_DIRS[table]}/date=*/*.parquet" in text
