"""`spymaster bars import`: vendor 1-minute bar CSVs -> landing slices -> the bar tier through Dagster.

Every file is read and validated in full first (`csv_bars.read_bars_csv`): a bad row stops the import
before anything is written, naming file, line, field and value. Then each file lands as one canonical
slice per trading date (`bronze.bars_1m.write_csv_slices`), and the bar-tier assets are materialized
for the landed dates as one Dagster run per stretch of consecutive trading dates (the assets'
single-run backfill policy: a multi-year file is one run, not one run per date). Then the Gold
outcome mart and the level-trade backtest (bar_backtest_trades, gold_backtest) over every bar-tier
date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spymaster_assets.dbt_project import GOLD_BACKTEST_MODELS, GOLD_BAR_MODELS
from spymaster_assets.instance import materialize, prepare_location

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass
class BarsImportResult:
    """What an import did: per file its validation summary; the dates landed; the date stretches built
    (one run each);
    rows written per bar-tier asset (summed over dates)."""

    files: list[dict[str, object]] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)  # trading dates that received bars
    stretches: list[tuple[str, str]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)


def stretches(dates: list[str]) -> list[tuple[str, str]]:
    """Consecutive CME trading dates grouped: ["2020-01-23", "2020-01-24", "2023-03-08"] ->
    [("2020-01-23", "2020-01-24"), ("2023-03-08", "2023-03-08")]."""
    from spymaster_core import calendar

    out: list[tuple[str, str]] = []
    for d in sorted(set(dates)):
        if out and calendar.previous_trading_date(d).isoformat() == out[-1][1]:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def import_bars(
    paths: list[Path], data_dir: Path, tz: str, echo: Callable[[str], None] = print, build: bool = True
) -> BarsImportResult:
    """Validate `paths`, land their per-date slices in the lake's landing, and (when `build`)
    materialize the bar tier for the landed dates. Raises `csv_bars.BarsCSVError` (nothing written)
    for a bad file and `dagster.DagsterExecutionStepExecutionError` naming the asset when a step fails."""
    prepare_location(data_dir.resolve())
    import dagster as dg

    from spymaster_assets.defs.bar_tier import GROUP
    from spymaster_core.bronze import bars_1m
    from spymaster_core.io import csv_bars, lake
    from spymaster_core.io import landing as landing_io

    res = BarsImportResult()
    imports = []
    for p in paths:
        imp = csv_bars.read_bars_csv(p, tz=tz)
        imports.append(imp)
        res.files.append(imp.summary())
        s = imp.summary()
        echo(
            f"[bars] {p.name}: {s['bars']:,} bars, {s['dates']} dates {s['first_date']}..{s['last_date']}"
            f" ({s['order']}; skipped: {s['blank_lines_skipped']} blank lines, "
            f"{s['bars_outside_sessions_skipped']} bars outside sessions; {s['bars_off_tick_grid']} off the tick grid)"
        )
    root = lake.lake_root()
    dates: set[str] = set()
    with landing_io.staged_landing(root) as (local, publish):
        for imp in imports:
            for dest in bars_1m.write_csv_slices(imp, local):
                dates.add(dest.parent.name)
                publish(dest)
    res.dates = sorted(dates)
    echo(f"[bars] landed {len(dates)} dates under {landing_io.landing_root(root)}/CSV/bars-1m/")
    if not build:
        return res
    res.stretches = stretches(res.dates)
    for start, end in res.stretches:
        run = materialize(dg.AssetSelection.groups(GROUP), tags={RANGE_START_TAG: start, RANGE_END_TAG: end})
        res.run_ids.append(run.run_id)
        seen = set()
        for ev in run.get_asset_materialization_events():  # one per date, each with the run's totals
            name = ev.asset_key.path[-1]
            if name not in seen:
                seen.add(name)
                res.rows[name] = res.rows.get(name, 0) + int(ev.materialization.metadata["rows_in_run"].value)
        echo(f"[bars] built {start}..{end} in run {run.run_id[:8]}")
    if res.stretches:  # the Gold outcome mart over every bar-tier date (dbt), then the backtest
        materialize(dg.AssetSelection.assets(*GOLD_BAR_MODELS))
        echo("[bars] built gold_bar_outcomes (dbt); backtesting the level-trade policies walk-forward")
        materialize(dg.AssetSelection.assets("bar_backtest_trades", *GOLD_BACKTEST_MODELS))
        echo("[bars] built bar_backtest_trades and gold_backtest (dbt); MLflow experiment break_bounce_bars")
    return res
