"""Vendor 1-minute bar CSVs (FirstRate, Barchart, TradingView exports ...) -> Bronze bars per trading date.

Accepted layout (DESIGN §3, §6 bar resolution): `timestamp,open,high,low,close[,volume]`, with or
without a header line. With a header, columns are found by name (`timestamp`/`time`/`datetime`/`date`,
`open`, `high`, `low`, `close`, optional `volume`, optional `symbol`); other columns (`tradingDay` ...)
are ignored. Without one, the fields are positional. The timestamp is the bar's start, either ISO
with an offset (`2020-01-23T00:00:00-06:00`, `...Z`) or naive wall time in the time zone the user
names (default America/New_York). Rows may be in ascending or descending time order.

Policy (one rule, stated in the import's summary): blank and comma-only lines are skipped and counted;
prices off the 0.25 tick grid are counted (back-adjusted series are allowed but reported); bars outside
every CME Globex session (the 17:00-18:00 ET maintenance hour, holidays) are skipped and counted; a
wall time repeated by the autumn DST change is resolved by file order. Everything else is an error
naming file, line, field and value: an unparseable or non-minute timestamp, a wall time skipped by the
spring DST change, a non-finite or non-positive price, OHLC that contradict (low above open/close or
high below them), a negative or fractional volume, a duplicate bar start, rows out of time order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.calendar import MINUTE_NS

TICK_SIZE_PT = 0.25  # ES minimum price increment (CME contract specs)
MAX_PRICE_PT = 1_000_000.0  # no ES price is near this: 1e300 or inf is a broken export
DEFAULT_TZ = "America/New_York"

_TS_NAMES = ("timestamp", "time", "datetime", "date", "ts_event", "ts")
_ISO_OFFSET_FORMATS = ("%Y-%m-%dT%H:%M:%S%:z", "%Y-%m-%d %H:%M:%S%:z", "%Y-%m-%dT%H:%M:%S%z")
_NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")


class BarsCSVError(ValueError):
    """A bars CSV that cannot be imported; the message names the file, line, field and value."""


@dataclass
class BarsImport:
    """A validated bars CSV split by CME trading date.

    by_date: {YYYY-MM-DD: `futures.ohlcv_1m.v1` frame sorted by bar_start_ns}; counts of what the
    policy skipped or flagged (see the module docstring); `descending` if the file ran newest first."""

    path: Path
    by_date: dict[str, pl.DataFrame] = field(default_factory=dict)
    rows: int = 0
    blank_lines: int = 0
    off_grid_bars: int = 0
    outside_sessions: int = 0
    dst_repeated_wall_times: int = 0
    null_volume: int = 0
    descending: bool = False

    def summary(self) -> dict[str, object]:
        """Counts for metadata and the CLI: rows read, bars kept, dates, and each counted warning."""
        kept = sum(f.height for f in self.by_date.values())
        return {
            "file": str(self.path),
            "rows": self.rows,
            "bars": kept,
            "dates": len(self.by_date),
            "first_date": min(self.by_date, default=None),
            "last_date": max(self.by_date, default=None),
            "blank_lines_skipped": self.blank_lines,
            "bars_outside_sessions_skipped": self.outside_sessions,
            "bars_off_tick_grid": self.off_grid_bars,
            "dst_repeated_wall_times_resolved_by_order": self.dst_repeated_wall_times,
            "null_volume": self.null_volume,
            "order": "descending" if self.descending else "ascending",
        }


def _split_lines(p: Path) -> tuple[list[int], list[list[str]], int]:
    """(line numbers, fields) of the non-blank lines, and how many blank/comma-only lines there were."""
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BarsCSVError(f"{p}: file does not exist") from None
    except UnicodeDecodeError as e:
        raise BarsCSVError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    numbers: list[int] = []
    rows: list[list[str]] = []
    blank = 0
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip().strip(",").strip():
            blank += 1
            continue
        numbers.append(n)
        rows.append([f.strip().strip('"') for f in line.split(",")])
    return numbers, rows, blank


def _columns(p: Path, numbers: list[int], rows: list[list[str]]) -> tuple[dict[str, int], int]:
    """({field: index}, first data row) from the header line, or the positional layout without one."""
    first = [f.lower() for f in rows[0]]
    if any(f in _TS_NAMES for f in first):
        idx = {
            name: first.index(name)
            for name in ("open", "high", "low", "close", "volume", "symbol")
            if name in first
        }
        idx["timestamp"] = next(first.index(n) for n in _TS_NAMES if n in first)
        for need in ("open", "high", "low", "close"):
            if need not in idx:
                raise BarsCSVError(f"{p}: line {numbers[0]}: header has no {need!r} column: {rows[0]}")
        return idx, 1
    if len(first) not in (5, 6):
        raise BarsCSVError(
            f"{p}: line {numbers[0]}: no header and {len(first)} fields; expected "
            f"timestamp,open,high,low,close[,volume]: {','.join(rows[0])!r}"
        )
    names = ("timestamp", "open", "high", "low", "close", "volume")
    return {n: i for i, n in enumerate(names[: len(first)])}, 0


def _refuse(p: Path, lines: np.ndarray, raw: list[str], bad: np.ndarray, fld: str, what: str) -> None:
    """Raise BarsCSVError for the first row where `bad` holds, naming file, line, field and value."""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BarsCSVError(f"{p}: line {int(lines[i])}: field {fld}: {what}: {raw[i]!r}")


def _timestamps(p: Path, lines: np.ndarray, raw: list[str], tz: str) -> tuple[np.ndarray, int]:
    """Bar starts in ns UTC, and how many DST-repeated wall times were resolved by file order."""
    s = pl.Series("ts", raw, dtype=pl.String)
    for fmt in _ISO_OFFSET_FORMATS:
        parsed = s.str.to_datetime(fmt, time_unit="ns", time_zone="UTC", strict=False)
        if parsed[0] is not None:
            _refuse(p, lines, raw, parsed.is_null().to_numpy(), "timestamp", f"not a {fmt} timestamp")
            return parsed.dt.epoch("ns").to_numpy(), 0
    for fmt in _NAIVE_FORMATS:
        naive = s.str.to_datetime(fmt, time_unit="ns", strict=False)
        if naive[0] is not None:
            break
    else:
        raise BarsCSVError(f"{p}: line {int(lines[0])}: field timestamp: not a timestamp: {raw[0]!r}")
    _refuse(p, lines, raw, naive.is_null().to_numpy(), "timestamp", f"not a {fmt} timestamp")
    try:
        early = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        late = naive.dt.replace_time_zone(tz, ambiguous="latest", non_existent="null")
    except Exception as e:  # polars raises ComputeError for an unknown zone name
        raise BarsCSVError(f"{p}: time zone {tz!r} is not a known IANA zone: {e}") from None
    _refuse(
        p, lines, raw, early.is_null().to_numpy(), "timestamp", f"wall time does not exist in {tz} (DST gap)"
    )
    e_ns, l_ns = early.dt.epoch("ns").to_numpy(), late.dt.epoch("ns").to_numpy()
    repeated = e_ns != l_ns
    if not repeated.any():
        return e_ns, 0
    # The autumn change repeats an hour of wall time: in time order, the rows of that hour read as
    # the earlier offset until the wall clock steps back, then as the later one.
    plain = e_ns[~repeated]
    descending = len(plain) > 1 and plain[0] > plain[-1]
    idx = np.flatnonzero(repeated)
    out = e_ns.copy()
    folded, prev = False, None
    for i in idx[::-1] if descending else idx:
        wall = naive[int(i)]
        if prev is not None and wall <= prev:
            folded = True
        prev = wall
        out[i] = l_ns[i] if folded else e_ns[i]
    return out, int(repeated.sum())


def _prices(p: Path, lines: np.ndarray, raw: list[str], fld: str) -> np.ndarray:
    v = pl.Series(fld, raw, dtype=pl.String).cast(pl.Float64, strict=False).to_numpy()
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v) | (v <= 0) | (v >= MAX_PRICE_PT)
    _refuse(p, lines, raw, bad, fld, "not a finite positive price in points")
    return v


def read_bars_csv(path: str | Path, tz: str = DEFAULT_TZ, symbol: str = "ES") -> BarsImport:
    """Read and validate a bars CSV (module docstring), split by CME trading date.

    tz: the IANA zone of naive timestamps (ignored for ISO timestamps with an offset).
    symbol: the series name when the file has no `symbol` column.
    A bar belongs to the trading date whose Globex session [open, close) holds its start.
    Raises BarsCSVError naming file, line, field and value (module docstring lists the cases).
    """
    p = Path(path)
    numbers, rows, blank = _split_lines(p)
    out = BarsImport(path=p, blank_lines=blank)
    if not rows:
        raise BarsCSVError(f"{p}: no bars (empty file)")
    idx, start = _columns(p, numbers, rows)
    lines, data = np.asarray(numbers[start:], dtype=np.int64), rows[start:]
    if not data:
        raise BarsCSVError(f"{p}: no bars (a header only)")
    width = max(idx.values()) + 1
    short = np.array([len(r) < width for r in data])
    _refuse(p, lines, [",".join(r) for r in data], short, "-", f"fewer than {width} fields")
    col = {name: [r[i] for r in data] for name, i in idx.items()}
    out.rows = len(data)
    ts, out.dst_repeated_wall_times = _timestamps(p, lines, col["timestamp"], tz)
    _refuse(p, lines, col["timestamp"], ts % MINUTE_NS != 0, "timestamp", "not on a whole minute")
    o, h, lo, c = (_prices(p, lines, col[k], k) for k in ("open", "high", "low", "close"))
    _refuse(p, lines, col["low"], (lo > np.minimum(o, c)), "low", "above the bar's open or close")
    _refuse(p, lines, col["high"], (h < np.maximum(o, c)), "high", "below the bar's open or close")
    if "volume" in col:
        vraw = pl.Series("volume", col["volume"], dtype=pl.String)
        empty = (vraw == "").to_numpy()
        vol = vraw.cast(pl.Float64, strict=False).to_numpy()
        with np.errstate(invalid="ignore"):
            bad = ~empty & (~np.isfinite(vol) | (vol < 0) | (np.mod(vol, 1.0) != 0))
        _refuse(p, lines, col["volume"], bad, "volume", "not a whole number of contracts >= 0")
        volume = pl.Series("volume", np.where(empty, 0, vol).astype(np.int64)).scatter(
            np.flatnonzero(empty), None
        )
        out.null_volume = int(empty.sum())
    else:
        volume = pl.Series("volume", [None] * len(data), dtype=pl.Int64)
        out.null_volume = len(data)
    step = np.diff(ts)
    out.descending = bool(len(step) and step[0] < 0)
    _refuse(p, lines[1:], col["timestamp"][1:], step == 0, "timestamp", "duplicate bar start")
    wrong_way = step > 0 if out.descending else step < 0
    order = "descending" if out.descending else "ascending"
    _refuse(p, lines[1:], col["timestamp"][1:], wrong_way, "timestamp", f"out of {order} time order")
    on_grid = lambda x: np.abs(x / TICK_SIZE_PT - np.round(x / TICK_SIZE_PT)) < 1e-6  # noqa: E731
    out.off_grid_bars = int((~(on_grid(o) & on_grid(h) & on_grid(lo) & on_grid(c))).sum())
    sym = pl.Series("symbol", col["symbol"]) if "symbol" in col else pl.Series("symbol", [symbol] * len(data))
    frame = pl.DataFrame(
        {"bar_start_ns": ts, "open": o, "high": h, "low": lo, "close": c, "volume": volume, "symbol": sym}
    ).with_columns(source=pl.lit(f"csv:{p.name}"))
    frame = frame.sort("bar_start_ns")
    out.by_date, out.outside_sessions = split_by_trading_date(frame)
    if not out.by_date:
        raise BarsCSVError(f"{p}: none of its {len(data)} bars falls inside a CME Globex session")
    return out


def split_by_trading_date(bars: pl.DataFrame) -> tuple[dict[str, pl.DataFrame], int]:
    """{trading date: its bars} for bars (`bar_start_ns` sorted) whose start lies in that date's Globex
    session [open, close); and how many bars lie in no session (maintenance hour, holidays)."""
    ts = bars["bar_start_ns"].to_numpy()
    try:
        dates = calendar.trading_date_of(ts)
    except ValueError as e:
        raise BarsCSVError(f"bars beyond the trading calendar: {e}") from None
    labels = np.array([d.isoformat() for d in dates])
    opens = {d: calendar.session_bounds_ns(d)[0] for d in set(labels.tolist())}
    inside = ts >= np.array([opens[d] for d in labels], dtype=np.int64)
    kept = bars.with_columns(date=pl.Series(labels)).filter(pl.Series(inside))
    schema = pl.from_arrow(S.FUTURES_OHLCV_1M.arrow.empty_table()).schema
    by_date = {
        str(d): part.select([pl.col(c).cast(t) for c, t in schema.items()])
        for (d,), part in kept.group_by("date", maintain_order=True)
    }
    return by_date, int((~inside).sum())
