"""Bronze 1-minute bars of a trading date (`futures.ohlcv_1m.v1`, DESIGN §3 and §6 bar resolution).

Inputs, in landing:
- Databento `ohlcv-1m` DBN files (`GLBX.MDP3/ohlcv-1m/<date>/`): a parent request (`ES.FUT`) gives one
  bar series per contract and spread; the date keeps the ES outright with the most volume in the
  session, by the trades' rule (`selection.front_month`).
- Vendor CSV bars, imported by `spymaster bars import` as one canonical slice per date
  (`CSV/bars-1m/<date>/<file stem>.csv`: `timestamp` ISO UTC, OHLC, volume, symbol; written by
  `write_csv_slices` from a validated `csv_bars.BarsImport`).
A date with both keeps the DBN bars (exchange data) and says so in its notes. Bars keep only those
starting in the date's Globex session [open, close).
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pyarrow as pa

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.bronze.builders import BronzeResult, landing_files, refuse_duplicate_files
from spymaster_core.bronze.selection import front_month
from spymaster_core.io import csv_bars, dbn, lake

CSV_DIR = ("CSV", "bars-1m")  # landing/CSV/bars-1m/<date>/
_EMPTY = pl.from_arrow(S.FUTURES_OHLCV_1M.arrow.empty_table())


def csv_slice_dir(landing: Path, date: str) -> Path:
    """Where `date`'s imported CSV bar slices land."""
    return landing.joinpath(*CSV_DIR, date)


def write_csv_slices(imp: csv_bars.BarsImport, landing: Path) -> list[Path]:
    """Land a validated import as one canonical CSV per trading date (`<stem>.csv` under
    `csv_slice_dir`), each written to a temp name then renamed; returns the paths in date order.
    Re-importing the same file replaces its slices."""
    out = []
    stem = imp.path.stem
    for date, bars in sorted(imp.by_date.items()):
        dest = csv_slice_dir(landing, date) / f"{stem}.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        canon = bars.select(
            pl.col("bar_start_ns")
            .cast(pl.Datetime("ns", "UTC"))
            .dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
            .alias("timestamp"),
            "open",
            "high",
            "low",
            "close",
            "volume",
            "symbol",
        )
        tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
        try:
            canon.write_csv(tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        out.append(dest)
    return out


def _in_session(bars: pl.DataFrame, date: str) -> pl.DataFrame:
    start, end = calendar.session_bounds_ns(date)
    return bars.filter((pl.col("bar_start_ns") >= start) & (pl.col("bar_start_ns") < end))


def futures_ohlcv_1m(landing: Path, date: str) -> BronzeResult:
    """The date's front-month 1-minute bars (module docstring) as `futures.ohlcv_1m.v1`, sorted by
    bar start. Raises ValueError naming a landed file that is not GLBX.MDP3 or a CSV slice that fails
    validation; two CSV slices with the same bar start are refused naming both."""
    res = BronzeResult(S.FUTURES_OHLCV_1M.arrow.empty_table(), S.FUTURES_OHLCV_1M)
    dbn_files = landing_files(landing, "ohlcv-1m", date)
    csv_dir = csv_slice_dir(landing, date)
    csv_files = sorted(csv_dir.glob("*.csv")) if csv_dir.exists() else []
    refuse_duplicate_files(csv_files)
    if dbn_files:
        parts = [pl.from_arrow(dbn.decode_file(f).tables["ohlcv"]) for f in dbn_files]
        res.inputs += [f"{f.name} sha256={lake.file_sha256(f)}" for f in dbn_files]
        raw = pl.concat(parts).rename({"ts_event_ns": "bar_start_ns"})
        front = front_month(raw, volume="volume")  # the trades' rule, on bar volume
        res.notes["front_month"] = front
        bars = raw.filter(pl.col("symbol") == front).select(
            "bar_start_ns", "open", "high", "low", "close", "volume", "symbol", source=pl.lit("dbn:ohlcv-1m")
        )
        if csv_files:
            res.notes["csv_slices_ignored"] = [f.name for f in csv_files]
    elif csv_files:
        parts = []
        for f in csv_files:
            imp = csv_bars.read_bars_csv(f)
            parts += [b.with_columns(source=pl.lit(f"csv:{f.stem}")) for b in imp.by_date.values()]
            res.inputs.append(f"{f.name} sha256={lake.file_sha256(f)}")
        bars = pl.concat(parts)
        dup = bars.filter(pl.col("bar_start_ns").is_duplicated())
        if dup.height:
            raise ValueError(
                f"{csv_dir}: CSV slices {sorted(set(dup['source']))} share {dup.height // 2:,} bar starts "
                "(the same minutes imported from two files); remove one"
            )
        res.notes["front_month"] = str(bars["symbol"][0]) if bars.height else None
    else:
        res.missing.append("1-minute bars: no ohlcv-1m DBN or imported CSV bars landed")
        return res
    bars = _in_session(bars, date).sort("bar_start_ns")
    res.table = (
        bars.select([pl.col(c).cast(t) for c, t in _EMPTY.schema.items()])
        .to_arrow()
        .cast(S.FUTURES_OHLCV_1M.arrow)
    )
    res.notes["gaps_minutes"] = _gap_minutes(bars)
    return res


def _gap_minutes(bars: pl.DataFrame) -> int:
    """Minutes without a bar between the first and last bar (quiet minutes in an exchange series;
    missing data in a vendor one)."""
    if bars.height < 2:
        return 0
    span = (int(bars["bar_start_ns"][-1]) - int(bars["bar_start_ns"][0])) // calendar.MINUTE_NS + 1
    return int(span - bars.height)


def ohlc_consistent(table: pa.Table) -> bool:
    """True when every bar has low <= open, close <= high (the Bronze check)."""
    df = pl.from_arrow(table)
    if df.is_empty():
        return True
    ok = df.select(
        (
            (pl.col("low") <= pl.min_horizontal("open", "close"))
            & (pl.col("high") >= pl.max_horizontal("open", "close"))
        ).all()
    )
    return bool(ok.item())
