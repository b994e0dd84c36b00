"""The code location: merges the per-tier asset modules, resources, jobs, schedules and sensors."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg
from dagster_dbt import DbtCliResource

from spymaster_assets.databento_resource import DatabentoResource
from spymaster_assets.dbt_project import DBT_DIR, DBT_RUN_EXECUTABLE
from spymaster_assets.defs import backtest, bar_tier, bronze, evaluation, gold, landing, models, silver
from spymaster_assets.executors import executor_from_env
from spymaster_assets.resources import LakeResource
from spymaster_assets.run_health import dead_run_worker_sensor
from spymaster_assets.schedules import (
    bronze_job,
    daily_job,
    gold_and_models_job,
    gold_daily_job,
    nightly_schedule,
    silver_job,
)
from spymaster_assets.sensors import landing_sensor

# "Last night's data built before the open": by 09:00 ET on weekdays, every daily-tier asset must
# have been materialized in the previous 14 hours (the nightly schedule runs at 19:00 ET).
NIGHTLY_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 9 * * 1-5", lower_bound_delta=dt.timedelta(hours=14), timezone="America/New_York"
)
DAILY_TIERS = dg.AssetSelection.groups("bronze", "silver") | dg.AssetSelection.assets(*gold.GOLD_DAILY_MODELS)

with warnings.catch_warnings():
    # Applying the nightly policy once here (as dagster-open-platform's root definitions do) uses a
    # preview API; its PreviewWarning is silenced for this one call and nothing else.
    warnings.filterwarnings("ignore", message=r".*map_resolved_asset_specs.*", category=dg.PreviewWarning)
    defs = dg.Definitions(
        assets=[
            *landing.assets,
            *bronze.assets,
            *silver.assets,
            *bar_tier.assets,
            *backtest.assets,
            *evaluation.assets,
            *gold.assets,
            *models.assets,
        ],
        asset_checks=models.checks,
        jobs=[daily_job, bronze_job, silver_job, gold_daily_job, gold_and_models_job, bar_tier.bar_tier_job],
        schedules=[nightly_schedule],
        sensors=[landing_sensor, dead_run_worker_sensor],
        executor=executor_from_env(),
        resources={
            "lake": LakeResource(),
            "databento": DatabentoResource(api_key=dg.EnvVar("DATABENTO_API_KEY")),
            "dbt": DbtCliResource(
                project_dir=str(DBT_DIR), profiles_dir=str(DBT_DIR), dbt_executable=DBT_RUN_EXECUTABLE
            ),
        },
    ).map_resolved_asset_specs(
        func=lambda spec: dg.apply_freshness_policy(spec, NIGHTLY_FRESHNESS), selection=DAILY_TIERS
    )
