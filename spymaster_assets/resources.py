"""Resources injected by name into assets."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from spymaster_core.io import lake
from spymaster_core.io import landing as landing_io


class LakeResource(dg.ConfigurableResource):
    """The lake root (`SPYMASTER_LAKE`: a directory, default ./data/lake, or s3://bucket/prefix);
    landing lives under it. See `spymaster_core.io.lake` for how writes stay atomic on each."""

    root: str = ""

    @property
    def path(self) -> lake.LakePath:
        """The root: a local Path, or the URL string of a remote lake."""
        return lake.resolve_root(self.root) if self.root else lake.lake_root()

    @property
    def remote(self) -> bool:
        return lake.is_remote(self.path)

    @property
    def landing(self) -> lake.LakePath:
        """Where vendor files land: <root>/landing (local or remote)."""
        return landing_io.landing_root(self.path)

    def local_landing(self, date: str) -> Path:
        """A local folder holding `date`'s landing files (see `spymaster_core.io.landing.local_landing`)."""
        return landing_io.local_landing(self.path, date)

    @property
    def data_dir(self) -> Path:
        """Project data dir: MLflow store, DuckDB file (`SPYMASTER_DATA`; default the lake's parent
        directory, or ./data for a remote lake)."""
        default = "data" if self.remote else str(Path(self.path).parent)
        return Path(os.environ.get("SPYMASTER_DATA") or default).resolve()

    @property
    def duckdb_path(self) -> Path:
        """The Gold DuckDB file (`SPYMASTER_DUCKDB`, default <data dir>/spymaster.duckdb); always local."""
        return Path(os.environ.get("SPYMASTER_DUCKDB") or str(self.data_dir / "spymaster.duckdb")).resolve()
