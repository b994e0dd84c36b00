"""The project's Dagster instance and lake settings for commands run outside `dagster dev` (the
demo, `spymaster ingest`): everything under one data dir, unless the environment says otherwise."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any


def setup_env(data_dir: Path) -> None:
    """Point `SPYMASTER_LAKE`, `SPYMASTER_DUCKDB`, `SPYMASTER_DATA` and `DAGSTER_HOME` at `data_dir`
    (lake/, spymaster.duckdb, ., dagster_home/) where they are unset or empty; create the Dagster
    home with telemetry off. Values already set (an s3:// lake, a Postgres instance) are kept."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for var in ("SPYMASTER_LAKE", "SPYMASTER_DUCKDB", "SPYMASTER_DATA", "DAGSTER_HOME"):
        if not os.environ.get(var):  # set but empty counts as unset (it would mean the cwd)
            os.environ.pop(var, None)
    os.environ.setdefault("SPYMASTER_LAKE", str(data_dir / "lake"))
    os.environ.setdefault("SPYMASTER_DUCKDB", str(data_dir / "spymaster.duckdb"))
    os.environ.setdefault("SPYMASTER_DATA", str(data_dir))
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(data_dir / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")


def prepare_location(data_dir: Path) -> None:
    """`setup_env(data_dir)`, then the dbt manifest (`dbt_project.prepare`), which the code location
    needs before it can be imported."""
    setup_env(data_dir)
    from spymaster_assets.dbt_project import prepare

    prepare()


def instance() -> Any:  # a DagsterInstance
    """The Dagster instance at `DAGSTER_HOME` (set by `setup_env`), loaded once per home."""
    return _instance_at(os.environ.get("DAGSTER_HOME", ""))


@functools.cache
def _instance_at(home: str) -> Any:
    import dagster as dg

    return dg.DagsterInstance.get()


def materialize(selection: Any, **kwargs: Any) -> Any:
    """`dagster.materialize` of `selection` (an AssetSelection) with every asset and check of the code
    location, on `instance()`; Dagster's console logs only warnings (callers print their own progress).
    `kwargs` go to `dagster.materialize` (partition_key, tags, raise_on_error)."""
    import dagster as dg

    from spymaster_assets.definitions import defs

    return dg.materialize(
        [*defs.assets, *defs.asset_checks],  # standalone checks run as their own steps
        instance=instance(),
        resources=defs.resources,
        selection=selection,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        **kwargs,
    )
