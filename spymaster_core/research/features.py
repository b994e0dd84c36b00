"""Silver features per touch: every engine output, from one replay of the date through `EngineState`.

The date's Bronze streams (MBP-10 read in record batches, trades, 0DTE option definitions, BBO,
trades, open interest) are fed to `EngineState` in time order up to each touch, and the touch's
features are taken there: the same code the live core runs, so features computed for training
equal those computed live (tests/test_parity.py replays a day event by event to prove it).
Memory is bounded by the engines' horizon plus one MBP-10 record batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from spymaster_core import schemas as S
from spymaster_core.config import Config
from spymaster_core.engines import feature_row
from spymaster_core.engines.state import EngineState
from spymaster_core.research import option_chain


def levels_known_at(levels: pl.DataFrame, t_ns: int) -> list[tuple[str, float]]:
    """(level_id, price) of every level known before t_ns (the latest value of a dynamic level)."""
    if levels.is_empty():
        return []
    known = levels.filter(pl.col("valid_from_ns") < t_ns).sort("valid_from_ns")
    last = known.group_by("level_id", maintain_order=True).last()
    return sorted(zip(last["level_id"].to_list(), last["price"].to_list(), strict=True))


MBP10_COLUMNS = [
    "ts_event_ns",
    "action",
    "price",
    "size",
    *[f"{s}_{k}_{i:02d}" for s in ("bid", "ask") for k in ("px", "sz") for i in range(10)],
]


def mbp10_batches(
    files: Sequence[Path | IO[bytes]], batch_rows: int = 262_144
) -> Iterator[dict[str, np.ndarray]]:
    """Bronze MBP-10 parts (paths or open binary files, in name order, i.e. time order) as engine
    arrays: ts, action
    (uint8 ASCII), price (NaN for null), size, bid_px/bid_sz/ask_px/ask_sz (n, 10) float64."""
    for f in files:
        pf = pq.ParquetFile(f)
        for rb in pf.iter_batches(batch_size=batch_rows, columns=MBP10_COLUMNS):
            yield mbp10_arrays(rb)


def mbp10_arrays(rb: pa.RecordBatch | pa.Table) -> dict[str, np.ndarray]:
    """One record batch of `futures.mbp10` columns -> engine arrays (see `mbp10_batches`)."""

    def f64(name: str) -> np.ndarray:
        return rb.column(name).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)

    def book(side: str, kind: str) -> np.ndarray:
        return np.column_stack([f64(f"{side}_{kind}_{i:02d}") for i in range(10)])

    action = rb.column("action").to_numpy(zero_copy_only=False).astype("S1").view(np.uint8)
    return {
        "ts": rb.column("ts_event_ns").to_numpy(zero_copy_only=False).astype(np.int64, copy=False),
        "action": action,
        "price": f64("price"),
        "size": f64("size"),
        "bid_px": book("bid", "px"),
        "bid_sz": book("bid", "sz"),
        "ask_px": book("ask", "px"),
        "ask_sz": book("ask", "sz"),
    }


class _Cursor:
    """Feeds one time-sorted stream (an iterator of array batches) up to a time."""

    def __init__(self, batches: Iterator[dict[str, np.ndarray]], feed) -> None:  # noqa: ANN001
        self.batches, self.feed, self.cur = batches, feed, None

    def until(self, t_ns: int) -> None:
        while True:
            if self.cur is None:
                self.cur = next(self.batches, None)
                if self.cur is None:
                    return
            ts = self.cur["ts"]
            k = int(np.searchsorted(ts, t_ns, side="left"))
            if k:
                self.feed({n: a[:k] for n, a in self.cur.items()})
            if k < len(ts):
                self.cur = {n: a[k:] for n, a in self.cur.items()}
                return
            self.cur = None


def _frame_batches(
    df: pl.DataFrame | None, cols: dict[str, str], rows: int = 65_536
) -> Iterator[dict[str, np.ndarray]]:
    if df is None or df.is_empty():
        return
    df = df.sort("ts_event_ns", maintain_order=True)
    for i in range(0, df.height, rows):
        part = df.slice(i, rows)
        yield {k: part[c].to_numpy() for k, c in cols.items()}


def build_state(date: str, cfg: Config, options: dict[str, pl.DataFrame | None]) -> EngineState:
    """An EngineState for `date` with the 0DTE definitions and open interest set (no events yet)."""
    st = EngineState(date, cfg)
    defs = options.get("definitions")
    if defs is not None and not defs.is_empty():
        st.set_option_definitions(*option_chain.definition_arrays(defs))
    stats = options.get("statistics")
    if stats is not None and not stats.is_empty():
        st.set_open_interest(option_chain.open_interest(stats))
    return st


def touch_features(
    mbp10: Iterator[dict[str, np.ndarray]],
    trades: pl.DataFrame,
    touches: pl.DataFrame,
    levels: pl.DataFrame,
    date: str,
    cfg: Config,
    options: dict[str, pl.DataFrame | None] | None = None,
    feed_to_end: bool = False,
) -> pl.DataFrame:
    """One feature row per touch (`schemas.features_schema(feature_row.feature_columns(...))` for the
    config's kinematics horizons), from data strictly before each touch.

    mbp10: engine-array batches in time order (`mbp10_batches`); trades: `ts_event_ns`, `price`,
    `size`, `aggressor`; touches/levels: `silver.touches` / `silver.levels`; options: Bronze
    frames `definitions`, `bbo`, `trades`, `statistics` (missing or empty -> fuel null + reason).
    `feed_to_end` also replays the streams after the last touch (benchmarks: the whole day).
    """
    options = options or {}
    schema = S.features_schema(
        feature_row.feature_columns(cfg.windows.kinematics_horizons_s), feature_row.STRING_COLUMNS
    )
    empty = pl.from_arrow(schema.arrow.empty_table())
    if touches.is_empty():
        return empty
    st = build_state(date, cfg, options)
    cursors = [
        _Cursor(mbp10, lambda b: st.update_mbp10(b["ts"], b["action"], b["price"], b["size"], b["bid_px"], b["bid_sz"], b["ask_px"], b["ask_sz"])),
        _Cursor(_frame_batches(trades, {"ts": "ts_event_ns", "price": "price", "size": "size", "aggressor": "aggressor"}),
                lambda b: st.update_trades(b["ts"], b["price"].astype(np.float64), b["size"].astype(np.float64), b["aggressor"].astype(np.int8))),
        _Cursor(_frame_batches(options.get("bbo"), {"ts": "ts_event_ns", "iid": "instrument_id", "bid": "bid_px", "ask": "ask_px"}),
                lambda b: st.update_option_quotes(b["ts"], b["iid"].astype(np.int64), b["bid"].astype(np.float64), b["ask"].astype(np.float64))),
        _Cursor(_frame_batches(options.get("trades"), {"ts": "ts_event_ns", "iid": "instrument_id", "price": "price", "size": "size"}),
                lambda b: st.update_option_trades(b["ts"], b["iid"].astype(np.int64), b["price"].astype(np.float64), b["size"].astype(np.float64))),
    ]  # fmt: skip
    rows = []
    for r in touches.sort("ts_ns", "level_id").iter_rows(named=True):
        t = int(r["ts_ns"])
        for c in cursors:  # quotes (cursor 2) are fed before option trades (cursor 3)
            c.until(t)
        others = [(i, p) for i, p in levels_known_at(levels, t) if i != r["level_id"]]
        feats = st.level_features(t, float(r["level_price"]), r["direction"], others)
        rows.append({"touch_id": r["touch_id"], "ts_ns": t, **feats})
    if feed_to_end:
        for c in cursors:
            c.until(2**62)
    return pl.DataFrame(rows, schema=empty.schema)
