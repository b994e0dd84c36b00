"""Gold marts: the dbt project in `dbt/` as Dagster assets (dagster-dbt)."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from spymaster_assets.resources import LakeResource

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt"
# The dbt CLI installed beside this interpreter (the venv need not be activated).
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
if not dbt_project.manifest_path.exists():
    # No manifest yet (fresh clone): parse the project once so the code location can load.
    subprocess.run(
        [DBT_EXECUTABLE, "parse", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--quiet"],
        check=True,
        env={**os.environ, "SPYMASTER_LAKE": os.path.abspath(os.environ.get("SPYMASTER_LAKE", "data/lake"))},
    )


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project)
def gold_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource):
    """Build and test the Gold models (one dbt process: the only writer of the DuckDB file)."""
    # dbt-duckdb's external materialization writes into these folders but does not create them.
    (lake.path / "gold" / "training").mkdir(parents=True, exist_ok=True)
    yield from dbt.cli(["build"], context=context).stream()


assets = [gold_dbt_models]
