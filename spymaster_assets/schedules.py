"""Jobs and the nightly schedule: the daily partitioned tiers (Bronze, Silver, Gold per-date marts)
for the last trading date; the models job trains over every date and refreshes the summary marts."""

import datetime as dt

import dagster as dg

from spymaster_assets.defs.gold import (
    GOLD_BACKTEST_MODELS,
    GOLD_DAILY_MODELS,
    GOLD_EVAL_MODELS,
    GOLD_SUMMARY_MODELS,
)
from spymaster_core import calendar

daily_job = dg.define_asset_job(
    "daily_partition_job",
    selection=dg.AssetSelection.groups("bronze", "silver") | dg.AssetSelection.assets(*GOLD_DAILY_MODELS),
)

# One job per tier, for users who rebuild a tier on its own (daily-partitioned, like the assets).
bronze_job = dg.define_asset_job("bronze_job", selection=dg.AssetSelection.groups("bronze"))
silver_job = dg.define_asset_job("silver_job", selection=dg.AssetSelection.groups("silver"))
gold_daily_job = dg.define_asset_job("gold_daily_job", selection=dg.AssetSelection.assets(*GOLD_DAILY_MODELS))

# The models, the summary/eval marts and the tick tier's backtest (its mart too) over every date.
gold_and_models_job = dg.define_asset_job(
    "gold_and_models_job",
    selection=dg.AssetSelection.groups("models")
    | dg.AssetSelection.assets(
        *GOLD_SUMMARY_MODELS, *GOLD_EVAL_MODELS, "tick_backtest_trades", *GOLD_BACKTEST_MODELS
    ),
)


@dg.schedule(job=daily_job, cron_schedule="0 19 * * 1-5", execution_timezone="America/New_York")
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """At 19:00 ET on weekdays, build the partition of the last trading date on or before today."""
    today = context.scheduled_execution_time.date() if context.scheduled_execution_time else dt.date.today()
    dates = calendar.trading_dates(today - dt.timedelta(days=10), today)
    if not dates:
        return dg.SkipReason(f"no trading date in the 10 days before {today}")
    key = dates[-1].isoformat()
    return dg.RunRequest(run_key=key, partition_key=key)
