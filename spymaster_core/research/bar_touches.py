"""Level touches at bar resolution (DESIGN §6, "Bar resolution"), from 1-minute bars.

Per level, over the 1-minute bars in time order from when the level is known, with the level value
known at the bar's start (as-of join on `valid_from_ns`): for each bar first the touch test, then
arming. Armed from above and `low <= L + TOUCH_BAND` -> SUPPORT touch; armed from below and
`high >= L - TOUCH_BAND` -> RESISTANCE touch; a touch disarms and is recorded only when the bar starts
in [rth_open, touch_window_end) ET. Then `close >= L + MONITOR_BAND` arms from above,
`close <= L - MONITOR_BAND` from below. The touch time is the bar's start; `resolution` is `1m`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.config import Config
from spymaster_core.research.touches import touch_row

RESOLUTION = "1m"


def bar_touch_scan(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    level: np.ndarray,
    in_window: np.ndarray,
    monitor_band: float,
    touch_band: float,
) -> list[tuple[int, int]]:
    """(bar index, approach sign) of each touch of one level over 1-minute bars (module docstring).

    high/low/close/level: float arrays of equal length in points (level NaN = not yet known);
    in_window: bool array, the bar starts inside the touch window. Sign +1 = SUPPORT (armed from
    above), -1 = RESISTANCE."""
    out: list[tuple[int, int]] = []
    armed = 0
    for i in range(len(level)):
        lv = level[i]
        if np.isnan(lv):
            continue
        if in_window[i] and (
            (armed > 0 and low[i] <= lv + touch_band) or (armed < 0 and high[i] >= lv - touch_band)
        ):
            out.append((i, armed))
            armed = 0
        if close[i] >= lv + monitor_band:
            armed = 1
        elif close[i] <= lv - monitor_band:
            armed = -1
    return out


def detect_bar_touches(
    bars_1m: pl.DataFrame, levels: pl.DataFrame, date: dt.date | str, cfg: Config
) -> pl.DataFrame:
    """Touches of every level on one date from its 1-minute bars; `silver.touches.v2` columns with
    `resolution` = `1m` and `touch_price` = the level price (a bar has no touch print).

    bars_1m: `futures.ohlcv_1m.v1` rows of the date (`bar_start_ns`, `high`, `low`, `close`).
    levels: `silver.levels.v1`."""
    d = date if isinstance(date, str) else date.isoformat()
    t0 = calendar.et_ns(d, cfg.session.rth_open)
    t1 = calendar.et_ns(d, cfg.session.touch_window_end)
    day = (
        bars_1m.filter(pl.col("bar_start_ns") < t1)
        .select("bar_start_ns", "high", "low", "close")
        .sort("bar_start_ns")
    )
    ts = day["bar_start_ns"].to_numpy()
    in_window = ts >= t0
    hi, lo, cl = (day[c].to_numpy().astype(np.float64) for c in ("high", "low", "close"))
    rows: list[dict] = []
    for level_id in levels["level_id"].unique(maintain_order=True).to_list():
        lv = levels.filter(pl.col("level_id") == level_id).sort("valid_from_ns")
        kind = lv["kind"][0]
        joined = day.select("bar_start_ns").join_asof(
            lv.select("valid_from_ns", "price"),
            left_on="bar_start_ns",
            right_on="valid_from_ns",
            strategy="backward",
        )
        lvl = joined["price"].fill_null(np.nan).to_numpy().astype(np.float64)
        found = bar_touch_scan(hi, lo, cl, lvl, in_window, cfg.bands.MONITOR_BAND_pt, cfg.bands.TOUCH_BAND_pt)
        for n_prior, (i, sign) in enumerate(found):
            level_px = float(lvl[i])  # a bar has no touch print: the touch price is the level's
            rows.append(
                touch_row(d, level_id, kind, int(ts[i]), level_px, sign, level_px, n_prior, RESOLUTION)
            )
    empty = pl.from_arrow(S.TOUCHES.arrow.empty_table())
    if not rows:
        return empty
    return pl.DataFrame(rows, schema=empty.schema).sort("ts_ns", "level_id")
