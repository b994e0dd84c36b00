"""`spymaster ingest`: land vendor files in the lake and build their dates' Bronze through Dagster.

DBN files land on the trading date of their first record (`spymaster_core.io.landing`), trades CSVs
under landing/CSV/trades; then every Bronze asset is materialized for each landed date, on the same
Dagster instance as the demo and `make dagster`, so the UI shows the runs and their metadata. Dates
that received Databento `ohlcv-1m` files get the bar tier built instead (one run per stretch of
consecutive dates; dates with tick files as well get both).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from spymaster_assets.bars_import import RANGE_END_TAG, RANGE_START_TAG, stretches
from spymaster_assets.instance import materialize, prepare_location


def land(paths: list[Path], lake_root, echo: Callable[[str], None]) -> dict[str, set[str]]:  # noqa: ANN001
    """Land `paths` (DBN files or trades CSVs) under `<lake_root>/landing`; return {trading date that
    received a file: the schemas landed for it (`csv` for a trades CSV)}. A remote (s3://) lake
    gets the files uploaded after landing them locally (`landing.staged_landing`). Raises ValueError naming a file that cannot be landed (unreadable, no records)."""
    from spymaster_core.io import landing as landing_io

    dates: dict[str, set[str]] = {}
    with landing_io.staged_landing(lake_root) as (local, publish):
        dbn_files = [p for p in paths if p.suffix != ".csv"]
        rep = landing_io.land_files(dbn_files, local)
        for src, reason in rep.skipped:
            if "same records" not in reason:
                raise ValueError(f"{src}: not landed: {reason}")
            echo(f"[land] skipped {src.name}: {reason}")
        landed = [dest for _, dest in rep.landed]
        landed += [landing_io.land_csv(p, local) for p in paths if p.suffix == ".csv"]
        for dest in landed:
            dates.setdefault(dest.parent.name, set()).add(dest.parent.parent.name)
            echo(f"[land] {dest.relative_to(local)}")
            publish(dest)
    return dates


def ingest(
    paths: list[Path], data_dir: Path, echo: Callable[[str], None] = print
) -> dict[str, dict[str, int]]:
    """Land `paths` and materialize the Bronze assets for every date they landed on; return
    {date: {bronze table: rows}}. Raises ValueError for a file that cannot be landed and
    `dagster.DagsterExecutionStepExecutionError` (naming the asset) when a Bronze step fails."""
    prepare_location(data_dir.resolve())
    import dagster as dg

    from spymaster_assets.definitions import defs
    from spymaster_assets.defs import bar_tier
    from spymaster_core.io import lake

    landed = land(paths, lake.lake_root(), echo)
    dates = sorted(landed)
    graph = defs.resolve_asset_graph()
    bronze = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "bronze"]
    out: dict[str, dict[str, int]] = {}
    bar_dates = [d for d, schemas in landed.items() if "ohlcv-1m" in schemas]
    for start, end in stretches(bar_dates):  # Databento 1-minute bars: the bar tier, one run per stretch
        run = materialize(
            dg.AssetSelection.groups(bar_tier.GROUP), tags={RANGE_START_TAG: start, RANGE_END_TAG: end}
        )
        echo(f"[bars] built the bar tier for {start}..{end} (run {run.run_id[:8]})")
    dates = [d for d in dates if landed[d] != {"ohlcv-1m"}]  # dates with tick data: the Bronze assets
    for d in dates:
        res = materialize(dg.AssetSelection.assets(*bronze), partition_key=d)
        out[d] = {
            ev.asset_key.path[-1]: int(ev.materialization.metadata["rows"].value)
            for ev in res.get_asset_materialization_events()
        }
        echo(
            f"[bronze] {d}: "
            + ", ".join(f"{k.removeprefix('bronze_')}={v:,}" for k, v in sorted(out[d].items()))
        )
    return out
