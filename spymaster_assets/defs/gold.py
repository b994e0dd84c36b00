"""Gold marts: the dbt project in `dbt/` as Dagster assets (dagster-dbt)."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from spymaster_assets.resources import LakeResource

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt"
# The Gold marts (dbt models), in build order; each is a Dagster asset of the same name.
GOLD_MODELS = ("gold_training", "gold_level_kind_stats", "gold_daily_touches")
# The dbt CLI installed beside this interpreter (the venv need not be activated).
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


def _manifest_is_stale() -> bool:
    """No manifest (fresh clone) or a model/test/project file newer than it (pulled changes)."""
    if not dbt_project.manifest_path.exists():
        return True
    built = dbt_project.manifest_path.stat().st_mtime
    sources = [DBT_DIR / "dbt_project.yml", *DBT_DIR.glob("models/**/*"), *DBT_DIR.glob("tests/**/*")]
    return any(f.is_file() and f.stat().st_mtime > built for f in sources)


if _manifest_is_stale():
    # Parse the project so the code location loads the current models.
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
