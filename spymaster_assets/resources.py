"""Resources injected by name into assets."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from spymaster_core import lake


class LakeResource(dg.ConfigurableResource):
    """The lake root (`SPYMASTER_LAKE`, default ./data/lake); landing lives under it."""

    root: str = ""

    @property
    def path(self) -> Path:
        return Path(self.root).resolve() if self.root else lake.lake_root()

    @property
    def landing(self) -> Path:
        return self.path / "landing"

    @property
    def data_dir(self) -> Path:
        """Project data dir (parent of the lake): MLflow store, DuckDB file."""
        return Path(os.environ.get("SPYMASTER_DATA") or str(self.path.parent)).resolve()

    @property
    def duckdb_path(self) -> Path:
        """The Gold DuckDB file (`SPYMASTER_DUCKDB`, default <data dir>/spymaster.duckdb)."""
        return Path(os.environ.get("SPYMASTER_DUCKDB") or str(self.data_dir / "spymaster.duckdb")).resolve()
