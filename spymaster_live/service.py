"""`spymaster live`: replay (or a live feed) -> NATS JetStream -> core -> gateway + writer, in one
asyncio process. With no NATS URL it starts a private nats-server on a free port.

Core consumer: durable pull consumer `core` on MARKET_DATA (ack policy all, 5 s ack wait). It
processes each stream sequence once: after a bus restart the server redelivers unacked messages
and the core skips every sequence it already applied (`duplicates`). A message that does not
decode is counted (`malformed`), logged with its subject and error, acked and skipped.
Payloads are scored with the champion model in a worker thread (inference never runs on the
event loop) and published to `levels.signals` in order.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import uvicorn
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.config import Config
from spymaster_core.engines import streams as replay
from spymaster_core.events import Event
from spymaster_core.io.lake import LakePath
from spymaster_core.research import bar_stream, features, option_chain
from spymaster_core.research.session import Session, load_session
from spymaster_live import bus
from spymaster_live.codec import decode_all
from spymaster_live.core import Scorer, SignalCore, with_model
from spymaster_live.gateway import WS_IMPL, WS_MAX_INBOUND_BYTES, WS_PER_MESSAGE_DEFLATE, Hub, create_app
from spymaster_live.replay import ReplayControl, ReplayStats, publish_events
from spymaster_live.writer import SignalsWriter

log = logging.getLogger("spymaster.live")
FETCH_BATCH = 1000
IDLE_EXIT_S = 30.0  # --exit-when-done: give up this long after the replay if no event arrives


@dataclass
class LiveOptions:
    """What `spymaster live` runs: the date to replay from `landing` (a local folder), replay speed
    (0 = as fast as possible), an existing NATS URL (None = private server), gateway host/port/token,
    the lake (local path or s3:// URL: Silver levels, streaming Parquet, research views), the data
    dir (MLflow champion, NATS storage, work files), and `exit_when_replayed` for tests/bench.
    `levels_from_lake=False` (a simulated session outside the lake) builds levels without the lake."""

    date: str
    landing: Path
    lake_root: LakePath
    data_dir: Path
    speed: float = 10.0
    nats_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    use_model: bool = True
    exit_when_replayed: bool = False
    replay: bool = True
    start_et: str | None = None  # "HH:MM" ET: warm the core from the files up to here, replay from here
    live_symbol: str | None = None  # front month (e.g. ESZ6): feed from Databento Live, not files
    end_et: str | None = None  # "HH:MM" ET: stop the replay here
    levels_from_lake: bool = True
    nats_replicas: int | None = None  # stream copies: 3 on a three-node cluster (None: as they are, new: 1)


@dataclass
class CoreStats:
    """Core counters: events applied, redeliveries skipped, malformed messages, payloads, and
    events applied with a ts_event earlier than the one before on their subject (`out_of_order`; a
    replay publishes each subject in ts_event order, so anything but 0 means the bus reordered it)."""

    processed: int = 0
    duplicates: int = 0
    malformed: int = 0
    payloads: int = 0
    last_seq: int = 0
    out_of_order: int = 0
    last_ts_event_ns: dict[str, int] = field(default_factory=dict)  # per subject
    # Event-time lag of a timed replay, ms: per fetched batch, how long after its first event was
    # due (`ReplayStats.due_wall_ns`) the core had applied the batch. The last 100k batches.
    lag_ms: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))

    def lag_percentiles_ms(self, last: int | None = None) -> tuple[float, float] | None:
        """(p50, p99) of `lag_ms` over the last `last` batches (all kept when None); None without
        samples (an untimed replay, or Databento Live)."""
        xs = list(self.lag_ms)[-last:] if last else list(self.lag_ms)
        if not xs:
            return None
        p50, p99 = np.percentile(np.asarray(xs), [50, 99])
        return float(p50), float(p99)


def load_scorer(data_dir: Path) -> Scorer | None:
    """The MLflow `champion` direction model, or None (logged) when none is promoted. A bar-tier
    champion (run tag `resolution=1m`) scores from 1-minute bars the core builds from the trades."""
    from ml import registry

    version = registry.champion_version(data_dir)
    if version is None:
        log.info("no champion model in %s: payloads carry model: null", data_dir)
        return None
    resolution = registry.champion_resolution(data_dir)
    log.info("champion model version %s (resolution %s)", version, resolution)
    index = registry.load_champion_index(data_dir) if resolution == "trade" else None
    if index is None:
        log.info("champion run has no touch index: payloads carry model.neighbors: null")
    return Scorer(registry.load_champion(data_dir), str(version), resolution, index)


def live_session(date: str, front_month: str) -> Session:
    """The empty starting point of a Databento Live session: no files, no levels yet (the core
    computes them from the live trades), options' reference data arriving with the feed."""
    trades = pl.from_arrow(S.FUTURES_TRADES.arrow.empty_table())
    return Session(
        date, [], trades, {}, pl.from_arrow(S.LEVELS.arrow.empty_table()),
        pl.from_arrow(S.TOUCHES.arrow.empty_table()), pl.from_arrow(S.LABELS.arrow.empty_table()), front_month,
    )  # fmt: skip


def _warm(core: SignalCore, events: Iterator[Event], start_ns: int) -> Iterator[Event]:
    """Apply events before start_ns to the core directly; return the rest (first one included)."""
    for ev in events:
        if ev.ts_event_ns >= start_ns:
            return itertools.chain([ev], events)
        core.warm(ev)
    return iter(())


class LiveService:
    """The running service; `run()` until stopped (or replayed, with exit_when_replayed)."""

    def __init__(self, opts: LiveOptions, cfg: Config, session: Session | None = None) -> None:
        self.opts, self.cfg = opts, cfg
        self.session = session
        self.server: bus.NatsServer | None = None
        self.hub = Hub()
        self.replay_stats = ReplayStats()
        self.replay_control = ReplayControl()  # the gateway's pause/speed/jump (file replays only)
        self.core_stats = CoreStats()
        self.scorer: Scorer | None = None
        self.stop = asyncio.Event()
        self.ready = asyncio.Event()
        self.nc: Any = None
        self.url = ""
        # One id per run: the signals rows and the replay's Msg-Ids carry it, so a second replay of the
        # date on a shared server inside the de-duplication window is not dropped as duplicates.
        self.run_id = uuid.uuid4().hex[:12]
        self.writer = SignalsWriter(opts.lake_root, opts.date, run_id=self.run_id)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._io_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer")
        self._out: asyncio.Queue[asyncio.Future[dict[str, Any]] | None] = asyncio.Queue(256)
        self.uvicorn: uvicorn.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.client_factory: Any = None  # tests: a stand-in for databento.Live (see databento_feed)

    def status(self) -> dict[str, Any]:
        """Fields /health reports besides the payload age."""
        return {
            "bus_connected": bool(self.nc and self.nc.is_connected),
            "nats_url": self.url,
            "model_version": self.scorer.version if self.scorer else None,
            "replay_published": self.replay_stats.published,
            "replay_done": self.replay_stats.done,
            "events_processed": self.core_stats.processed,
            "malformed": self.core_stats.malformed,
            "duplicates_skipped": self.core_stats.duplicates,
            "out_of_order": self.core_stats.out_of_order,
            "payloads": self.core_stats.payloads,
            "event_lag_ms_p50_p99": self.core_stats.lag_percentiles_ms(last=2000),
        }

    async def run(self) -> None:
        """Start everything, serve until `stop` is set; always shuts the private server down."""
        loop = asyncio.get_running_loop()
        try:
            if self.opts.nats_url is None:
                self.server = bus.NatsServer(self.opts.data_dir / "nats" / f"js-{bus.free_port()}").start()
            self.url = self.opts.nats_url or self.server.url
            self.nc = await bus.connect(self.url, "spymaster-live")
            js = self.nc.jetstream(timeout=5)
            await bus.ensure_streams(js, self.opts.nats_replicas)
            if self.opts.live_symbol:
                self.session = live_session(self.opts.date, self.opts.live_symbol)
            if self.session is None:
                self.session = await loop.run_in_executor(
                    None,
                    load_session,
                    self.opts.landing,
                    self.opts.date,
                    self.opts.data_dir / "live_work" / self.opts.date,
                    self.cfg,
                    self.opts.lake_root if self.opts.levels_from_lake else None,
                )
                log.info("levels for %s: %s", self.opts.date, self.session.notes.get("levels"))
            s = self.session
            if self.opts.use_model:
                self.scorer = await loop.run_in_executor(None, load_scorer, self.opts.data_dir)
            live = self.opts.live_symbol is not None
            stream = None
            if self.scorer is not None and self.scorer.bars:
                prior = await loop.run_in_executor(
                    None, bar_stream.prior_sessions_from_lake, self.opts.lake_root, s.date, self.cfg
                )
                log.info("bar-tier champion: 1-minute bars from the trades; prior sessions %s", sorted(prior))
                stream = bar_stream.BarStream(s.date, self.cfg, prior, s.front_month or "")
            core = SignalCore(
                s.date, self.cfg, s.levels, s.touches, s.options, s.front_month, live_levels=live,
                bar_stream=stream,
            )  # fmt: skip
            await self.nc.subscribe(bus.SIGNALS_SUBJECT, cb=self._on_signal)
            app = create_app(
                self.hub, self.status, self.opts.token, (self.opts.lake_root, self.opts.data_dir),
                replay=None if live else self.replay_control,
            )  # fmt: skip
            self.uvicorn = uvicorn.Server(
                uvicorn.Config(
                    app,
                    host=self.opts.host,
                    port=self.opts.port,
                    log_level="warning",
                    lifespan="off",
                    ws=WS_IMPL,
                    ws_per_message_deflate=WS_PER_MESSAGE_DEFLATE,
                    ws_max_size=WS_MAX_INBOUND_BYTES,
                )
            )
            self._tasks = tasks = [
                asyncio.create_task(self.uvicorn.serve(), name="gateway"),
                asyncio.create_task(self._consume(js, core), name="core"),
                asyncio.create_task(self._publish_signals(), name="signals"),
                asyncio.create_task(self._flush_writer(), name="writer"),
            ]
            if self.server is not None:
                tasks.append(asyncio.create_task(self._supervise_server(js), name="nats-supervisor"))
            if live:
                tasks.append(asyncio.create_task(self._live_feed(js, core), name="feed"))
            elif self.opts.replay:
                events = replay.merged_events(features.mbp10_batches(s.mbp10_files), s.trades, s.options)
                if self.opts.start_et:
                    events = await loop.run_in_executor(
                        None, _warm, core, events, calendar.et_ns(s.date, self.opts.start_et)
                    )
                if self.opts.end_et:
                    end_ns = calendar.et_ns(s.date, self.opts.end_et)
                    events = itertools.takewhile(lambda e: e.ts_event_ns < end_ns, events)
                tasks.append(asyncio.create_task(self._replay(js, events), name="replay"))
            self.ready.set()
            stopper = asyncio.create_task(self.stop.wait())
            waiting = {stopper, *tasks}
            while stopper in waiting:
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if t is not stopper and t.exception() is not None:
                        raise t.exception()
                    if t.get_name() == "gateway" and not self.stop.is_set():
                        raise RuntimeError(f"gateway stopped (port {self.opts.port} in use?)")
        finally:
            await self._shutdown()

    async def _supervise_server(self, js: Any) -> None:
        """The private nats-server is part of this service: if it exits (a crash, a kill), restart it
        on the same port and store; the client reconnects, the streams are re-created if missing
        and the durable consumer resumes where it acked. One log line per state change."""
        loop = asyncio.get_running_loop()
        server = self.server
        assert server is not None and server.proc is not None
        while not self.stop.is_set():
            await asyncio.sleep(0.5)
            code = server.proc.poll()
            if code is None or self.stop.is_set():
                continue
            log.warning("private NATS server exited (code %s); restarting it on %s", code, server.store_dir)
            await loop.run_in_executor(None, server.start)
            for _ in range(80):  # the client reconnects every 0.25 s
                if self.nc is not None and self.nc.is_connected:
                    break
                await asyncio.sleep(0.25)
            await bus.ensure_streams(js, self.opts.nats_replicas)
            log.warning("private NATS server back on %s; replay and core resume", server.url)

    async def _live_feed(self, js: Any, core: SignalCore) -> None:
        from spymaster_live.databento_feed import RecordNormaliser, run_live_feed

        def reference(defs: pl.DataFrame | None, stats: pl.DataFrame | None) -> None:
            if defs is not None:
                core.state.set_option_definitions(*option_chain.definition_arrays(defs))
            if stats is not None:
                core.state.set_open_interest(option_chain.open_interest(stats))

        norm = RecordNormaliser(self.opts.date, str(self.opts.live_symbol))
        await run_live_feed(
            js, norm, self.stop, reference, client_factory=self.client_factory, stats=self.replay_stats
        )

    async def _replay(self, js: Any, events: Any) -> None:
        def progress(st: ReplayStats) -> None:
            log.info("replay %s: %d events, %.0f events/s", self.opts.date, st.published, st.eps)

        await publish_events(
            js,
            events,
            self.opts.speed,
            f"{self.opts.date}:{self.run_id}",
            stats=self.replay_stats,
            progress=progress,
            control=self.replay_control,
            slice_ns=self.cfg.live.SNAP_INTERVAL_MS * 1_000_000,
        )
        log.info(
            "replay %s done: %d events in %.1fs",
            self.opts.date,
            self.replay_stats.published,
            self.replay_stats.wall_s,
        )

    async def _consume(self, js: Any, core: SignalCore) -> None:
        st = self.core_stats
        psub = await js.pull_subscribe(
            "market.>",
            durable="core",
            stream="MARKET_DATA",
            config=ConsumerConfig(
                ack_policy=AckPolicy.ALL,
                ack_wait=5.0,
                deliver_policy=DeliverPolicy.ALL,
                max_ack_pending=20_000,
            ),
        )
        loop = asyncio.get_running_loop()
        last_progress = time.monotonic()
        fetch_failing = False
        while not self.stop.is_set():
            try:
                msgs = await psub.fetch(FETCH_BATCH, timeout=0.5)
                last_progress = time.monotonic()
            except (TimeoutError, NatsTimeoutError):
                idle = time.monotonic() - last_progress
                if self.opts.exit_when_replayed and self.replay_stats.done:
                    if st.processed + st.malformed >= self.replay_stats.published:
                        await self._out.put(None)
                        return
                    if idle > IDLE_EXIT_S:  # replayed, but nothing arrives: never wait forever
                        raise RuntimeError(
                            f"replay done but only {st.processed + st.malformed:,} of "
                            f"{self.replay_stats.published:,} events reached the core in {idle:.0f}s "
                            f"({st.duplicates:,} dropped as duplicates)"
                        ) from None
                continue
            except Exception as exc:  # noqa: BLE001 - bus away: the client reconnects; try again
                if not fetch_failing:  # one line per outage, not one per retry
                    log.warning("core: fetching from the bus failed (%s); retrying until it is back", exc)
                fetch_failing = True
                await asyncio.sleep(0.25)
                continue
            if fetch_failing:
                log.warning("core: fetching from the bus again")
                fetch_failing = False
            first_ts = None
            for m in msgs:
                seq = m.metadata.sequence.stream
                if seq <= st.last_seq:
                    st.duplicates += 1
                    continue
                st.last_seq = seq
                try:
                    evs = decode_all(m.subject, m.data)
                except ValueError as exc:
                    st.malformed += 1
                    log.warning("skipped malformed message seq %d: %s", seq, exc)
                    continue
                if first_ts is None:
                    first_ts = evs[0].ts_event_ns
                last = st.last_ts_event_ns.get(m.subject, 0)
                for ev in evs:
                    if ev.ts_event_ns < last:
                        st.out_of_order += 1
                    last = max(last, ev.ts_event_ns)
                    payload = core.on_event(ev)
                    st.processed += 1
                    if payload is not None:
                        await self._out.put(
                            loop.run_in_executor(self._pool, with_model, payload, self.scorer)
                        )
                st.last_ts_event_ns[m.subject] = last
            if msgs:
                due = self.replay_stats.due_wall_ns(first_ts) if first_ts is not None else None
                if due is not None:
                    st.lag_ms.append((time.time_ns() - due) / 1e6)
                try:
                    await msgs[-1].ack()
                except Exception as exc:  # noqa: BLE001 - unacked messages come back; duplicates are skipped
                    log.warning("ack failed (%s); redeliveries will be skipped", exc)

    async def _publish_signals(self) -> None:
        while True:
            fut = await self._out.get()
            if fut is None:
                self.stop.set()
                return
            payload = await fut
            try:
                # published_ns first: a client can read its latency without parsing the payload.
                await self.nc.publish(
                    bus.SIGNALS_SUBJECT, orjson.dumps({"published_ns": time.time_ns(), **payload})
                )
                self.core_stats.payloads += 1
            except Exception as exc:  # noqa: BLE001 - bus away: this payload is lost, the next one follows
                log.warning("signal publish failed: %s", exc)

    async def _on_signal(self, msg: Any) -> None:
        self.hub.publish(msg.data)
        self.writer.add(msg.data)  # decoded and written by _flush_writer, off the loop

    async def _flush_writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            if self.writer.due():
                await loop.run_in_executor(self._io_pool, self.writer.flush)

    async def _shutdown(self) -> None:
        try:
            if self.uvicorn is not None:
                self.uvicorn.should_exit = True
            for t in self._tasks:
                if t.get_name() != "gateway":
                    t.cancel()
            if self._tasks:
                _done, pending = await asyncio.wait(self._tasks, timeout=5)
                for t in pending:
                    log.warning("task %s did not stop in 5 s; cancelled", t.get_name())
                    t.cancel()
        finally:
            try:
                if self.nc is not None:
                    try:
                        await self.nc.flush(timeout=2)
                    except Exception as exc:  # noqa: BLE001 - closing anyway
                        log.warning("NATS flush before close failed: %s", exc)
                    await self.nc.close()
                if self.server is not None:
                    self.server.stop()
                    # A private server's JetStream store lives only for this run (a durable store
                    # is an external server's job): removed, not left in data/nats per run.
                    shutil.rmtree(self.server.store_dir, ignore_errors=True)
            finally:
                self._pool.shutdown(wait=False)
                self._io_pool.shutdown(wait=True)  # a flush in progress completes first
                self.writer.flush()  # every payload received before the bus closed
