"""A date's levels with their SMA warm-up: one rule for Silver (`silver_levels`) and the live replay.

SMAs warm up on the 2-minute bars of the previous `levels.SMA_WARMUP_DAYS` trading dates that exist
in the lake (`silver.bars_2m`), never on older partitions that happen to be there (DESIGN §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from spymaster_core import calendar
from spymaster_core.config import Config
from spymaster_core.io import lake
from spymaster_core.research import bars
from spymaster_core.research.levels import compute_levels


@dataclass
class DateLevels:
    """`levels` (`silver.levels.v1`), the kinds that could not be built (`missing`, with reasons),
    and which warm-up dates were used / not found in the lake."""

    levels: pl.DataFrame
    missing: list[str] = field(default_factory=list)
    warmup_dates: list[str] = field(default_factory=list)
    warmup_dates_missing: list[str] = field(default_factory=list)


def warmup_dates(date: str, cfg: Config) -> list[str]:
    """The previous `cfg.levels.SMA_WARMUP_DAYS` CME trading dates before `date`, oldest first."""
    return [d.isoformat() for d in calendar.previous_trading_dates(date, cfg.levels.SMA_WARMUP_DAYS)]


def levels_for_date(
    trades: pl.DataFrame,
    date: str,
    cfg: Config,
    root: lake.LakePath | None,
    options: dict[str, pl.DataFrame | None] | None = None,
) -> DateLevels:
    """Levels of `date` from its front-month trades (`futures.trades.v1`), with SMA warm-up bars read
    from the lake at `root` (None: no warm-up, e.g. a simulated session outside the lake) and, when
    `cfg.levels.enable_gamma_walls`, gamma walls from the 0DTE `options` frames."""
    prior = warmup_dates(date, cfg)
    have = set(lake.written_dates(root, "bars_2m")) if root is not None else set()
    warm = [d for d in prior if d in have]
    history = [h for d in warm if (h := lake.read_partition(root, "bars_2m", d)) is not None]
    hist = pl.concat([*history, bars.time_bars(trades, cfg.levels.bar_minutes)])
    lv, missing = compute_levels(trades, hist, date, cfg, options if cfg.levels.enable_gamma_walls else None)
    return DateLevels(lv, missing, warm, [d for d in prior if d not in have])
