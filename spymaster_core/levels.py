"""Price levels for a trading date (DESIGN §6): PM high/low, opening-range high/low, SMA-200/400.

A level row says when it becomes known (`valid_from_ns`), so touch detection never looks ahead:
PM levels are known at 09:30 ET, OR levels at 09:45 ET, an SMA value at the close of the bar it
includes. SMAs are on 2-minute bar closes with warm-up from earlier dates' bars.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.config import Config


def _range_levels(trades: pl.DataFrame, start_ns: int, end_ns: int, hi: str, lo: str) -> list[dict]:
    w = trades.filter((pl.col("ts_event_ns") >= start_ns) & (pl.col("ts_event_ns") < end_ns))
    if w.is_empty():
        return []
    return [
        {
            "level_id": hi,
            "kind": hi,
            "price": float(w["price"].max()),
            "valid_from_ns": end_ns,
            "is_dynamic": False,
        },
        {
            "level_id": lo,
            "kind": lo,
            "price": float(w["price"].min()),
            "valid_from_ns": end_ns,
            "is_dynamic": False,
        },
    ]


def compute_levels(
    trades: pl.DataFrame, bars_history: pl.DataFrame, date: dt.date | str, cfg: Config
) -> tuple[pl.DataFrame, list[str]]:
    """Levels of one date and the list of level kinds that could not be built (with reasons).

    trades: the date's futures trades (`ts_event_ns`, `price`).
    bars_history: 2-minute bars of earlier dates (warm-up) and this date, `bar_start_ns`, `close`.
    Returns (`silver.levels.v1` frame, missing) where missing holds strings like
    "PM_HIGH/PM_LOW: no trades 04:00-09:30 ET".
    """
    s = cfg.session
    pm0, rth0 = calendar.et_ns(date, s.premarket_start), calendar.et_ns(date, s.rth_open)
    or1 = calendar.et_ns(date, s.opening_range_end)
    rows: list[dict] = []
    missing: list[str] = []
    pm = _range_levels(trades, pm0, rth0, "PM_HIGH", "PM_LOW")
    rows += pm
    if not pm:
        missing.append(f"PM_HIGH/PM_LOW: no trades {s.premarket_start}-{s.rth_open} ET")
    orl = _range_levels(trades, rth0, or1, "OR_HIGH", "OR_LOW")
    rows += orl
    if not orl:
        missing.append(f"OR_HIGH/OR_LOW: no trades {s.rth_open}-{s.opening_range_end} ET")
    day_start, day_end = calendar.session_bounds_ns(date)
    bar_ns = cfg.levels.bar_minutes * 60 * 1_000_000_000
    hist = bars_history.sort("bar_start_ns")
    for n in cfg.levels.sma_periods:
        kind = f"SMA_{n}"
        sma = hist.with_columns(sma=pl.col("close").rolling_mean(window_size=n)).filter(
            (pl.col("bar_start_ns") >= day_start)
            & (pl.col("bar_start_ns") < day_end)
            & pl.col("sma").is_not_null()
        )
        if sma.is_empty():
            missing.append(f"{kind}: fewer than {n} two-minute bars of history up to this date")
            continue
        rows += [
            {
                "level_id": kind,
                "kind": kind,
                "price": float(v),
                "valid_from_ns": int(t) + bar_ns,
                "is_dynamic": True,
            }
            for t, v in zip(sma["bar_start_ns"], sma["sma"], strict=True)
        ]
    if not rows:
        return pl.from_arrow(S.LEVELS.arrow.empty_table()), missing
    return pl.DataFrame(rows, schema=pl.from_arrow(S.LEVELS.arrow.empty_table()).schema), missing
