"""0DTE option Bronze frames -> the fuel engine's inputs: one place for the feature replay
(`features.build_state`, which then feeds quotes and trades in time order) and the gamma-wall levels
(`chain_from_frames`, the whole day at once)."""

from __future__ import annotations

import numpy as np
import polars as pl

from spymaster_core.engines.fuel import OptionChain


def definition_arrays(defs: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(instrument_id int64, strike points float64, is_call bool, expiration_ns int64) from an
    `options.definitions` frame."""
    return (
        defs["instrument_id"].to_numpy().astype(np.int64),
        defs["strike_price"].to_numpy().astype(np.float64),
        (defs["instrument_class"] == "C").to_numpy(),
        defs["expiration_ns"].to_numpy().astype(np.int64),
    )


def open_interest(stats: pl.DataFrame) -> dict[int, float]:
    """Latest open interest (stat_type 9, contracts) per instrument from a `statistics` frame."""
    oi = stats.filter(pl.col("stat_type") == 9).sort("ts_event_ns").group_by("instrument_id").last()
    return dict(zip(oi["instrument_id"].to_list(), map(float, oi["quantity"].to_list()), strict=True))


def chain_from_frames(options: dict[str, pl.DataFrame | None]) -> OptionChain | None:
    """An `OptionChain` holding a whole day's 0DTE frames (`definitions`, `bbo`, `trades`,
    `statistics`; missing or empty ones are skipped): queries at time t see only data before t.
    None when there are no definitions."""
    defs = options.get("definitions")
    if defs is None or defs.is_empty():
        return None
    chain = OptionChain()
    chain.add_definitions(*definition_arrays(defs))
    bbo, trades, stats = options.get("bbo"), options.get("trades"), options.get("statistics")
    if bbo is not None and not bbo.is_empty():
        b = bbo.sort("ts_event_ns")
        chain.add_quotes(b["ts_event_ns"].to_numpy(), b["instrument_id"].to_numpy().astype(np.int64),
                         b["bid_px"].to_numpy().astype(np.float64), b["ask_px"].to_numpy().astype(np.float64))  # fmt: skip
    if trades is not None and not trades.is_empty():
        t = trades.sort("ts_event_ns")
        chain.add_trades(t["ts_event_ns"].to_numpy(), t["instrument_id"].to_numpy().astype(np.int64),
                         t["price"].to_numpy().astype(np.float64), t["size"].to_numpy().astype(np.float64))  # fmt: skip
    if stats is not None and not stats.is_empty():
        chain.open_interest.update(open_interest(stats))
    return chain
