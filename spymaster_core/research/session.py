"""One trading date's inputs from landing files, without Dagster: Bronze MBP-10 part files, front-
month trades, 0DTE option frames, levels, touches and labels, built by the same functions the
Dagster assets call. Used by the live replay, the simulated-day helper and the model study.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from databento_dbn import Schema

from spymaster_core.bronze import builders as bronze
from spymaster_core.config import Config
from spymaster_core.io import lake
from spymaster_core.research import date_levels, labels, touches


@dataclass
class Session:
    """One date's inputs: MBP-10 part files (time order), trades, option frames (`definitions`,
    `bbo`, `trades`, `statistics`), levels, touches, labels, and the front month (None if unknown)."""

    date: str
    mbp10_files: list[Path]
    trades: pl.DataFrame
    options: dict[str, pl.DataFrame]
    levels: pl.DataFrame
    touches: pl.DataFrame
    labels: pl.DataFrame
    front_month: str | None = None
    notes: dict[str, object] = field(default_factory=dict)


def load_session(
    landing: Path, date: str, workdir: Path, cfg: Config, lake_root: lake.LakePath | None = None
) -> Session:
    """Build `date` from the landing folder (`landing/GLBX.MDP3/<schema>/<date>/`): Bronze MBP-10
    into workdir/bronze_mbp10 (reused when there), the rest in memory.

    Levels are Silver's: read from the lake at `lake_root` when it holds the date's `silver.levels`
    partition, else built by the same rule (`date_levels.levels_for_date`, SMA warm-up from the lake's
    bars of the previous dates). `lake_root=None` (a simulated session outside the lake) builds them
    without warm-up history. Raises the Bronze errors (file, field, value) on bad input."""
    tr = bronze.futures_trades(landing, date)
    front = tr.front_month
    out = workdir / "bronze_mbp10"
    if not list(out.glob("part-*.parquet")) and bronze.landing_files(landing, Schema.MBP_10, date):
        bronze.futures_mbp10(landing, date, front, out)
    defs = bronze.options_definitions(landing, date, front).table
    options = {
        "definitions": pl.from_arrow(defs),
        "bbo": pl.from_arrow(bronze.options_bbo(landing, date, defs).table),
        "trades": pl.from_arrow(bronze.options_trades(landing, date, defs).table),
        "statistics": pl.from_arrow(bronze.options_statistics(landing, date, defs).table),
    }
    trades = pl.from_arrow(tr.table)
    lv = lake.read_partition(lake_root, "levels", date) if lake_root is not None else None
    source = "lake"
    if lv is None:
        lv = date_levels.levels_for_date(trades, date, cfg, lake_root, options).levels
        source = "computed" + (" with warm-up from the lake" if lake_root is not None else " without warm-up")
    tc = touches.detect_touches(trades, lv, date, cfg)
    lb = labels.label_touches(trades, tc, cfg)
    return Session(
        date, sorted(out.glob("part-*.parquet")), trades, options, lv, tc, lb, front, {"levels": source}
    )
