"""Simulated sessions of 1-minute bars, written as Databento `ohlcv-1m` DBN files (issue 19, item 3).

A cheap, bar-only generator for scale tests (years of sessions in seconds), not the tick simulator
(`sim.session`): per Globex minute a close-to-close change drawn from a Student-t (df 4, heavy tails
like real 1-minute returns) scaled by an intraday volatility profile (RTH 1.9 pt per minute, the
real bars' RTH std; overnight a third of it; the first and last RTH half hours 1.5x), a high/low
excursion beyond open/close, and a U-shaped volume profile. Prices on the 0.25 tick grid. One
front-month outright per session (`calendar.front_month_symbol`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from spymaster_core import calendar
from spymaster_core.calendar import MINUTE_NS
from spymaster_core.sim.writer import empty_records, write_records

RTH_STD_PT = 1.9  # RTH 1-minute close-to-close std of the real ES bars in ../shared/real (55 sessions)
TICK = 0.25
PRICE_UNIT = 1_000_000_000  # DBN fixed-point prices: 1e-9


def session_bars(date: str, seed: int, start_price: float = 5000.0) -> np.ndarray:
    """`ohlcv-1m` records (DBN layout) for every minute of `date`'s Globex session, in time order."""
    rng = np.random.default_rng([seed, int(date.replace("-", ""))])
    open_ns, close_ns = calendar.session_bounds_ns(date)
    ts = np.arange(open_ns, close_ns, MINUTE_NS, dtype=np.int64)
    rth0, rth1 = calendar.et_ns(date, "09:30"), calendar.et_ns(date, "16:00")
    rth = (ts >= rth0) & (ts < rth1)
    edge = rth & ((ts < rth0 + 30 * MINUTE_NS) | (ts >= rth1 - 30 * MINUTE_NS))
    scale = np.where(rth, RTH_STD_PT, RTH_STD_PT / 3) * np.where(edge, 1.5, 1.0)
    df = 4.0
    steps = rng.standard_t(df, len(ts)) * scale / np.sqrt(df / (df - 2))
    close = np.round((start_price + np.cumsum(steps)) / TICK) * TICK
    opens = np.concatenate(([start_price], close[:-1]))
    wick = np.abs(rng.normal(0, 0.5, (2, len(ts)))) * scale
    high = np.round((np.maximum(opens, close) + wick[0]) / TICK) * TICK
    low = np.round((np.minimum(opens, close) - wick[1]) / TICK) * TICK
    minutes_into_rth = (ts - rth0) / MINUTE_NS
    u_shape = 1.0 + 2.0 * (np.abs(minutes_into_rth - 195) / 195) ** 2
    volume = np.where(rth, 1500 * u_shape, 150) * rng.lognormal(0, 0.4, len(ts))
    a = empty_records("ohlcv-1m", len(ts))
    a["ts_event"] = ts
    a["instrument_id"] = 1
    for k, v in (("open", opens), ("high", high), ("low", low), ("close", close)):
        a[k] = np.round(v * PRICE_UNIT).astype(np.int64)
    a["volume"] = volume.astype(np.uint64)
    return a


def write_bars(records: np.ndarray, date: str, landing: Path) -> Path:
    """Write `session_bars` records to `landing/GLBX.MDP3/ohlcv-1m/<date>/sim.ohlcv-1m.dbn.zst`."""
    path = landing / "GLBX.MDP3" / "ohlcv-1m" / date / "sim.ohlcv-1m.dbn.zst"
    symbols = {calendar.front_month_symbol(date): 1}
    return write_records(path, "ohlcv-1m", records, symbols, dt.date.fromisoformat(date))


def write_session_bars(date: str, seed: int, landing: Path, start_price: float = 5000.0) -> Path:
    """Simulate `date` (`session_bars`) and write it (`write_bars`); returns the path."""
    return write_bars(session_bars(date, seed, start_price), date, landing)


def last_close(records: np.ndarray) -> float:
    """The session's last close in points (to chain sessions)."""
    return float(records["close"][-1]) / PRICE_UNIT
