"""The dbt project (`dbt/`) as dagster-dbt's `DbtProject`, and how its manifest is prepared.

Importing this module (or `defs/gold.py`) runs nothing. The manifest is prepared:
- under `dagster dev`, by `prepare_if_dev()` in `defs/gold.py` (dagster-dbt's development test), so
  edited models are picked up when the code location reloads;
- by `prepare()`, called explicitly by the entry points that load the code location: the Makefile
  (`make demo`, `make test`, `make dagster`), the CLI's `demo` and `ingest`, and the test suite's
  `pytest_configure`.
`prepare()` parses only when the manifest is missing or older than a model, test, macro or project
file, under an exclusive lock (target/.parse.lock): the webserver, the daemon and run workers of a
fresh `dagster dev` start load the location at once, and one parses while the others wait.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from spymaster_assets import dbt_sources
from spymaster_core.io import lake as lake_io

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt"
# The Gold marts (dbt models) by asset group; each model is a Dagster asset of the same name.
GOLD_DAILY_MODELS = ("gold_training", "gold_daily_touches")  # partitioned by trading date
GOLD_SUMMARY_MODELS = ("gold_level_kind_stats",)  # over every date
GOLD_EVAL_MODELS = ("gold_model_eval",)  # downstream of model_predictions
GOLD_BAR_MODELS = ("gold_bar_outcomes",)  # the bar tier's outcome rates (built after a bars import)
GOLD_BACKTEST_MODELS = ("gold_backtest",)  # the backtest's policy figures (after bar_backtest_trades)
GOLD_MODELS = (
    *GOLD_DAILY_MODELS,
    *GOLD_SUMMARY_MODELS,
    *GOLD_EVAL_MODELS,
    *GOLD_BAR_MODELS,
    *GOLD_BACKTEST_MODELS,
)
# The dbt CLI installed beside this interpreter (the venv need not be activated), for `dbt parse`.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
# What the Gold assets run: dbt through `spymaster-dbt` (dbt_guard.py), which dies with its run.
DBT_RUN_EXECUTABLE = str(Path(sys.executable).parent / "spymaster-dbt")


def manifest_is_stale(project: DbtProject) -> bool:
    """No manifest (fresh clone) or a model/test/macro/project file newer than it (pulled changes)."""
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    sources = [
        DBT_DIR / "dbt_project.yml",
        *DBT_DIR.glob("models/**/*"),
        *DBT_DIR.glob("tests/**/*"),
        *DBT_DIR.glob("macros/**/*"),
    ]
    return any(f.is_file() and f.stat().st_mtime > built for f in sources)


dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


def prepare() -> Path:
    """Make the dbt manifest current: `dbt parse` when it is stale, one process at a time (see the
    module docstring); return its path. dbt's sources.yml is regenerated from the lake layout first
    (`dbt_sources`). Raises subprocess.CalledProcessError if `dbt parse` fails."""
    dbt_sources.write_if_changed(DBT_DIR / "models" / "sources.yml")
    if not manifest_is_stale(dbt_project):
        return dbt_project.manifest_path
    dbt_project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
    with open(dbt_project.manifest_path.parent / ".parse.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            if manifest_is_stale(dbt_project):
                subprocess.run(
                    [
                        DBT_EXECUTABLE,
                        "parse",
                        "--project-dir",
                        str(DBT_DIR),
                        "--profiles-dir",
                        str(DBT_DIR),
                        "--quiet",
                    ],
                    check=True,
                    env={**os.environ, "SPYMASTER_LAKE": str(lake_io.lake_root())},
                )
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return dbt_project.manifest_path


def prepare_if_dev() -> None:
    """`prepare()` under `dagster dev` only (dagster-dbt's own test, as `DbtProject.prepare_if_dev`),
    so a reloaded code location picks up edited models; elsewhere nothing."""
    if dbt_project.preparer.using_dagster_dev():
        prepare()


if __name__ == "__main__":
    print(prepare())
