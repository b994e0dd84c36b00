"""Plain trades CSV import (`ts_utc,price[,size,side]`) for users with other vendors (DESIGN §3).

`ts_utc` is ISO-8601 UTC (e.g. `2018-05-07T13:30:00.001532Z`), `price` ES points, `size`
contracts (1 per print when absent; the table then counts prints), `side` the aggressor
(`B`/`buy` or `A`/`S`/`sell`). When no side is given the aggressor is inferred with the tick rule
(Lee & Ready 1991, "Inferring trade direction from intraday data", J. Finance 46): an uptick is a
buy, a downtick a sell, a zero tick repeats the last sign; `side` stays `N` so the inference is
visible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from spymaster_core import schemas as S


class TradesCSVError(ValueError):
    """A trades CSV that cannot be imported; the message names the file, line, field and value."""


MAX_PRICE_PT = 1_000_000.0  # no ES price is near this: 1e300 or inf is a broken export, not a trade
SIDES = {"B": "B", "BUY": "B", "A": "A", "S": "A", "SELL": "A", "N": "N", "": "N"}


def _refuse(p: Path, raw: pl.DataFrame, field: str, bad: pl.Series, what: str) -> None:
    """Raise TradesCSVError for the first row where `bad` holds, naming file, line, field and value."""
    if bad.any():
        i = int(bad.arg_true()[0])
        raise TradesCSVError(f"{p}: line {i + 2}: field {field}: {what}: {raw[field][i]!r}")


def tick_rule(price: np.ndarray) -> np.ndarray:
    """Aggressor sign per trade by the tick rule (+1 buy, -1 sell, 0 before the first price change)."""
    diff = np.sign(np.diff(price, prepend=price[:1] if len(price) else price))
    out = np.zeros(len(price), dtype=np.int8)
    last = 0
    for i, d in enumerate(diff):
        if d != 0:
            last = int(d)
        out[i] = last
    return out


def read_trades_csv(path: str | Path, symbol: str = "ES", source: str = "csv") -> pa.Table:
    """Read a trades CSV into a `futures.trades.v1` table sorted by ts_event.

    Raises TradesCSVError naming the file (and line, field and value) for a missing file, missing
    columns, an unparseable timestamp, a price that is not a finite positive number below
    MAX_PRICE_PT, a size that is not a whole number of contracts > 0 (an empty cell included), or a
    side outside SIDES.
    """
    p = Path(path)
    if not p.exists():
        raise TradesCSVError(f"{p}: file does not exist")
    try:
        raw = pl.read_csv(p, infer_schema_length=0)
    except Exception as exc:
        raise TradesCSVError(f"{p}: not a readable CSV ({exc})") from exc
    missing = {"ts_utc", "price"} - set(raw.columns)
    if missing:
        raise TradesCSVError(f"{p}: missing column(s) {sorted(missing)}; expected ts_utc,price[,size,side]")
    ts = raw["ts_utc"].str.to_datetime(time_unit="ns", time_zone="UTC", strict=False)
    bad = ts.is_null() & raw["ts_utc"].is_not_null() | raw["ts_utc"].is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise TradesCSVError(f"{p}: line {i + 2}: field ts_utc: bad timestamp {raw['ts_utc'][i]!r}")
    price = raw["price"].cast(pl.Float64, strict=False)
    _refuse(
        p,
        raw,
        "price",
        price.is_null() | ~price.is_finite() | (price <= 0) | (price > MAX_PRICE_PT),
        "bad price",
    )
    n = raw.height
    if "size" in raw.columns:
        size = raw["size"].cast(pl.Int64, strict=False)
        _refuse(p, raw, "size", size.is_null() | (size <= 0), "bad size (whole contracts > 0)")
    else:
        size = pl.repeat(1, n, eager=True, dtype=pl.Int64)
    df = pl.DataFrame({"ts_event_ns": ts.dt.epoch("ns"), "price": price, "size": size.cast(pl.Int64)})
    if "side" in raw.columns:
        word = raw["side"].fill_null("").str.strip_chars().str.to_uppercase()
        _refuse(p, raw, "side", ~word.is_in(list(SIDES)), "bad side (B/buy, A/S/sell, N or empty)")
        side = word.replace_strict(SIDES, return_dtype=pl.String)
    else:
        side = pl.repeat("N", n, eager=True)
    df = df.with_columns(side=side).with_row_index("sequence").sort("ts_event_ns", maintain_order=True)
    sides = df["side"].to_numpy()
    agg = np.where(sides == "B", 1, np.where(sides == "A", -1, 0)).astype(np.int8)
    if (agg == 0).all():
        agg = tick_rule(df["price"].to_numpy())
    cols = {
        "ts_event_ns": pa.array(df["ts_event_ns"].to_numpy()),
        "ts_recv_ns": pa.array(df["ts_event_ns"].to_numpy()),
        "instrument_id": pa.array(np.zeros(n, dtype=np.uint32)),
        "symbol": pa.array([symbol] * n, type=pa.string()),
        "price": pa.array(df["price"].to_numpy()),
        "size": pa.array(df["size"].to_numpy()),
        "side": pa.array(df["side"].to_numpy().astype(str), type=pa.string()),
        "aggressor": pa.array(agg),
        "flags": pa.array(np.zeros(n, dtype=np.uint8)),
        "sequence": pa.array(df["sequence"].to_numpy().astype(np.uint32)),
        "source": pa.array([source] * n, type=pa.string()),
    }
    return pa.table({f.name: cols[f.name] for f in S.FUTURES_TRADES.arrow}, schema=S.FUTURES_TRADES.arrow)
