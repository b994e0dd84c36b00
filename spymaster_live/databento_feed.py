"""Databento Live (GLBX.MDP3) -> the `market.*` subjects, through the normaliser Bronze uses for files.

`RecordNormaliser` takes databento-dbn record objects one by one (from `databento.Live`, or from a
DBN file's `DBNStore`, which yields the same classes), keeps the symbol mappings and the 0DTE
option definitions it sees, and on `drain()` turns the buffered market records into Spymaster
events: each schema's records are laid out as databento's own structured arrays (exactly as
`DBNStore.to_ndarray` does for live data) and passed to `spymaster_core.io.dbn.normalise_records`,
the function file decoding uses. Kept: MBP-10 and trades of the front month (futures events), BBO
and trades of 0DTE options on it (option events). Everything else is counted in `skipped`.

`run_live_feed` subscribes with `databento.Live` (needs DATABENTO_API_KEY) and publishes drained
events with `spymaster_live.replay.publish_events` every DRAIN_S seconds of wall time.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import databento_dbn as dbn_rec
import numpy as np
import polars as pl
from databento_dbn import Schema

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.bronze import selection
from spymaster_core.engines import streams as replay
from spymaster_core.events import Event
from spymaster_core.io import dbn
from spymaster_core.research import features
from spymaster_live.replay import ReplayStats, publish_events

log = logging.getLogger(__name__)

DATASET = S.DATASET
SOURCE = "databento_live"
DRAIN_S = 0.05
# Live subscriptions: the front month's depth and trades, and the ES options' BBO, trades and
# definitions (parent symbology under every ES option root, `selection.OPTION_PARENTS`: a date's
# 0DTE chain is often under a weekly root such as E3A; the normaliser keeps the 0DTE ones).
_OPTIONS = ",".join(selection.OPTION_PARENTS)
SUBSCRIPTIONS = (
    ("mbp-10", "raw_symbol", "{front}"),
    ("trades", "raw_symbol", "{front}"),
    ("definition", "parent", _OPTIONS),
    ("bbo-1s", "parent", _OPTIONS),
    ("trades", "parent", _OPTIONS),
)
_SCHEMA_OF = {dbn_rec.MBP10Msg: "mbp-10", dbn_rec.TradeMsg: "trades", dbn_rec.MBP1Msg: "mbp-1"}


@dataclass
class RecordNormaliser:
    """Buffers live records for `date` (YYYY-MM-DD) and the front month (raw symbol, e.g. ESZ6);
    see the module docstring. `symbols`: instrument_id -> raw symbol from symbol-mapping and
    definition records; `odte`: instrument ids of 0DTE options on the front month."""

    date: str
    front_month: str
    symbols: dict[int, str] = field(default_factory=dict)
    odte: set[int] = field(default_factory=set)
    skipped: Counter[str] = field(default_factory=Counter)
    _pending: dict[str, list[bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _new_defs: list[pl.DataFrame] = field(default_factory=list)
    _new_stats: list[bytes] = field(default_factory=list)

    def add(self, record: Any) -> None:
        """Take one record (any databento-dbn record class). Thread-safe: the Live client calls
        it from its own thread while the bus loop drains."""
        with self._lock:
            self._add(record)

    def _add(self, record: Any) -> None:
        if isinstance(record, dbn_rec.SymbolMappingMsg):
            self.symbols[int(record.instrument_id)] = str(record.stype_out_symbol)
            return
        if isinstance(record, dbn_rec.InstrumentDefMsg):
            self._definition(record)
            return
        if isinstance(record, dbn_rec.StatMsg):
            if int(record.instrument_id) in self.odte:
                self._new_stats.append(bytes(record))
            else:
                self.skipped["StatMsg (not a 0DTE option)"] += 1
            return
        schema = _SCHEMA_OF.get(type(record))
        if schema is None and isinstance(record, dbn_rec.BBOMsg):
            schema = str(record.rtype)  # bbo-1s / bbo-1m
        if schema is None:
            self.skipped[type(record).__name__] += 1
            return
        self._pending.setdefault(schema, []).append(bytes(record))

    def _definition(self, record: Any) -> None:
        a = np.frombuffer(bytes(record), dtype=dbn.record_dtype(Schema.DEFINITION))
        d = pl.from_arrow(dbn.normalise_records("definition", a, self.symbols, SOURCE)["definitions"])
        row = d.row(0, named=True)
        self.symbols[int(row["instrument_id"])] = str(row["raw_symbol"])
        if not selection.zero_dte(d, self.front_month, self.date).is_empty():
            self.odte.add(int(row["instrument_id"]))
            self._new_defs.append(d)

    def take_reference(self) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
        """0DTE definitions and statistics (open interest) received since the last call, as the
        normalised `definitions` / `statistics` frames (None when there are none)."""
        with self._lock:
            defs, self._new_defs = self._new_defs, []
            stats, self._new_stats = self._new_stats, []
        d = pl.concat(defs, how="diagonal_relaxed") if defs else None
        st = None
        if stats:
            a = np.frombuffer(b"".join(stats), dtype=dbn.record_dtype(Schema.STATISTICS))
            st = pl.from_arrow(dbn.normalise_records("statistics", a, self.symbols, SOURCE)["statistics"])
        return d, st

    @property
    def pending(self) -> int:
        """Records buffered and not yet drained."""
        return sum(len(v) for v in self._pending.values())

    def drain(self) -> list[Event]:
        """The buffered market records as events in ts_event_ns order (ties as in a file replay:
        MBP-10, futures trades, option quotes, option trades); the buffer is emptied."""
        with self._lock:
            pending, self._pending = self._pending, {}
        tables: dict[str, list[pl.DataFrame]] = {}
        for schema, bodies in pending.items():
            a = np.frombuffer(b"".join(bodies), dtype=dbn.record_dtype(schema))
            for kind, t in dbn.normalise_records(schema, a, self.symbols, SOURCE).items():
                if kind == "trades" and schema != "trades":
                    continue  # trades come from the trades schema only, as in Bronze
                tables.setdefault(kind, []).append(pl.from_arrow(t))
        frame = {k: pl.concat(v, how="diagonal_relaxed") for k, v in tables.items()}
        trades = frame.get("trades", pl.DataFrame())
        mbp = frame.get("mbp10")
        futures_trades = trades.filter(pl.col("symbol") == self.front_month) if trades.height else None
        odte = list(self.odte)
        # Option rows as Bronze keeps them: 0DTE instruments, from the options window's start on.
        kept = pl.col("instrument_id").is_in(odte) & (
            pl.col("ts_event_ns") >= selection.options_window_ns(self.date)[0]
        )
        option_trades = trades.filter(kept) if trades.height else None
        bbo = frame.get("bbo")
        streams: list[Iterator[tuple[int, int, Event]]] = [
            replay.mbp10_events(_mbp10_batches(mbp, self.front_month)),
            replay.trade_events(futures_trades),
            replay.option_quote_events(bbo.filter(kept) if bbo is not None else None),
            replay.option_trade_events(option_trades),
        ]
        return [ev for _ts, _k, ev in heapq.merge(*streams, key=lambda x: (x[0], x[1]))]


def _mbp10_batches(mbp: pl.DataFrame | None, front: str) -> Iterator[dict[str, np.ndarray]]:
    if mbp is None or mbp.is_empty():
        return iter(())
    df = mbp.filter(pl.col("symbol") == front).sort("ts_event_ns", maintain_order=True)
    return iter([features.mbp10_arrays(df.to_arrow())]) if df.height else iter(())


async def run_live_feed(
    js: Any,
    norm: RecordNormaliser,
    stop: asyncio.Event,
    on_reference: Callable[[pl.DataFrame | None, pl.DataFrame | None], None] | None = None,
    client_factory: Callable[[str], Any] | None = None,
    stats: ReplayStats | None = None,
) -> ReplayStats:
    """Subscribe to Databento Live (SUBSCRIPTIONS with `{front}` = norm.front_month, intraday
    replay from the session start so levels see the whole session), feed `norm` and publish its
    events to `market.*` every DRAIN_S until `stop` is set; `on_reference(defs, stats)` gets new
    0DTE definitions / statistics. Counts published events in `stats` (returned). Raises RuntimeError
    when DATABENTO_API_KEY is not set (and no client_factory is given)."""
    key = os.environ.get("DATABENTO_API_KEY", "")
    if client_factory is None:
        if not key:
            raise RuntimeError("--live needs DATABENTO_API_KEY in the environment (a Databento API key)")
        import databento

        def client_factory(k: str) -> Any:
            return databento.Live(key=k, reconnect_policy="reconnect")

    client = client_factory(key)
    start_ns = calendar.session_bounds_ns(norm.date)[0]
    for schema, stype, sym in SUBSCRIPTIONS:
        client.subscribe(
            dataset=DATASET,
            schema=schema,
            stype_in=stype,
            symbols=sym.format(front=norm.front_month),
            start=start_ns,
        )
    client.add_callback(norm.add, lambda exc: log.error("databento live record callback failed: %s", exc))
    client.start()
    stats = stats if stats is not None else ReplayStats()
    run_id = f"live-{norm.date}-{time.time_ns()}"  # Msg-Id prefix: unique per run (dedupe window)
    try:
        while not stop.is_set():
            await asyncio.sleep(DRAIN_S)
            defs, st = norm.take_reference()
            if on_reference is not None and (defs is not None or st is not None):
                on_reference(defs, st)
            evs = norm.drain()
            if evs:
                await publish_events(js, evs, 0.0, run_id, source=SOURCE, stats=stats)
                stats.done = False  # a live feed is never done
    finally:
        client.stop()
    return stats
