"""Replay a date's Bronze data as one time-ordered stream of `spymaster_core.events` objects.

Streams (MBP-10 record batches, futures trades, option quotes and trades) are merged by
ts_event_ns with `heapq.merge` (stable across streams in the order given, so a quote and a trade at
the same nanosecond come quote first), one batch per stream in memory at a time.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator

import numpy as np
import polars as pl

from spymaster_core.events import Event, FuturesTrade, Mbp10Update, OptionQuote, OptionTrade

_ACTION = {i: chr(i) for i in range(256)}


def mbp10_events(batches: Iterable[dict[str, np.ndarray]]) -> Iterator[tuple[int, int, Event]]:
    """(ts, stream 0, Mbp10Update) from engine-array batches (`features.mbp10_batches`)."""
    for b in batches:
        lv = np.hstack([b["bid_px"], b["bid_sz"], b["ask_px"], b["ask_sz"]]).tolist()
        for ts, a, p, s, levels in zip(
            b["ts"].tolist(), b["action"].tolist(), b["price"].tolist(), b["size"].tolist(), lv, strict=True
        ):
            yield ts, 0, Mbp10Update(ts, _ACTION[a], p, s, tuple(levels))


def _rows(df: pl.DataFrame | None, cols: list[str]) -> Iterator[tuple]:
    if df is None or df.is_empty():
        return iter(())
    return df.sort("ts_event_ns", maintain_order=True).select(cols).iter_rows()


def trade_events(trades: pl.DataFrame | None) -> Iterator[tuple[int, int, Event]]:
    """(ts, stream 1, FuturesTrade) from a `futures.trades` frame."""
    for ts, p, s, a in _rows(trades, ["ts_event_ns", "price", "size", "aggressor"]):
        yield ts, 1, FuturesTrade(ts, float(p), float(s), int(a))


def option_quote_events(bbo: pl.DataFrame | None) -> Iterator[tuple[int, int, Event]]:
    """(ts, stream 2, OptionQuote) from an `options.bbo` frame (null prices -> NaN)."""
    for ts, i, b, a in _rows(bbo, ["ts_event_ns", "instrument_id", "bid_px", "ask_px"]):
        yield (
            ts,
            2,
            OptionQuote(ts, int(i), math.nan if b is None else float(b), math.nan if a is None else float(a)),
        )


def option_trade_events(trades: pl.DataFrame | None) -> Iterator[tuple[int, int, Event]]:
    """(ts, stream 3, OptionTrade) from an `options.trades` frame."""
    for ts, i, p, s in _rows(trades, ["ts_event_ns", "instrument_id", "price", "size"]):
        yield ts, 3, OptionTrade(ts, int(i), float(p), float(s))


def merged_events(
    mbp10_batches: Iterable[dict[str, np.ndarray]],
    trades: pl.DataFrame,
    options: dict[str, pl.DataFrame | None] | None = None,
) -> Iterator[Event]:
    """Every event of the date in ts_event_ns order (ties: MBP-10, trades, quotes, option trades)."""
    options = options or {}
    streams = [
        mbp10_events(mbp10_batches),
        trade_events(trades),
        option_quote_events(options.get("bbo")),
        option_trade_events(options.get("trades")),
    ]
    for _ts, _k, ev in heapq.merge(*streams, key=lambda x: (x[0], x[1])):
        yield ev
