"""0DTE option Bronze frames -> the arrays the fuel engine takes (one place for both the feature
replay and the gamma-wall levels)."""

from __future__ import annotations

import numpy as np
import polars as pl


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
