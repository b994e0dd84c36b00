"""Resources injected by name into assets."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dagster as dg

from spymaster_core.bronze import builders as bronze
from spymaster_core.io import lake


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
        return lake.join(self.path, "landing")

    def local_landing(self, date: str) -> Path:
        """A local landing folder holding `date`'s files, for decoders that read local files
        (databento's DBNStore). A local lake's landing is returned as is; a remote one's files for
        the date are mirrored to `<cache>/landing/<dataset>/<schema>/<date>/` first (kept while
        their sizes match), where <cache> is `SPYMASTER_CACHE` (default: <temp dir>/spymaster-cache)."""
        if not self.remote:
            return Path(self.landing)
        cache = (
            Path(os.environ.get("SPYMASTER_CACHE") or Path(tempfile.gettempdir()) / "spymaster-cache")
            / "landing"
        )
        for dataset in (bronze.DATASET_DIR, "CSV"):
            files = lake.glob(lake.join(self.landing, dataset), f"*/{date}/*")
            for folder in sorted({str(f).rsplit("/", 1)[0] for f in files}):
                schema = folder.rsplit("/", 2)[-2]
                lake.download_dir(folder, cache / dataset / schema / date)
        return cache

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
