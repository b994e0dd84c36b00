"""Time bars from trades (Polars `group_by_dynamic`)."""

from __future__ import annotations

import polars as pl

from spymaster_core import schemas as S


def time_bars(trades: pl.DataFrame, minutes: int = 2) -> pl.DataFrame:
    """OHLCV bars of `minutes` from a trades frame (`ts_event_ns`, `price`, `size`).

    Output: `silver.bars_2m.v1` columns; `bar_start_ns` is the bar open (UTC ns, bars aligned to
    the clock); empty bars are not emitted. Prices in points, volume in contracts.
    """
    if trades.is_empty():
        return pl.from_arrow(S.BARS_2M.arrow.empty_table())
    df = trades.select(pl.col("ts_event_ns").cast(pl.Datetime("ns", "UTC")).alias("t"), "price", "size").sort(
        "t"
    )
    bars = df.group_by_dynamic("t", every=f"{minutes}m", closed="left", label="left").agg(
        open=pl.col("price").first(),
        high=pl.col("price").max(),
        low=pl.col("price").min(),
        close=pl.col("price").last(),
        volume=pl.col("size").sum().cast(pl.Int64),
        n_trades=pl.len().cast(pl.Int64),
    )
    return bars.select(
        pl.col("t").dt.epoch("ns").alias("bar_start_ns"), "open", "high", "low", "close", "volume", "n_trades"
    )


def bars_from_1m(bars_1m: pl.DataFrame, minutes: int = 2) -> pl.DataFrame:
    """Clock-aligned bars of `minutes` from 1-minute bars (`bar_start_ns`, OHLC, `volume` or null).

    Output: `silver.bars_2m.v1` columns: open of the first 1-minute bar, high max, low min, close of
    the last, volume summed (null when the source has none), `n_trades` null (bars do not count
    prints). Equal to `time_bars` on the trades the 1-minute bars were built from (prices in points).
    """
    if bars_1m.is_empty():
        return pl.from_arrow(S.BARS_2M.arrow.empty_table())
    df = bars_1m.sort("bar_start_ns").with_columns(t=pl.col("bar_start_ns").cast(pl.Datetime("ns", "UTC")))
    out = df.group_by_dynamic("t", every=f"{minutes}m", closed="left", label="left").agg(
        open=pl.col("open").first(),
        high=pl.col("high").max(),
        low=pl.col("low").min(),
        close=pl.col("close").last(),
        volume=pl.when(pl.col("volume").is_not_null().any()).then(pl.col("volume").sum()).cast(pl.Int64),
    )
    return out.select(
        pl.col("t").dt.epoch("ns").alias("bar_start_ns"),
        "open",
        "high",
        "low",
        "close",
        "volume",
        n_trades=pl.lit(None, pl.Int64),
    )


def one_minute_bars(trades: pl.DataFrame, symbol: str, source: str) -> pl.DataFrame:
    """`futures.ohlcv_1m.v1` bars from trades (`ts_event_ns`, `price`, `size`): what Databento's
    `ohlcv-1m` gives for the same trades (minutes without trades have no bar)."""
    b = time_bars(trades, 1)
    empty = pl.from_arrow(S.FUTURES_OHLCV_1M.arrow.empty_table())
    return b.select(
        "bar_start_ns", "open", "high", "low", "close", "volume", symbol=pl.lit(symbol), source=pl.lit(source)
    ).cast(dict(empty.schema))
