"""Write a partition to the lake and describe it for the Dagster UI."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pyarrow as pa

from spymaster_assets.resources import LakeResource
from spymaster_assets.versioning import version_metadata
from spymaster_core import schemas as S
from spymaster_core.io import lake as lake_io


def read_or_empty(lake: LakeResource, table: str, date: str, schema: S.TableSchema) -> pl.DataFrame:
    """The partition `date` of lake `table`, or an empty frame of `schema` when it was never written."""
    t = lake_io.read_partition(lake.path, table, date)
    return pl.from_arrow(schema.arrow.empty_table()) if t is None else t


def write_and_describe(
    lake: LakeResource,
    table: str,
    date: str,
    data: pa.Table | pl.DataFrame,
    sections: tuple[str, ...],
    metadata: dict | None = None,
    checks: list[dg.AssetCheckResult] | None = None,
) -> dg.MaterializeResult:
    """Atomically write one partition; return MaterializeResult with rows, path, config hash and a
    data version from the written Parquet file's content (`lake.files_version`: its bytes on disk,
    its ETag on S3; identical inputs and config give an identical version)."""
    path = lake_io.write_partition(lake.path, table, date, data)
    rows = data.num_rows if isinstance(data, pa.Table) else data.height
    return describe_partition(path, rows, sections, metadata, checks)


def describe_partition(
    path: lake_io.LakePath,
    rows: int,
    sections: tuple[str, ...],
    metadata: dict | None = None,
    checks: list[dg.AssetCheckResult] | None = None,
) -> dg.MaterializeResult:
    """MaterializeResult for a partition already written at `path` (see `write_and_describe`).

    `rows` (the partition's row count, measured by the caller on what was written) always wins over a
    `rows` key in the caller's `metadata`."""
    digest = lake_io.files_version(lake_io.glob(path, "*.parquet"))
    md: dict = {}
    for k, v in (metadata or {}).items():
        md[k] = dg.MetadataValue.json(v) if isinstance(v, (list, dict)) else v
    md.update({"rows": rows, "path": dg.MetadataValue.path(str(path)), **version_metadata(*sections)})
    return dg.MaterializeResult(
        metadata=md, data_version=dg.DataVersion(digest[:32]), check_results=checks or []
    )
