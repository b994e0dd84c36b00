"""Level touches (DESIGN §6).

Within RTH 09:30-13:30 ET, a touch is the first trade within TOUCH_BAND of a level after price
has traded at least MONITOR_BAND away from it (the level re-arms each time price goes that far).
Direction is SUPPORT when the approach came from above, RESISTANCE from below. Dynamic levels
(SMAs) are compared with their latest value known at the trade (as-of join, no look-ahead).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.config import Config


def touch_indices(
    price: np.ndarray, level: np.ndarray, monitor_band: float, touch_band: float
) -> list[tuple[int, int]]:
    """(trade index, approach sign) of each touch on one level's price series.

    price, level: float arrays of equal length (level may vary: dynamic levels; NaN = unknown).
    approach sign is +1 when price came from above the level (SUPPORT), -1 from below.
    """
    return touch_scan(price, level, monitor_band, touch_band)[0]


def touch_scan(
    price: np.ndarray, level: np.ndarray, monitor_band: float, touch_band: float, armed_sign: int = 0
) -> tuple[list[tuple[int, int]], int]:
    """`touch_indices` from a given arming state, also returning the state after the last trade
    (the sign of the side price was last seen MONITOR_BAND away on; 0 = not armed), so a live
    feed can continue the scan trade by trade."""
    out: list[tuple[int, int]] = []
    dist = price - level
    for i in range(len(price)):
        d = dist[i]
        if np.isnan(d):
            continue
        if abs(d) >= monitor_band:
            armed_sign = 1 if d > 0 else -1
        elif abs(d) <= touch_band and armed_sign != 0:
            out.append((i, armed_sign))
            armed_sign = 0
    return out, armed_sign


def detect_touches(
    trades: pl.DataFrame, levels: pl.DataFrame, date: dt.date | str, cfg: Config
) -> pl.DataFrame:
    """Touches of every level on one date; `silver.touches.v2` columns (`resolution` = `trade`).

    trades: `ts_event_ns`, `price` sorted by time. levels: `silver.levels.v1`.
    """
    return detect_touches_with_state(trades, levels, date, cfg)[0]


@dataclass
class ArmState:
    """Where one level's touch scan stands after the trades seen: its latest known price
    (points; NaN if not yet known), the arming sign (see `touch_scan`) and its kind."""

    level_price: float
    armed_sign: int
    kind: str


def touch_row(
    date: str,
    level_id: str,
    kind: str,
    ts_ns: int,
    level_price: float,
    sign: int,
    touch_price: float,
    prior_touches: int,
    resolution: str,
) -> dict:
    """One `silver.touches.v2` row; the one place the touch id (`<date>:<level_id>:<ts_ns>`) and the
    direction rule (approached from above = SUPPORT) are written, for the trade and bar paths."""
    return {
        "touch_id": f"{date}:{level_id}:{ts_ns}",
        "date": date,
        "ts_ns": ts_ns,
        "level_id": level_id,
        "level_kind": kind,
        "level_price": level_price,
        "direction": "SUPPORT" if sign > 0 else "RESISTANCE",
        "touch_price": touch_price,
        "prior_touches": prior_touches,
        "resolution": resolution,
    }


def detect_touches_with_state(
    trades: pl.DataFrame, levels: pl.DataFrame, date: dt.date | str, cfg: Config
) -> tuple[pl.DataFrame, dict[str, ArmState]]:
    """`detect_touches` plus each level's `ArmState` after the last trade, so the scan can go on
    trade by trade (`touch_scan` with armed_sign) with the same result as a rerun."""
    d = date if isinstance(date, str) else date.isoformat()
    t0 = calendar.et_ns(d, cfg.session.rth_open)
    t1 = calendar.et_ns(d, cfg.session.touch_window_end)
    # Arming may happen before the window opens, from the time the level is known.
    day = trades.filter(pl.col("ts_event_ns") < t1).select("ts_event_ns", "price").sort("ts_event_ns")
    rows: list[dict] = []
    states: dict[str, ArmState] = {}
    for level_id in levels["level_id"].unique(maintain_order=True).to_list():
        lv = levels.filter(pl.col("level_id") == level_id).sort("valid_from_ns")
        kind = lv["kind"][0]
        joined = day.join_asof(
            lv.select("valid_from_ns", "price").rename({"price": "level_price"}),
            left_on="ts_event_ns",
            right_on="valid_from_ns",
            strategy="backward",
        )
        px = joined["price"].to_numpy()
        lvl = joined["level_price"].fill_null(np.nan).to_numpy().astype(np.float64)
        ts = joined["ts_event_ns"].to_numpy()
        n_prior = 0
        found, armed = touch_scan(px, lvl, cfg.bands.MONITOR_BAND_pt, cfg.bands.TOUCH_BAND_pt)
        states[level_id] = ArmState(float(lvl[-1]) if len(lvl) else np.nan, armed, kind)
        for i, sign in found:
            if ts[i] < t0:
                continue
            rows.append(
                touch_row(d, level_id, kind, int(ts[i]), float(lvl[i]), sign, float(px[i]), n_prior, "trade")
            )
            n_prior += 1
    empty = pl.from_arrow(S.TOUCHES.arrow.empty_table())
    if not rows:
        return empty, states
    return pl.DataFrame(rows, schema=empty.schema).sort("ts_ns", "level_id"), states
