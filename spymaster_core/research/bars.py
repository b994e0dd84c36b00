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
