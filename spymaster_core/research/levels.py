"""Price levels for a trading date (DESIGN §6): PM high/low, opening-range high/low, SMA-200/400.

A level row says when it becomes known (`valid_from_ns`), so touch detection never looks ahead:
PM levels are known at 09:30 ET, OR levels at 09:45 ET, an SMA value at the close of the bar it
includes. SMAs are on 2-minute bar closes with warm-up from earlier dates' bars. The optional
kinds (prior-day high/low/close, VWAP, round numbers, gamma call/put walls) are in `extra_levels`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.config import Config
from spymaster_core.engines.fuel import fuel_metrics
from spymaster_core.research import option_chain


def _level(kind: str, price: float, valid_from_ns: int, dynamic: bool, level_id: str | None = None) -> dict:
    """One `silver.levels.v1` row: price in points, known from `valid_from_ns` (ns UTC); a dynamic
    level (SMA, VWAP, walls) has one row per update, its latest row before t being its value at t."""
    return {
        "level_id": level_id or kind,
        "kind": kind,
        "price": float(price),
        "valid_from_ns": int(valid_from_ns),
        "is_dynamic": dynamic,
    }


def _range_levels(ranges: pl.DataFrame, start_ns: int, end_ns: int, hi: str, lo: str) -> list[dict]:
    """High/low levels over [start_ns, end_ns), known at end_ns. ranges: `ts`, `high`, `low` (a trade
    is a row with high = low = price; a 1-minute bar a row stamped with its start)."""
    w = ranges.filter((pl.col("ts") >= start_ns) & (pl.col("ts") < end_ns))
    if w.is_empty():
        return []
    return [_level(hi, w["high"].max(), end_ns, False), _level(lo, w["low"].min(), end_ns, False)]


def _core_levels(
    ranges: pl.DataFrame, bars_history: pl.DataFrame, date: dt.date | str, cfg: Config, what: str
) -> tuple[list[dict], list[str]]:
    """PM and OR high/low from `ranges` (see `_range_levels`; `what` names its rows in messages) and the
    SMAs from `bars_history`: the default level kinds, one rule for trades and 1-minute bars."""
    s = cfg.session
    pm0, rth0 = calendar.et_ns(date, s.premarket_start), calendar.et_ns(date, s.rth_open)
    or1 = calendar.et_ns(date, s.opening_range_end)
    rows: list[dict] = []
    missing: list[str] = []
    pm = _range_levels(ranges, pm0, rth0, "PM_HIGH", "PM_LOW")
    rows += pm
    if not pm:
        missing.append(f"PM_HIGH/PM_LOW: no {what} {s.premarket_start}-{s.rth_open} ET")
    orl = _range_levels(ranges, rth0, or1, "OR_HIGH", "OR_LOW")
    rows += orl
    if not orl:
        missing.append(f"OR_HIGH/OR_LOW: no {what} {s.rth_open}-{s.opening_range_end} ET")
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
            _level(kind, v, t + bar_ns, True) for t, v in zip(sma["bar_start_ns"], sma["sma"], strict=True)
        ]
    return rows, missing


def _frame(rows: list[dict]) -> pl.DataFrame:
    empty = pl.from_arrow(S.LEVELS.arrow.empty_table())
    return pl.DataFrame(rows, schema=empty.schema) if rows else empty


def compute_levels(
    trades: pl.DataFrame,
    bars_history: pl.DataFrame,
    date: dt.date | str,
    cfg: Config,
    options: dict[str, pl.DataFrame | None] | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """Levels of one date and the list of level kinds that could not be built (with reasons).

    trades: the date's futures trades (`ts_event_ns`, `price`).
    bars_history: 2-minute bars of earlier dates (warm-up) and this date, `bar_start_ns`, `close`.
    Returns (`silver.levels.v1` frame, missing) where missing holds strings like
    "PM_HIGH/PM_LOW: no trades 04:00-09:30 ET".
    """
    ranges = trades.select(pl.col("ts_event_ns").alias("ts"), high="price", low="price")
    rows, missing = _core_levels(ranges, bars_history, date, cfg, "trades")
    rows += extra_levels(trades, bars_history.sort("bar_start_ns"), date, cfg, missing, options)
    return _frame(rows), missing


def bar_levels(
    bars_1m: pl.DataFrame, bars_history: pl.DataFrame, date: dt.date | str, cfg: Config
) -> tuple[pl.DataFrame, list[str]]:
    """Levels of one date at bar resolution (DESIGN §6): PM/OR high/low over the 1-minute bars
    starting in the windows (a bar's high/low stand for its trades, so these equal the trade-built
    levels when the bars come from the same trades), SMAs on `bars_history` (2-minute bars of the
    warm-up dates and this date, `bars.bars_from_1m`), and the prior-day kinds when enabled. VWAP,
    round numbers and gamma walls need trades or options: listed in `missing` when enabled.

    bars_1m: `futures.ohlcv_1m.v1` rows of the date. Returns (`silver.levels.v1`, missing)."""
    ranges = bars_1m.select(pl.col("bar_start_ns").alias("ts"), "high", "low")
    rows, missing = _core_levels(ranges, bars_history, date, cfg, "bars")
    lc = cfg.levels
    if lc.enable_prior_day:
        d = date if isinstance(date, str) else date.isoformat()
        rows += _prior_day_levels(bars_history.sort("bar_start_ns"), d, cfg, missing)
    for on, kinds in (
        (lc.enable_vwap, "VWAP"),
        (lc.enable_round_numbers, "ROUND"),
        (lc.enable_gamma_walls, "CALL_WALL/PUT_WALL"),
    ):
        if on:
            missing.append(f"{kinds}: bars only (needs trades or 0DTE options)")
    return _frame(rows), missing


def extra_levels(
    trades: pl.DataFrame,
    bars_history: pl.DataFrame,
    date: dt.date | str,
    cfg: Config,
    missing: list[str],
    options: dict[str, pl.DataFrame | None] | None = None,
) -> list[dict]:
    """The optional level kinds, each behind its `LevelsConfig` switch (all off by default):
    - PD_HIGH / PD_LOW / PD_CLOSE: the previous trading date's RTH (09:30-16:00 ET) high, low and
      last close from its 2-minute bars; known from this session's start.
    - VWAP: volume-weighted average trade price since the RTH open, one row per 2-minute bar
      close (known at the bar's end).
    - ROUND: multiples of `round_number_step_pt` within 4 steps of the first trade at or after the
      RTH open (known from the open), e.g. ROUND_6800.
    - CALL_WALL / PUT_WALL: the fuel engine's gamma walls each minute from the RTH open (needs the
      0DTE options frames `definitions`, `bbo`, `trades`, `statistics`).
    Kinds that cannot be built are appended to `missing` with the reason."""
    lc = cfg.levels
    d = date if isinstance(date, str) else date.isoformat()
    rows: list[dict] = []
    if lc.enable_prior_day:
        rows += _prior_day_levels(bars_history, d, cfg, missing)
    if lc.enable_vwap or lc.enable_round_numbers:
        rth0, rth1 = calendar.et_ns(d, cfg.session.rth_open), calendar.et_ns(d, cfg.session.rth_close)
        rth = trades.filter((pl.col("ts_event_ns") >= rth0) & (pl.col("ts_event_ns") < rth1)).sort(
            "ts_event_ns"
        )
        if rth.is_empty():
            missing.append("VWAP/ROUND: no RTH trades")
        else:
            if lc.enable_vwap:
                rows += _vwap_levels(rth, lc.bar_minutes)
            if lc.enable_round_numbers:
                rows += _round_levels(float(rth["price"][0]), rth0, lc.round_number_step_pt)
    if lc.enable_gamma_walls:
        rows += _gamma_wall_levels(trades, d, cfg, missing, options or {})
    return rows


def _prior_day_levels(bars_history: pl.DataFrame, d: str, cfg: Config, missing: list[str]) -> list[dict]:
    """PD_HIGH / PD_LOW / PD_CLOSE from the previous trading date's RTH bars, known from `d`'s session start."""
    prev = calendar.previous_trading_dates(d, 1)[-1].isoformat()
    p0, p1 = calendar.et_ns(prev, cfg.session.rth_open), calendar.et_ns(prev, cfg.session.rth_close)
    pb = bars_history.filter((pl.col("bar_start_ns") >= p0) & (pl.col("bar_start_ns") < p1)).sort(
        "bar_start_ns"
    )
    if pb.is_empty():
        missing.append(f"PD_HIGH/PD_LOW/PD_CLOSE: no bars for {prev} RTH")
        return []
    day_start = calendar.session_bounds_ns(d)[0]
    return [
        _level(kind, v, day_start, False)
        for kind, v in (
            ("PD_HIGH", pb["high"].max()),
            ("PD_LOW", pb["low"].min()),
            ("PD_CLOSE", pb["close"][-1]),
        )
    ]


def _vwap_levels(rth: pl.DataFrame, bar_minutes: int) -> list[dict]:
    """VWAP since the RTH open (`rth`: the RTH trades in time order), one row per bar close."""
    bar_ns = bar_minutes * 60 * 1_000_000_000
    v = (
        rth.with_columns(
            end=(pl.col("ts_event_ns") // bar_ns + 1) * bar_ns, pv=pl.col("price") * pl.col("size")
        )
        .group_by("end", maintain_order=True)
        .agg(pl.col("pv").sum(), pl.col("size").sum())
        .with_columns(vwap=pl.col("pv").cum_sum() / pl.col("size").cum_sum())
    )
    return [_level("VWAP", p, e, True) for e, p in zip(v["end"], v["vwap"], strict=True)]


def _round_levels(first_rth_price: float, rth0: int, step: float) -> list[dict]:
    """Multiples of `step` points within 4 steps of the first RTH trade, known from the open."""
    base = round(first_rth_price / step) * step
    return [_level("ROUND", base + k * step, rth0, False, f"ROUND_{base + k * step:g}") for k in range(-4, 5)]


def _gamma_wall_levels(
    trades: pl.DataFrame, d: str, cfg: Config, missing: list[str], options: dict[str, pl.DataFrame | None]
) -> list[dict]:
    chain = option_chain.chain_from_frames(options)
    if chain is None:
        missing.append("CALL_WALL/PUT_WALL: no 0DTE option definitions")
        return []
    s = cfg.session
    t0, t1 = calendar.et_ns(d, s.rth_open), calendar.et_ns(d, s.touch_window_end)
    ts, px = trades["ts_event_ns"].to_numpy(), trades["price"].to_numpy()
    rows: list[dict] = []
    for m in range(t0, t1 + 1, 60 * 1_000_000_000):
        i = int(np.searchsorted(ts, m, side="left")) - 1
        if i < 0:
            continue
        fm = fuel_metrics(chain, float(px[i]), m, t0, cfg)
        for wall, kind in ((fm.call_wall, "CALL_WALL"), (fm.put_wall, "PUT_WALL")):
            if wall is not None:
                rows.append(_level(kind, wall.strike, m, True))
    if not rows:
        missing.append("CALL_WALL/PUT_WALL: no gamma wall (no valid option quotes)")
    return rows
