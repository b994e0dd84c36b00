"""Landing assets: what files are there, and a Databento download per date."""

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
    after a cost estimate (needs DATABENTO_API_KEY). Resumable: files already landed and verified
    by their DBN metadata are kept; the metadata shows the cost of each request fetched."""
    date = context.partition_key
    if not lake.remote:
        report = databento.download(date, Path(lake.landing), context.log)
        return dg.MaterializeResult(metadata=report.metadata())
    # A remote landing: the date's landed files are mirrored locally (so verified ones are kept, not
    # fetched again), the download resumes there, then every file the remote landing lacks is
    # uploaded (one PUT each) and superseded ones are deleted.
    local = lake.local_landing(date)
    report = databento.download(date, local, context.log)
    for f in report.files:
        dest = lake_io.join(lake.landing, f.relative_to(local).as_posix())
        if f in report.fetched or not lake_io.exists(dest):
            lake_io.upload_file(f, str(dest))
    for f in report.superseded:
        lake_io.remove_file(lake_io.join(lake.landing, f.relative_to(local).as_posix()))
    return dg.MaterializeResult(metadata=report.metadata())


assets = [landing_files, databento_landing]
