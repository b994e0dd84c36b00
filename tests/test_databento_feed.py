"""The Databento Live adapter (`spymaster live --live`): records -> the file normaliser -> events.

No network here, so the records come from DBN files: a real Databento live-session capture, and a
simulated day's files played in time order by `RecordedLive`, a stand-in for `databento.Live` that
calls the record callback from its own thread as the real client does. The normaliser, the
bus, the core (levels computed from the live trades) and the gateway are the real ones.
"""

from __future__ import annotations

import asyncio
import heapq
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import databento as db
import databento_dbn as dbn_rec
import orjson
import polars as pl
import pytest

from spymaster_core import calendar
from spymaster_core.config import DEFAULT_CONFIG
from spymaster_core.engines import streams as replay
from spymaster_core.events import FuturesTrade, Mbp10Update
from spymaster_core.io import dbn
from spymaster_core.research import features
from spymaster_core.research.session import Session
from spymaster_live import bus
from spymaster_live.core import SignalCore
from spymaster_live.databento_feed import RecordNormaliser
from spymaster_live.service import LiveOptions, LiveService

LIVE_CAPTURE = "databento-python/tests/data/LIVE/test_data.live.dbn.zst"


def _landing_files(session: Session) -> list[Path]:
    return sorted(Path(p) for p in session.sim.files.values() if str(p).endswith(".dbn.zst"))  # type: ignore[attr-defined]


def _records(files: list[Path], until_ns: int | None = None) -> Iterator[Any]:
    """What a Live session sends: symbol mappings, then definitions, then market records in
    ts_event order (statistics included), as databento-dbn record objects."""
    stores = [db.DBNStore.from_file(f) for f in files]
    for st in stores:
        for iid, sym in dbn.instrument_symbols(st).items():
            yield dbn_rec.SymbolMappingMsg(
                publisher_id=1, instrument_id=iid, ts_event=0, stype_in=dbn_rec.SType.RAW_SYMBOL,
                stype_in_symbol=sym, stype_out=dbn_rec.SType.INSTRUMENT_ID, stype_out_symbol=sym, start_ts=0, end_ts=0,
            )  # fmt: skip
    defs = [st for st, f in zip(stores, files, strict=True) if ".definition." in f.name]
    for st in defs:
        yield from st
    market = [((r.ts_event, k, r) for r in st) for k, st in enumerate(stores) if st not in defs]
    for ts, _k, r in heapq.merge(*market, key=lambda x: (x[0], x[1])):
        if until_ns is not None and ts >= until_ns:
            return
        yield r


