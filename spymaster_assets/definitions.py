"""The code location: merges the per-tier asset modules, resources, jobs and schedules."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from spymaster_assets.databento_resource import DatabentoResource
from spymaster_assets.defs import bronze, gold, landing, models, silver
from spymaster_assets.resources import LakeResource
from spymaster_assets.schedules import daily_job, gold_and_models_job, nightly_schedule

defs = dg.Definitions(
    assets=[*landing.assets, *bronze.assets, *silver.assets, *gold.assets, *models.assets],
    asset_checks=models.checks,
    jobs=[daily_job, gold_and_models_job],
    schedules=[nightly_schedule],
    resources={
        "lake": LakeResource(),
        "databento": DatabentoResource(),
        "dbt": DbtCliResource(
            project_dir=str(gold.DBT_DIR), profiles_dir=str(gold.DBT_DIR), dbt_executable=gold.DBT_EXECUTABLE
        ),
    },
)
