"""CME trading calendar (pandas_market_calendars `CME_Equity`, DESIGN §4).

A trading date's session runs from the previous evening's Globex open to the close; events in
the daily halt before the open (pre-open auction) belong to the next trading date. Times are
ns since the Unix epoch, UTC; wall-clock strings are America/New_York.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pandas_market_calendars as mcal

ET = ZoneInfo("America/New_York")
CALENDAR_NAME = "CME_Equity"
MINUTE_NS = 60_000_000_000  # one minute in ns: 1-minute bars start on whole minutes of ns UTC
_CAL_START = "2010-01-01"
_CAL_END = "2028-12-31"


@lru_cache(maxsize=1)
def _schedule() -> pd.DataFrame:
    cal = mcal.get_calendar(CALENDAR_NAME)
    sched = cal.schedule(_CAL_START, _CAL_END)
    return sched[["market_open", "market_close"]]


@lru_cache(maxsize=1)
def _arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = _schedule()
    dates = np.array([d.date() for d in s.index])
    opens = s["market_open"].map(lambda t: t.value).to_numpy(dtype=np.int64)
    closes = s["market_close"].map(lambda t: t.value).to_numpy(dtype=np.int64)
    return dates, opens, closes


def trading_dates(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """CME_Equity trading dates in [start, end] inclusive."""
    s, e = _as_date(start), _as_date(end)
    dates, _, _ = _arrays()
    return [d for d in dates if s <= d <= e]


def previous_trading_dates(date: dt.date | str, n: int) -> list[dt.date]:
    """The n CME_Equity trading dates before `date`, oldest first."""
    d = _as_date(date)
    dates, _, _ = _arrays()
    idx = int(np.searchsorted(dates, d))
    return list(dates[max(0, idx - n) : idx])


def is_trading_date(date: dt.date | str) -> bool:
    """True if the date is a CME_Equity trading date."""
    d = _as_date(date)
    return d in set(_arrays()[0])


def non_trading_weekdays(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """Weekdays in [start, end] on which CME_Equity does not trade (holidays)."""
    s, e = _as_date(start), _as_date(end)
    trading = set(trading_dates(s, e))
    out = []
    d = s
    while d <= e:
        if d.weekday() < 5 and d not in trading:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def session_bounds_ns(date: dt.date | str) -> tuple[int, int]:
    """(Globex open, close) of a trading date in ns UTC. Raises ValueError for a non-trading date."""
    d = _as_date(date)
    dates, opens, closes = _arrays()
    idx = np.searchsorted(dates, d)
    if idx >= len(dates) or dates[idx] != d:
        raise ValueError(f"{d.isoformat()} is not a {CALENDAR_NAME} trading date")
    return int(opens[idx]), int(closes[idx])


def previous_trading_date(date: dt.date | str) -> dt.date | None:
    """The CME_Equity trading date before `date` (None before the calendar's first)."""
    prev = previous_trading_dates(date, 1)
    return prev[0] if prev else None


def partition_window_ns(date: dt.date | str) -> tuple[int, int]:
    """(start, end] in ns UTC of the events that belong to trading date `date` (its partition): from
    the previous trading date's close (so the daily halt and pre-open auction belong to `date`) to
    its own close; the same rule as `trading_date_of`. For the calendar's first date the window starts
    at its Globex open. Raises ValueError for a non-trading date."""
    open_ns, close_ns = session_bounds_ns(date)
    prev = previous_trading_date(date)
    return (session_bounds_ns(prev)[1] if prev is not None else open_ns - 1), close_ns


def trading_date_of(ts_ns: int | np.ndarray) -> dt.date | np.ndarray:
    """The trading date an event belongs to: the first session whose close is at or after ts.

    Accepts a scalar or an int64 array (returns an object array of dates then).
    Raises ValueError when ts is after the calendar's last session or before its first session's
    open (the calendar covers _CAL_START.._CAL_END; Databento's GLBX.MDP3 history starts 2010-06-06).
    """
    dates, opens, closes = _arrays()
    arr = np.atleast_1d(np.asarray(ts_ns, dtype=np.int64))
    idx = np.searchsorted(closes, arr, side="left")
    if (idx >= len(dates)).any():
        raise ValueError(f"timestamp beyond the {CALENDAR_NAME} calendar end {_CAL_END}")
    if len(arr) and int(arr.min()) < int(opens[0]):
        raise ValueError(f"timestamp before the {CALENDAR_NAME} calendar start {dates[0].isoformat()}")
    out = dates[idx]
    return out[0] if np.isscalar(ts_ns) or np.ndim(ts_ns) == 0 else out


def et_ns(date: dt.date | str, hhmm: str) -> int:
    """ns UTC of wall-clock `HH:MM` America/New_York on a calendar date (DST aware)."""
    d = _as_date(date)
    h, m = (int(x) for x in hhmm.split(":"))
    local = dt.datetime(d.year, d.month, d.day, h, m, tzinfo=ET)
    return int(local.timestamp()) * 1_000_000_000


def _as_date(d: dt.date | str) -> dt.date:
    if isinstance(d, dt.datetime):
        return d.date()
    if isinstance(d, dt.date):
        return d
    try:
        return dt.date.fromisoformat(d)
    except ValueError as exc:
        raise ValueError(f"bad date {d!r}: expected YYYY-MM-DD") from exc


MONTH_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}


def _third_friday(year: int, month: int) -> dt.date:
    d = dt.date(year, month, 15)
    return d + dt.timedelta(days=(4 - d.weekday()) % 7)


def front_month_symbol(date: dt.date | str) -> str:
    """Quarterly ES contract trading as front month on `date` (rolls 8 days before expiry), e.g. ESZ6."""
    date = _as_date(date)
    y, m = date.year, date.month
    while True:
        qm = next(q for q in (3, 6, 9, 12) if q >= m)
        if date <= _third_friday(y, qm) - dt.timedelta(days=8):
            return f"ES{MONTH_CODES[qm]}{y % 10}"
        m = qm + 1
        if m > 12:
            y, m = y + 1, 1


ROLL_WINDOW_DAYS = 7  # calendar days before the roll date (expiry - 8 days) that count as "around a roll"


def in_roll_window(date: dt.date | str) -> bool:
    """True from `ROLL_WINDOW_DAYS` calendar days before a quarterly roll date (8 days before the
    contract's third-Friday expiry, when `front_month_symbol` moves on) through the expiry itself:
    the days on which the most-traded ES outright can be either the expiring or the next contract,
    so a download asks for both."""
    d = _as_date(date)
    for y in (d.year - 1, d.year, d.year + 1):
        for qm in MONTH_CODES:
            expiry = _third_friday(y, qm)
            if expiry - dt.timedelta(days=8 + ROLL_WINDOW_DAYS) <= d <= expiry:
                return True
    return False
