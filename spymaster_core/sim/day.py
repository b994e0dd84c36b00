"""A simulated date taken through Bronze and the Silver inputs of the engines, without Dagster.

Tests, the parity check and `benchmarks/bench_silver.py` use it to get one date's Bronze files and
frames (trades, MBP-10 parts, 0DTE options) plus levels, touches and labels in one call. The
Dagster assets run the same functions partition by partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from spymaster_core import bars, bronze, labels, levels, touches
from spymaster_core.config import Config
from spymaster_core.sim.session import simulate_session


@dataclass
class SimDay:
    """One simulated date's Bronze and Silver inputs: MBP-10 part files (time order), trades,
    option frames (`definitions`, `bbo`, `trades`, `statistics`), levels, touches, labels, and the
    simulator's planted regimes (`SimResult.planted`)."""

    date: str
    mbp10_files: list[Path]
    trades: pl.DataFrame
    options: dict[str, pl.DataFrame]
    levels: pl.DataFrame
    touches: pl.DataFrame
    labels: pl.DataFrame
    sim: object = None
    notes: dict[str, object] = field(default_factory=dict)


def build_sim_day(date: str, seed: int, workdir: Path, cfg: Config, scale: str = "demo") -> SimDay:
    """Simulate `date` into workdir/landing (reused when already there) and build Bronze into
    workdir/bronze_mbp10 and frames. SMA levels have no warm-up history here (PM/OR levels only)."""
    landing = workdir / "landing"
    sim = None
    if not bronze.landing_files(landing, "mbp-10", date):
        sim = simulate_session(date, seed, landing, scale=scale)
    tr = bronze.futures_trades(landing, date)
    front = tr.notes.get("front_month") if isinstance(tr.notes.get("front_month"), str) else None
    out = workdir / "bronze_mbp10"
    if not list(out.glob("part-*.parquet")):
        bronze.futures_mbp10(landing, date, front, out)
    defs = bronze.options_definitions(landing, date, front).table
    options = {
        "definitions": pl.from_arrow(defs),
        "bbo": pl.from_arrow(bronze.options_bbo(landing, date, defs).table),
        "trades": pl.from_arrow(bronze.options_trades(landing, date, defs).table),
        "statistics": pl.from_arrow(bronze.options_statistics(landing, date, defs).table),
    }
    trades = pl.from_arrow(tr.table)
    b = bars.time_bars(trades, cfg.levels.bar_minutes)
    lv, _missing = levels.compute_levels(trades, b, date, cfg)
    tc = touches.detect_touches(trades, lv, date, cfg)
    lb = labels.label_touches(trades, tc, cfg)
    return SimDay(date, sorted(out.glob("part-*.parquet")), trades, options, lv, tc, lb, sim)
