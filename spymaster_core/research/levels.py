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
from spymaster_core.research import option_chain as option_frames


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
    rows += extra_levels(trades, hist, date, cfg, missing, options)
    if not rows:
        return pl.from_arrow(S.LEVELS.arrow.empty_table()), missing
    return pl.DataFrame(rows, schema=pl.from_arrow(S.LEVELS.arrow.empty_table()).schema), missing


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
    lc, s = cfg.levels, cfg.session
    d = date if isinstance(date, str) else date.isoformat()
    day_start, _day_end = calendar.session_bounds_ns(d)
    rth0, rth1 = calendar.et_ns(d, s.rth_open), calendar.et_ns(d, s.rth_close)
    rows: list[dict] = []
    if lc.enable_prior_day:
        prev = calendar.previous_trading_dates(d, 1)[-1].isoformat()
        p0, p1 = calendar.et_ns(prev, s.rth_open), calendar.et_ns(prev, s.rth_close)
        pb = bars_history.filter((pl.col("bar_start_ns") >= p0) & (pl.col("bar_start_ns") < p1)).sort(
            "bar_start_ns"
        )
        if pb.is_empty():
            missing.append(f"PD_HIGH/PD_LOW/PD_CLOSE: no bars for {prev} RTH")
        else:
            for kind, v in (
                ("PD_HIGH", pb["high"].max()),
                ("PD_LOW", pb["low"].min()),
                ("PD_CLOSE", pb["close"][-1]),
            ):
                rows.append(
                    {
                        "level_id": kind,
                        "kind": kind,
                        "price": float(v),
                        "valid_from_ns": day_start,
                        "is_dynamic": False,
                    }
                )
    if lc.enable_vwap or lc.enable_round_numbers:
        rth = trades.filter((pl.col("ts_event_ns") >= rth0) & (pl.col("ts_event_ns") < rth1)).sort(
            "ts_event_ns"
        )
        if rth.is_empty():
            missing.append("VWAP/ROUND: no RTH trades")
        else:
            if lc.enable_vwap:
                bar_ns = lc.bar_minutes * 60 * 1_000_000_000
                v = (
                    rth.with_columns(
                        end=(pl.col("ts_event_ns") // bar_ns + 1) * bar_ns,
                        pv=pl.col("price") * pl.col("size"),
                    )
                    .group_by("end", maintain_order=True)
                    .agg(pl.col("pv").sum(), pl.col("size").sum())
                )
                v = v.with_columns(vwap=pl.col("pv").cum_sum() / pl.col("size").cum_sum())
                rows += [
                    {
                        "level_id": "VWAP",
                        "kind": "VWAP",
                        "price": float(p),
                        "valid_from_ns": int(e),
                        "is_dynamic": True,
                    }
                    for e, p in zip(v["end"], v["vwap"], strict=True)
                ]
            if lc.enable_round_numbers:
                step = lc.round_number_step_pt
                base = round(float(rth["price"][0]) / step) * step
                for k in range(-4, 5):
                    p = base + k * step
                    rows.append(
                        {
                            "level_id": f"ROUND_{p:g}",
                            "kind": "ROUND",
                            "price": p,
                            "valid_from_ns": rth0,
                            "is_dynamic": False,
                        }
                    )
    if lc.enable_gamma_walls:
        rows += _gamma_wall_levels(trades, d, cfg, missing, options or {})
    return rows


def _gamma_wall_levels(
    trades: pl.DataFrame, d: str, cfg: Config, missing: list[str], options: dict[str, pl.DataFrame | None]
) -> list[dict]:
    from spymaster_core.engines import fuel as fuel_engine

    defs = options.get("definitions")
    if defs is None or defs.is_empty():
        missing.append("CALL_WALL/PUT_WALL: no 0DTE option definitions")
        return []
    chain = fuel_engine.OptionChain()
    chain.add_definitions(*option_frames.definition_arrays(defs))
    bbo, otr, stats = options.get("bbo"), options.get("trades"), options.get("statistics")
    if bbo is not None and not bbo.is_empty():
        b = bbo.sort("ts_event_ns")
        chain.add_quotes(b["ts_event_ns"].to_numpy(), b["instrument_id"].to_numpy().astype("int64"),
                         b["bid_px"].to_numpy().astype("float64"), b["ask_px"].to_numpy().astype("float64"))  # fmt: skip
    if otr is not None and not otr.is_empty():
        t = otr.sort("ts_event_ns")
        chain.add_trades(t["ts_event_ns"].to_numpy(), t["instrument_id"].to_numpy().astype("int64"),
                         t["price"].to_numpy().astype("float64"), t["size"].to_numpy().astype("float64"))  # fmt: skip
    if stats is not None and not stats.is_empty():
        chain.open_interest.update(option_frames.open_interest(stats))
    s = cfg.session
    t0, t1 = calendar.et_ns(d, s.rth_open), calendar.et_ns(d, s.touch_window_end)
    ts, px = trades["ts_event_ns"].to_numpy(), trades["price"].to_numpy()
    rows: list[dict] = []
    for m in range(t0, t1 + 1, 60 * 1_000_000_000):
        i = int(np.searchsorted(ts, m, side="left")) - 1
        if i < 0:
            continue
        fm = fuel_engine.fuel_metrics(chain, float(px[i]), m, t0, cfg)
        for wall, kind in ((fm.call_wall, "CALL_WALL"), (fm.put_wall, "PUT_WALL")):
            if wall is not None:
                rows.append(
                    {
                        "level_id": kind,
                        "kind": kind,
                        "price": wall.strike,
                        "valid_from_ns": m,
                        "is_dynamic": True,
                    }
                )
    if not rows:
        missing.append("CALL_WALL/PUT_WALL: no gamma wall (no valid option quotes)")
    return rows
