"""Gold marts: the dbt project in `dbt/` as Dagster assets (dagster-dbt), exported to the lake.

Three dbt asset groups, each one dbt process holding the DuckDB writer lock:
- `gold_daily_marts` (gold_training, gold_daily_touches): daily partitions; a run passes its
  partition key range to dbt as the vars start_date / end_date and rebuilds exactly those dates
  (incremental models). Backfill policy single run: a backfill of N dates is one dbt process.
- `gold_summary_marts` (gold_level_kind_stats): spans every date in Gold.
- `gold_eval_marts` (gold_model_eval): scores the held-out predictions of every model
  run (the asset model_predictions, written by break_bounce_model's step).
- `gold_bar_marts` (gold_bar_outcomes): the bar tier's outcome rates over every bar-tier date
- `gold_backtest_marts` (gold_backtest): the backtest's policy figures per tier, from
  bar_backtest_trades and tick_backtest_trades (`spymaster bars import` builds it after the bar tier).
After dbt succeeds, the built tables are exported to Gold Parquet (temp file, then rename) at the
paths `spymaster_core.io.lake` gives them (`TABLE_DIRS` for the daily marts, `FILES` for the others).
"""

import json
import os
from collections.abc import Iterator

import dagster as dg
import duckdb
import polars as pl
from dagster_dbt import DbtCliResource, dbt_assets

from spymaster_assets.dbt_project import (
    GOLD_BACKTEST_MODELS,
    GOLD_BAR_MODELS,
    GOLD_DAILY_MODELS,
    GOLD_EVAL_MODELS,
    GOLD_SUMMARY_MODELS,
    dbt_project,
    prepare_if_dev,
)
from spymaster_assets.duckdb_writer import DUCKDB_POOL, duckdb_writer
from spymaster_assets.partitions import trading_day_partitions
from spymaster_assets.resources import LakeResource
from spymaster_core.io import lake as lake_io

prepare_if_dev()  # `dagster dev` re-parses changed models; elsewhere nothing


def _selected_models(context: dg.AssetExecutionContext) -> list[str]:
    return [k.path[-1] for k in context.selected_asset_keys]


def _dbt_build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    lake: LakeResource,
    dbt_vars: dict[str, str],
    dates: list[str] | None = None,
) -> Iterator[object]:
    """Run `dbt build` for the selected models under the DuckDB writer lock, then export them
    (the daily marts for `dates`)."""
    # dbt reads the lake root and DuckDB path from the environment (profiles.yml, sources.yml):
    # point them at this resource's lake so dbt and the export agree.
    os.environ["SPYMASTER_LAKE"] = str(lake.path)
    os.environ["SPYMASTER_DUCKDB"] = str(lake.duckdb_path)
    with duckdb_writer(lake.duckdb_path, context.log.info) as waited_s:
        if waited_s > 0.5:
            context.log.info(f"waited {waited_s:.1f}s for the DuckDB writer lock")
        # The op execution context: dagster-dbt reads `context.op`, deprecated on AssetExecutionContext.
        yield from dbt.cli(
            ["build", "--vars", json.dumps(dbt_vars)], context=context.op_execution_context
        ).stream()
        _export(lake, _selected_models(context), dates or [])


def _export(lake: LakeResource, models: list[str], dates: list[str]) -> None:
    """Copy the built tables from DuckDB to Gold Parquet: the daily marts per date of the window
    that has Silver touches (a date whose touches are empty gets an empty partition; dates with no
    Silver at all, e.g. inside a long backfill range, get none), whole files for the summary marts."""
    built = set(lake_io.written_dates(lake.path, "touches"))
    con = duckdb.connect(str(lake.duckdb_path), read_only=True)
    try:
        for model in models:
            if model in GOLD_DAILY_MODELS:
                df = pl.from_arrow(
                    con.sql(
                        f"select * from main.{model} where date between ? and ?", params=[dates[0], dates[-1]]
                    ).to_arrow_table()
                )
                for date in (d for d in dates if d in built):
                    lake_io.write_partition(lake.path, model, date, df.filter(df["date"] == date))
            else:
                lake_io.write_file(
                    lake_io.file_path(lake.path, model),
                    con.sql(f"select * from main.{model}").to_arrow_table(),
                )
    finally:
        con.close()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    pool=DUCKDB_POOL,
    project=dbt_project,
    select=" ".join(GOLD_DAILY_MODELS),
    name="gold_daily_marts",
    partitions_def=trading_day_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def gold_daily_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource):
    """gold_training and gold_daily_touches for the run's partition key range (one date, or a
    whole backfill in one run): dbt vars start_date / end_date; other dates are left as they were."""
    keys = context.partition_keys
    yield from _dbt_build(context, dbt, lake, {"start_date": keys[0], "end_date": keys[-1]}, keys)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    pool=DUCKDB_POOL,
    project=dbt_project,
    select=" ".join(GOLD_SUMMARY_MODELS),
    name="gold_summary_marts",
)
def gold_summary_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource):
    """gold_level_kind_stats over every date in gold_training."""
    yield from _dbt_build(context, dbt, lake, {})


@dbt_assets(
    manifest=dbt_project.manifest_path,
    pool=DUCKDB_POOL,
    project=dbt_project,
    select=" ".join(GOLD_EVAL_MODELS),
    name="gold_eval_marts",
)
def gold_eval_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource):
    """gold_model_eval: held-out metrics per model run, head and predictor."""
    yield from _dbt_build(context, dbt, lake, {})


@dbt_assets(
    manifest=dbt_project.manifest_path,
    pool=DUCKDB_POOL,
    project=dbt_project,
    select=" ".join(GOLD_BAR_MODELS),
    name="gold_bar_marts",
)
def gold_bar_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource):
    """gold_bar_outcomes: bar-tier outcome rates per level kind, direction, year and volatility
    regime, over every date of the bar tier (needs at least one built bar-tier date)."""
    yield from _dbt_build(context, dbt, lake, {})


@dbt_assets(
    manifest=dbt_project.manifest_path,
    pool=DUCKDB_POOL,
    project=dbt_project,
    select=" ".join(GOLD_BACKTEST_MODELS),
    name="gold_backtest_marts",
)
def gold_backtest_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource):
    """gold_backtest: the level-trade policies' figures after costs per tier, policy, level kind and
    year, from the trades of bar_backtest_trades and tick_backtest_trades (whichever exist)."""
    yield from _dbt_build(context, dbt, lake, {})


assets = [gold_daily_marts, gold_summary_marts, gold_eval_marts, gold_bar_marts, gold_backtest_marts]
