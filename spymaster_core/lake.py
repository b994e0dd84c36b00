"""The lake on local disk (DESIGN §4): partition paths, atomic Parquet writes, reads.

Every write goes to a temporary directory beside the target and is swapped in with renames, so a
failed run leaves the previous good partition untouched and a reader never sees half a partition.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_LAKE = Path("data/lake")
ROW_GROUP_ROWS = 256_000

TABLE_DIRS: dict[str, str] = {
    "futures_trades": "bronze/futures/trades/symbol=ES",
    "futures_mbp10": "bronze/futures/mbp10/symbol=ES",
    "options_definitions": "bronze/options/definitions/underlying=ES",
    "options_trades": "bronze/options/trades/underlying=ES",
    "options_bbo": "bronze/options/bbo/underlying=ES",
    "options_statistics": "bronze/options/statistics/underlying=ES",
    "bars_2m": "silver/bars_2m",
    "levels": "silver/levels",
    "touches": "silver/touches",
    "features": "silver/features",
    "labels": "silver/labels",
    "gold_training": "gold/training/gold_training",
    "gold_daily_touches": "gold/training/gold_daily_touches",
}


def lake_root() -> Path:
    """`SPYMASTER_LAKE` (unset or empty: ./data/lake)."""
    return Path(os.environ.get("SPYMASTER_LAKE") or str(DEFAULT_LAKE)).resolve()


def partition_dir(root: Path, table: str, date: str) -> Path:
    """Directory of one daily partition, e.g. root/silver/touches/date=2026-11-16."""
    if table not in TABLE_DIRS:
        raise KeyError(f"unknown lake table {table!r}; known: {sorted(TABLE_DIRS)}")
    return root / TABLE_DIRS[table] / f"date={date}"


class PartitionWriter:
    """Write one partition incrementally and swap it in atomically on `commit()`.

    Usage: `with PartitionWriter(root, table, date) as w: w.path ...; w.commit()`. Files go to a
    temporary directory beside the target; without `commit()` (an exception, a crash) the
    temporary directory is removed and the previous partition is untouched.
    """

    def __init__(self, root: Path, table: str, date: str) -> None:
        self.final = partition_dir(root, table, date)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.token = uuid.uuid4().hex[:8]
        self.path = self.final.with_name(f".{self.final.name}.tmp-{self.token}")

    def __enter__(self) -> PartitionWriter:
        self.path.mkdir()
        return self

    def commit(self) -> Path:
        old = self.final.with_name(f".{self.final.name}.old-{self.token}")
        if self.final.exists():
            os.replace(self.final, old)
        os.replace(self.path, self.final)
        if old.exists():
            shutil.rmtree(old)
        return self.final

    def __exit__(self, *exc: object) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)


def write_partition(root: Path, table: str, date: str, data: pa.Table | pl.DataFrame) -> Path:
    """Atomically replace one partition with `data` (one Parquet file, zstd, sized row groups).

    Returns the partition directory. The old partition stays in place until the new one is complete.
    """
    if isinstance(data, pl.DataFrame):
        data = data.to_arrow()
    with PartitionWriter(root, table, date) as w:
        pq.write_table(data, w.path / "part-0.parquet", compression="zstd", row_group_size=ROW_GROUP_ROWS)
        return w.commit()


def write_file(path: Path, data: pa.Table | pl.DataFrame) -> Path:
    """Atomically replace the single Parquet file `path` (written to a temp name, then renamed)."""
    if isinstance(data, pl.DataFrame):
        data = data.to_arrow()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        pq.write_table(data, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_table(root: Path, table: str) -> pl.DataFrame | None:
    """Every written partition of `table` as one DataFrame (columns unioned by name), or None."""
    files = sorted((root / TABLE_DIRS[table]).glob("date=*/*.parquet"))
    if not files:
        return None
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def read_partition(root: Path, table: str, date: str) -> pl.DataFrame | None:
    """The partition as a DataFrame, or None if it was never written."""
    d = partition_dir(root, table, date)
    files = sorted(d.glob("*.parquet"))
    if not files:
        return None
    return pl.read_parquet(files)


def written_dates(root: Path, table: str) -> list[str]:
    """Dates (YYYY-MM-DD) with a written partition of `table`, sorted."""
    base = root / TABLE_DIRS[table]
    if not base.exists():
        return []
    return sorted(p.name.removeprefix("date=") for p in base.glob("date=*") if any(p.glob("*.parquet")))
