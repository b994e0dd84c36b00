"""Landing assets: what files are there, and a Databento download per date."""

import tempfile
from pathlib import Path

import dagster as dg

from spymaster_assets.databento_resource import DatabentoResource, landing_inventory
from spymaster_assets.partitions import trading_day_partitions
from spymaster_assets.resources import LakeResource
from spymaster_core.io import lake as lake_io


@dg.asset(group_name="landing")
def landing_files(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Inventory of the landing folder (materialize by hand; no sensor): files and bytes per
    source, schema and date."""
    rows = landing_inventory(lake.landing)
    dates = sorted({r["date"] for r in rows})
    md = {
        "files": sum(r["files"] for r in rows),
        "bytes": sum(r["bytes"] for r in rows),
        "dates": dates,
        "inventory": dg.MetadataValue.md(
            "| source | schema | date | files | bytes |\n|---|---|---|---|---|\n"
            + "\n".join(
                f"| {r['source']} | {r['schema']} | {r['date']} | {r['files']} | {r['bytes']} |" for r in rows
            )
        ),
    }
    return dg.MaterializeResult(metadata=md)


@dg.asset(group_name="landing", partitions_def=trading_day_partitions)
def databento_landing(
    context: dg.AssetExecutionContext, lake: LakeResource, databento: DatabentoResource
) -> dg.MaterializeResult:
    """Download the partition's GLBX.MDP3 files (ES futures, ES option parents) into landing,
    after a cost estimate (needs DATABENTO_API_KEY)."""
    date = context.partition_key
    if not lake.remote:
        files = databento.download(date, Path(lake.landing))
        return dg.MaterializeResult(
            metadata={"files": [f.name for f in files], "bytes": sum(f.stat().st_size for f in files)}
        )
    # A remote landing: download to a local staging folder, then upload each file (one PUT each).
    with tempfile.TemporaryDirectory(prefix="spymaster-landing-") as tmp:
        files = databento.download(date, Path(tmp))
        for f in files:
            lake_io.upload_file(f, str(lake_io.join(lake.landing, f.relative_to(tmp).as_posix())))
        return dg.MaterializeResult(
            metadata={"files": [f.name for f in files], "bytes": sum(f.stat().st_size for f in files)}
        )


assets = [landing_files, databento_landing]