class RecordedLive:
    """Stand-in for `databento.Live` (subscribe / add_callback / start / stop): plays recorded
    records to the callback from a thread."""

    def __init__(self, records: Iterator[Any]) -> None:
        self.records = records
        self.subscriptions: list[dict[str, Any]] = []
        self.done = threading.Event()
        self._stop = threading.Event()

    def subscribe(self, **kw: Any) -> None:
        self.subscriptions.append(kw)

    def add_callback(self, cb: Any, exc_cb: Any = None) -> None:
        self.cb = cb

    def start(self) -> None:
        def run() -> None:
            for r in self.records:
                if self._stop.is_set():
                    return
                self.cb(r)
            self.done.set()

        threading.Thread(target=run, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def test_live_records_give_the_file_replay_events(sim_day: Session) -> None:
    """Records fed one by one and drained in chunks give exactly the events the file replay of
    the same date gives (MBP-10, futures trades, 0DTE quotes and trades), in the same order."""
    end = calendar.et_ns(sim_day.date, "10:00")
    norm = RecordNormaliser(sim_day.date, str(sim_day.front_month))
    got = []
    for i, r in enumerate(_records(_landing_files(sim_day), end)):
        norm.add(r)
        if i % 5000 == 4999:
            got += norm.drain()
    got += norm.drain()
    want = [
        e
        for e in replay.merged_events(
            features.mbp10_batches(sim_day.mbp10_files), sim_day.trades, sim_day.options
        )
        if e.ts_event_ns < end
    ]
    assert len(want) > 50_000 and {type(e).__name__ for e in want} >= {"Mbp10Update", "OptionQuote"}
    assert [repr(e) for e in got] == [repr(e) for e in want]  # repr: NaN prices compare equal
    assert len(norm.odte) == sim_day.options["definitions"].height
    defs, stats = norm.take_reference()
    assert defs is not None and defs.height == len(norm.odte)
    assert stats is not None and stats.filter(pl.col("stat_type") == 9).height > 0  # open interest


def test_real_live_capture_through_the_normaliser(samples: Path) -> None:
    """Databento's own live-session capture (ESZ4, mixed schemas, symbol-mapping records): its
    MBP-10 and trade records become events equal to decoding the file; the rest is counted."""
    path = samples / LIVE_CAPTURE
    norm = RecordNormaliser("2023-11-20", "ESZ4")
    for r in db.DBNStore.from_file(path):
        norm.add(r)
    assert norm.symbols == {183748: "ESZ4"}
    evs = norm.drain()
    tables = dbn.decode_file(path).tables
    mbp = pl.from_arrow(tables["mbp10"])
    trades = pl.from_arrow(tables["trades"])
    want_mbp = [e for e in replay.mbp10_events([features.mbp10_arrays(tables["mbp10"])])]
    # repr: the books hold NaN prices for empty levels, and NaN != NaN
    assert [repr(e) for e in evs if isinstance(e, Mbp10Update)] == [repr(e) for _t, _k, e in want_mbp]
    # Futures trades come from trade records only (as in Bronze), not from MBP-1 `T` actions.
    trade_msgs = [r for r in db.DBNStore.from_file(path) if isinstance(r, dbn_rec.TradeMsg)]
    assert [(e.ts_event_ns, e.price, e.size) for e in evs if isinstance(e, FuturesTrade)] == [
        (r.ts_event, r.pretty_price, float(r.size)) for r in trade_msgs
    ]
    assert mbp.height == 2 and len(trade_msgs) == 2 and trades.height == 4
    assert norm.skipped["MBOMsg"] == 5 and norm.skipped["OHLCVMsg"] == 4


def test_live_levels_equal_batch_levels(sim_day: Session) -> None:
    """A core that computes levels and touches from the trades it has seen (live feed) emits the
    same payloads as one given the whole day's levels and touches (replay), 09:00-10:15 ET:
    PM and opening-range levels, SMA updates and touch counts included."""
    start, end = calendar.et_ns(sim_day.date, "09:00"), calendar.et_ns(sim_day.date, "10:15")
    s = sim_day
    batch = SignalCore(s.date, DEFAULT_CONFIG, s.levels, s.touches, s.options, s.front_month)
    live = SignalCore(
        s.date,
        DEFAULT_CONFIG,
        s.levels.clear(),
        s.touches.clear(),
        s.options,
        s.front_month,
        live_levels=True,
    )
    n = with_levels = touched = 0
    for ev in replay.merged_events(features.mbp10_batches(s.mbp10_files), s.trades, s.options):
        if ev.ts_event_ns >= end:
            break
        if ev.ts_event_ns < start:
            batch.warm(ev)
            live.warm(ev)
            continue
        a, b = batch.on_event(ev), live.on_event(ev)
        assert a == b
        if a is not None:
            n += 1
            with_levels += bool(a["levels"])
            touched += any(lv["prior_touches"] for lv in a["levels"])
    assert n > 5_000 and with_levels > 100 and touched > 0


@pytest.mark.slow
def test_live_service_from_a_recorded_feed(sim_day: Session, tmp_path: Path) -> None:
    """`LiveService` in --live mode with the recorded feed: every event reaches the core through
    the bus, payloads carry levels the core computed itself and fuel from the 0DTE definitions
    and open interest that arrived with the feed."""
    end = calendar.et_ns(sim_day.date, "10:05")
    feed = RecordedLive(_records(_landing_files(sim_day), end))
    opts = LiveOptions(
        date=sim_day.date, landing=tmp_path / "landing", lake_root=tmp_path / "lake", data_dir=tmp_path,
        port=bus.free_port(), use_model=False, live_symbol=str(sim_day.front_month),
    )  # fmt: skip
    svc = LiveService(opts, DEFAULT_CONFIG)
    svc.client_factory = lambda _key: feed
    payloads: list[bytes] = []

    async def main() -> None:
        task = asyncio.create_task(svc.run())
        await svc.ready.wait()
        svc.hub.publish = payloads.append  # type: ignore[method-assign]
        want = _n_events(sim_day, end)
        for _ in range(600):  # at most 120 s: the feed plays, the core catches up with the bus
            await asyncio.sleep(0.2)
            if task.done() or (feed.done.is_set() and svc.core_stats.processed >= want):
                break
        svc.stop.set()
        await task

    asyncio.run(main())
    assert {s["schema"] for s in feed.subscriptions} == {"mbp-10", "trades", "definition", "bbo-1s"}
    n = _n_events(sim_day, end)
    assert svc.replay_stats.published == n and svc.core_stats.processed == n and svc.core_stats.malformed == 0
    last = [orjson.loads(p) for p in payloads[-50:]]
    lv = [x for p in last for x in p["levels"]]
    assert lv, "no level within MONITOR_BAND in the last payloads"
    assert {x["kind"] for x in lv} & {"PM_HIGH", "PM_LOW", "OR_HIGH", "OR_LOW"}
    assert all(x["features"]["fuel_missing_reason"] is None for x in lv)
    # GEX by strike (flow + open interest) rides in each level's fuel group and at the top level,
    # and sums to the net dealer GEX from flow plus from open interest.
    for p in last:
        for x in p["levels"]:
            assert x["fuel"]["gamma_by_strike"] == p["gamma_by_strike"] != {}
            f = x["fuel"]
            total = f["net_dealer_gamma_usd"] + f["net_dealer_gamma_oi_usd"]
            assert sum(p["gamma_by_strike"].values()) == pytest.approx(total, rel=1e-9, abs=1e-3)


def _n_events(s: Session, end: int) -> int:
    return sum(
        1
        for e in replay.merged_events(features.mbp10_batches(s.mbp10_files), s.trades, s.options)
        if e.ts_event_ns < end
    )


def test_live_flag_needs_an_api_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from spymaster_cli.main import app

    monkeypatch.delenv("DATABENTO_API_KEY", raising=False)
    res = CliRunner().invoke(app, ["live", "--date", "2026-11-16", "--live", "--data-dir", str(tmp_path)])
    assert res.exit_code != 0 and "DATABENTO_API_KEY" in res.output
    assert calendar.front_month_symbol("2026-11-16") == "ESZ6"
