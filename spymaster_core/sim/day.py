"""A simulated date taken through Bronze and the Silver inputs of the engines, without Dagster.

Tests, the parity check and `benchmarks/bench_silver.py` use it to get one date's Bronze files and
frames (trades, MBP-10 parts, 0DTE options) plus levels, touches and labels in one call. The
Dagster assets run the same functions partition by partition.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from databento_dbn import Schema

from spymaster_core.bronze import builders as bronze
from spymaster_core.config import Config
from spymaster_core.research.session import Session, load_session
from spymaster_core.sim.session import simulate_session


@dataclass
class SimDay(Session):
    """A simulated date's `Session` plus the simulator's result (`sim`: `SimResult` with the
    planted regimes; None when the landing files were already there)."""

    sim: object = None


def build_sim_day(date: str, seed: int, workdir: Path, cfg: Config, scale: str = "demo") -> SimDay:
    """Simulate `date` into workdir/landing (reused when already there) and build it with
    `spymaster_core.research.session.load_session` (Bronze MBP-10 into workdir/bronze_mbp10)."""
    landing = workdir / "landing"
    sim = None
    if not bronze.landing_files(landing, Schema.MBP_10, date):
        sim = simulate_session(date, seed, landing, scale=scale)
    s = load_session(landing, date, workdir, cfg)
    return SimDay(**{f.name: getattr(s, f.name) for f in fields(s)}, sim=sim)
