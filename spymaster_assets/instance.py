"""The project's Dagster instance and lake settings for commands run outside `dagster dev` (the
demo, `spymaster ingest`): everything under one data dir, unless the environment says otherwise."""

from __future__ import annotations

import os
from pathlib import Path


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
