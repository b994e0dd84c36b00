"""A simulated date taken through Bronze and the Silver inputs of the engines, without Dagster.

Tests, the parity check and `benchmarks/bench_silver.py` use it to get one date's Bronze files and
frames (trades, MBP-10 parts, 0DTE options) plus levels, touches and labels in one call. The
Dagster assets run the same functions partition by partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from spymaster_core import bronze
from spymaster_core.config import Config
from spymaster_core.session import load_session
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
    """Simulate `date` into workdir/landing (reused when already there) and build it with
    `spymaster_core.session.load_session` (Bronze MBP-10 into workdir/bronze_mbp10)."""
    landing = workdir / "landing"
    sim = None
    if not bronze.landing_files(landing, "mbp-10", date):
        sim = simulate_session(date, seed, landing, scale=scale)
    s = load_session(landing, date, workdir, cfg)
    return SimDay(date, s.mbp10_files, s.trades, s.options, s.levels, s.touches, s.labels, sim)
