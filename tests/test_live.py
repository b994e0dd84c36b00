"""The live service against a real nats-server started here on a free port: replay -> JetStream
-> core -> WebSocket; bus restart mid-replay; malformed messages; a stalled WebSocket client."""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import math
import os
import socket
import time
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pytest
import websockets

from spymaster_core import calendar
from spymaster_core.config import DEFAULT_CONFIG
from spymaster_core.engines import feature_row
from spymaster_core.engines import streams as replay
from spymaster_core.engines.state import EngineState
from spymaster_core.events import FuturesTrade, Mbp10Update, OptionQuote, OptionTrade
from spymaster_core.research import features
from spymaster_core.research.session import Session
from spymaster_live import bus, codec
from spymaster_live.core import SignalCore
from spymaster_live.replay import BATCH_EVENTS, publish_events
from spymaster_live.service import LiveOptions, LiveService


@pytest.fixture(scope="module")
def session(sim_day) -> Session:
    return sim_day  # a SimDay is a Session


def _window(session: Session) -> tuple[str, str, dict]:
    """A 4-minute replay window ending 1 minute after the first touch after 10:00 ET."""
    after = session.touches.filter(pl.col("ts_ns") > calendar.et_ns(session.date, "10:00")).sort("ts_ns")
    touch = after.row(0, named=True)
    t_min = (touch["ts_ns"] - calendar.et_ns(session.date, "00:00")) // 60_000_000_000
    fmt = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    return fmt(t_min - 3), fmt(t_min + 1), touch


def _opts(tmp_path: Path, session: Session, start: str, end: str, **kw) -> LiveOptions:
    return LiveOptions(
        date=session.date, landing=tmp_path / "landing", lake_root=tmp_path / "lake", data_dir=tmp_path,
        speed=0.0, port=bus.free_port(), use_model=False, exit_when_replayed=True, start_et=start, end_et=end, **kw,
    )  # fmt: skip


def test_codec_round_trip_and_errors() -> None:
    book = tuple([5000.0 + i * 0.25 for i in range(10)] + [1.0] * 10 + [float("nan")] * 10 + [0.0] * 10)
    for ev in (FuturesTrade(1, 5000.25, 3.0, -1), Mbp10Update(2, "A", float("nan"), 0.0, book)):
        back = codec.decode(codec.subject_of(ev), codec.encode(ev, "test", 5))
        assert type(back) is type(ev)
        for f in ev.__slots__:
            a, b = getattr(ev, f), getattr(back, f)
            assert (
                a == b
                or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
                or (
                    isinstance(a, tuple)
                    and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))
                )
            )
    with pytest.raises(ValueError, match="market.futures.trades.*'price'"):
        codec.decode("market.futures.trades", b'{"ts_event_ns": 1, "size": 1, "aggressor": 1}')
    with pytest.raises(ValueError, match="market.futures.mbp10"):
        codec.decode("market.futures.mbp10", b"not json")


def test_closing_the_client_logs_no_disconnect_but_losing_the_server_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = bus.NatsServer(tmp_path / "js").start()

    async def main() -> None:
        nc = await bus.connect(server.url, "closes")
        await nc.close()
        lost = await bus.connect(server.url, "loses")
        server.kill()
        await asyncio.sleep(0.5)
        await lost.close()

    try:
        with caplog.at_level(logging.WARNING, logger="spymaster.bus"):
            asyncio.run(main())
    finally:
        server.stop()
    said = [r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(said) == 1, said


def test_codec_batch_round_trip_and_errors_name_the_event() -> None:
    evs = [FuturesTrade(i, 5000.25 + i, 1.0 + i, 1) for i in range(3)]
    body = codec.encode_batch(evs, "test", 7)
    assert codec.decode_all("market.futures.trades", body) == evs
    assert codec.decode_all("market.futures.trades", codec.encode_batch(evs[:1], "t", 0)) == evs[:1]
    with pytest.raises(ValueError, match="2 events, not one"):
        codec.decode("market.futures.trades", codec.encode_batch(evs[:2], "t", 0))
    bad = body.replace(b'"price":5002.25', b'"price":"x"')
    with pytest.raises(ValueError, match=r"market.futures.trades event 2: .*price"):
        codec.decode_all("market.futures.trades", bad)
    with pytest.raises(ValueError, match="empty"):
        codec.decode_all("market.futures.trades", b"[]")


class _RecordingJetStream:
    """JetStream stand-in for publish_events: records (subject, body, Msg-Id), acks at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, str]] = []

    async def publish_async(self, subject: str, body: bytes, headers: dict[str, str]) -> asyncio.Future:
        self.sent.append((subject, body, headers["Nats-Msg-Id"]))
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


def test_replay_sends_runs_of_one_subject_per_message_in_order(session: Session) -> None:
    """Speed 0: consecutive events of one subject share a message (at most BATCH_EVENTS); reading the
    messages back in order gives every event once, in the replay's order; Msg-Ids are unique (the
    index of each message's first event)."""
    evs = list(itertools.islice(replay.merged_events(
        features.mbp10_batches(session.mbp10_files), session.trades, session.options), 20_000))  # fmt: skip
    js = _RecordingJetStream()
    stats = asyncio.run(publish_events(js, evs, 0.0, "t"))  # type: ignore[arg-type]
    back = [e for subject, body, _ in js.sent for e in codec.decode_all(subject, body)]
    assert back == evs and stats.published == len(evs) and stats.messages == len(js.sent)
    sizes = [len(codec.decode_all(s, b)) for s, b, _ in js.sent]
    assert max(sizes) <= BATCH_EVENTS and len(js.sent) < len(evs) / 2
    subjects = [s for s, _, _ in js.sent]
    full = [i for i, n in enumerate(sizes[:-1]) if n < BATCH_EVENTS]
    assert all(subjects[i] != subjects[i + 1] for i in full)  # a run ends where the subject changes
    ids = [m for _, _, m in js.sent]
    assert ids == [f"t:{k}" for k in np.cumsum([0, *sizes[:-1]]).tolist()]


def test_sliced_replay_sends_quotes_before_the_option_trades_they_classify() -> None:
    """Within a slice an option trade follows the quote 1 ms before it on the bus, whatever order
    the subjects first appeared in, so the core classifies it as a customer buy (at the ask)."""
    t = 1_794_841_260_000_000_000
    evs = [OptionTrade(t, 7, 2.0, 1.0), OptionQuote(t + 1_000_000, 7, 1.0, 1.5),
           OptionTrade(t + 2_000_000, 7, 1.5, 10.0), FuturesTrade(t + 10**9, 6000.0, 1.0, 1)]  # fmt: skip
    js = _RecordingJetStream()
    asyncio.run(publish_events(js, evs, 0.0, "t", slice_ns=250_000_000))  # type: ignore[arg-type]
    st = EngineState("2026-11-16", DEFAULT_CONFIG)
    st.set_option_definitions(np.array([7]), np.array([6000.0]), np.array([True]), np.array([t + 10**13]))
    for subject, body, _ in js.sent:
        for e in codec.decode_all(subject, body):
            st.update(e)
        st.flush()  # the state flushes every FLUSH_EVENTS events: that may fall between any messages
    assert st.chain.trades()[3].tolist() == [0, 1]  # the first had no quote before it


def test_sliced_replay_gives_the_core_the_same_payloads(session: Session) -> None:
    """Speed 0 with the core's SNAP_INTERVAL as slice: each 250 ms slice goes out as one message per
    subject, so events of different subjects trade places within a slice; every subject keeps its
    order, and the core computes byte-identical payloads from that stream and from the events in
    ts_event order (the engines keep each kind apart; quotes go before the option trades)."""
    start, end, _ = _window(session)
    s_ns, e_ns = (calendar.et_ns(session.date, x) for x in (start, end))
    evs = list(itertools.takewhile(lambda e: e.ts_event_ns < e_ns, replay.merged_events(
        features.mbp10_batches(session.mbp10_files), session.trades, session.options)))  # fmt: skip
    warm, live = [e for e in evs if e.ts_event_ns < s_ns], [e for e in evs if e.ts_event_ns >= s_ns]
    js = _RecordingJetStream()
    slice_ns = DEFAULT_CONFIG.live.SNAP_INTERVAL_MS * 1_000_000
    asyncio.run(publish_events(js, live, 0.0, "t", slice_ns=slice_ns))  # type: ignore[arg-type]
    sliced = [e for subject, body, _ in js.sent for e in codec.decode_all(subject, body)]
    kinds = {type(e) for e in live}
    assert len(kinds) == 4, kinds  # futures trades and MBP-10, option quotes and trades
    assert sliced != live and all(
        [e for e in sliced if type(e) is k] == [e for e in live if type(e) is k] for k in kinds
    )
    assert len(js.sent) == len(
        {(e.ts_event_ns // slice_ns, type(e)) for e in live}
    )  # one per slice and subject

    def payloads(stream: list) -> bytes:
        core = SignalCore(session.date, DEFAULT_CONFIG, session.levels, session.touches, session.options,
                          session.front_month)  # fmt: skip
        for e in warm:
            core.warm(e)
        got = [p for e in stream if (p := core.on_event(e)) is not None]
        assert len(got) > 100 and any(lv for p in got for lv in p["levels"])
        return orjson.dumps(got)

    assert payloads(sliced) == payloads(live)


@pytest.mark.slow
def test_replay_to_websocket_payload_equals_batch_features(session: Session, tmp_path: Path) -> None:
    start, end, _touch = _window(session)
    svc = LiveService(_opts(tmp_path, session, start, end), DEFAULT_CONFIG, session)
    svc.opts.speed = 20.0  # 4 minutes of event time in 12 s: a client on the same loop keeps up
    received: list[dict] = []

    async def main() -> None:
        task = asyncio.create_task(svc.run())
        await svc.ready.wait()
        await asyncio.sleep(0.3)  # uvicorn binds
        async with websockets.connect(f"ws://127.0.0.1:{svc.opts.port}/ws/stream", max_size=None) as ws:
            # The client offers permessage-deflate; the gateway declines (one encode per payload).
            assert "permessage-deflate" in ws.request.headers.get("Sec-WebSocket-Extensions", "")
            assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
            while not task.done():
                try:
                    received.append(orjson.loads(await asyncio.wait_for(ws.recv(), 1.0)))
                except TimeoutError:
                    continue
                except websockets.ConnectionClosed:
                    break
        await task

    asyncio.run(main())
    assert svc.core_stats.processed == svc.replay_stats.published > 1000
    assert svc.core_stats.malformed == 0
    # Event-time lag of the 20x replay: each batch applied within a second of when it was due (the
    # publisher sends up to 2 ms early); measured against 20x, not 1x pacing (minutes early).
    p50, p99 = svc.core_stats.lag_percentiles_ms()
    assert len(svc.core_stats.lag_ms) > 100 and -5.0 < p50 <= p99 < 1000.0, (p50, p99)
    with_levels = [p for p in received if p["levels"]]
    assert len(received) > 500 and with_levels, "payloads every 250 ms, some with levels in the band"
    # Batch features (the Silver code path over the whole day's files) at the payload times.
    probes = with_levels[:: max(1, len(with_levels) // 5)][:5]
    rows = [
        {"touch_id": f"p{i}:{lv['id']}", "ts_ns": p["ts_ns"], "level_id": lv["id"], "level_price": lv["price"], "direction": lv["direction"]}
        for i, p in enumerate(probes)
        for lv in p["levels"]
    ]  # fmt: skip
    batch = features.touch_features(
        features.mbp10_batches(session.mbp10_files), session.trades, pl.DataFrame(rows),
        session.levels, session.date, DEFAULT_CONFIG, session.options,
    )  # fmt: skip
    by_id = {r["touch_id"]: r for r in batch.iter_rows(named=True)}
    checked = 0
    for i, p in enumerate(probes):
        for lv in p["levels"]:
            b = by_id[f"p{i}:{lv['id']}"]
            for c in feature_row.feature_columns(DEFAULT_CONFIG.windows.kinematics_horizons_s):
                live, ref = lv["features"][c], b[c]
                if ref is None or (isinstance(ref, float) and math.isnan(ref)):
                    assert live is None, (c, live, ref)
                else:
                    assert live == pytest.approx(ref, rel=1e-9, abs=1e-12), (c, live, ref)
                checked += 1
            for c in feature_row.STRING_COLUMNS:
                assert lv["features"][c] == b[c], (c, lv["features"][c], b[c])
    assert checked >= len(feature_row.feature_columns(DEFAULT_CONFIG.windows.kinematics_horizons_s))
    # The writer kept every payload's levels in gold/streaming Parquet.
    files = list(
        (tmp_path / "lake" / "gold" / "streaming" / "signals" / f"date={session.date}").glob("part-*.parquet")
    )
    written = pl.read_parquet(files)
    assert written["ts_ns"].n_unique() == svc.core_stats.payloads


@pytest.mark.slow
def test_bus_killed_and_restarted_mid_replay_every_event_once(session: Session, tmp_path: Path) -> None:
    start, end, _ = _window(session)
    server = bus.NatsServer(tmp_path / "js").start()
    svc = LiveService(_opts(tmp_path, session, start, end, nats_url=server.url), DEFAULT_CONFIG, session)
    svc.opts.speed = 20.0  # slow enough that the kill lands mid-replay

    async def main() -> None:
        task = asyncio.create_task(svc.run())
        await svc.ready.wait()
        while svc.core_stats.processed < 300:
            await asyncio.sleep(0.05)
        server.kill()
        assert not svc.replay_stats.done  # the crash lands mid-replay
        await asyncio.sleep(1.0)
        assert not svc.nc.is_connected
        server.start()
        await asyncio.wait_for(task, 240)

    try:
        asyncio.run(main())
    finally:
        server.stop()
    st = svc.core_stats
    assert svc.replay_stats.done and svc.replay_stats.published > 1000
    assert st.processed == svc.replay_stats.published, (st, svc.replay_stats)
    assert st.malformed == 0


@pytest.mark.slow
def test_malformed_market_message_counted_and_skipped(session: Session, tmp_path: Path) -> None:
    start, end, _ = _window(session)
    server = bus.NatsServer(tmp_path / "js").start()
    svc = LiveService(_opts(tmp_path, session, start, end, nats_url=server.url), DEFAULT_CONFIG, session)
    svc.opts.speed = 20.0

    async def main() -> None:
        task = asyncio.create_task(svc.run())
        await svc.ready.wait()
        nc = await bus.connect(server.url, "test")
        js = nc.jetstream()
        while svc.core_stats.processed < 100:
            await asyncio.sleep(0.05)
        await js.publish("market.futures.trades", b'{"ts_event_ns": "soon", "price": 1}')
        await js.publish("market.futures.mbp10", b"\x00garbage")
        await nc.close()
        await asyncio.wait_for(task, 240)

    try:
        asyncio.run(main())
    finally:
        server.stop()
    assert svc.core_stats.malformed == 2
    assert svc.core_stats.processed == svc.replay_stats.published
    assert svc.core_stats.payloads > 0  # kept publishing after the bad messages


async def _stalled_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake and never reads again (small receive
    buffer, so the server's sends back up after a few MB instead of ~36 MB of TCP autotuning)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(s, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        s,
        f"GET /ws/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode(),
    )
    assert (await asyncio.wait_for(loop.sock_recv(s, 12), 5)) == b"HTTP/1.1 101"
    return s


def test_stalled_client_does_not_delay_a_healthy_one(tmp_path: Path) -> None:
    """One client never reads; payloads of ~200 kB go out every 50 ms. The healthy client gets each
    within 50 ms of publication; the stalled one is dropped once its queue is full."""
    import uvicorn

    from spymaster_live.gateway import CLIENT_QUEUE, WS_IMPL, Hub, create_app

    hub = Hub()
    port = bus.free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(hub, dict),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws=WS_IMPL,
            timeout_graceful_shutdown=2,
        )
    )
    lat_ms: list[float] = []

    async def main() -> None:
        serve = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        url = f"ws://127.0.0.1:{port}/ws/stream"
        stalled = await _stalled_client(port)
        healthy = await websockets.connect(url, max_size=None)
        await asyncio.sleep(0.1)
        filler = "x" * 200_000

        async def read() -> None:
            async for raw in healthy:
                lat_ms.append((time.time_ns() - orjson.loads(raw)["published_ns"]) / 1e6)
                if len(lat_ms) == 3 * CLIENT_QUEUE:
                    return

        reader = asyncio.create_task(read())
        for _ in range(3 * CLIENT_QUEUE):
            hub.publish(orjson.dumps({"published_ns": time.time_ns(), "pad": filler}))
            await asyncio.sleep(0.05)
        await asyncio.wait_for(reader, 10)
        assert hub.dropped_clients == 1 and len(hub.clients) == 1
        await healthy.close()
        stalled.close()
        server.should_exit = True
        await serve

    asyncio.run(main())
    lat_ms.sort()
    assert len(lat_ms) == 3 * CLIENT_QUEUE
    assert lat_ms[-1] < 50.0, lat_ms[-5:]


@pytest.mark.slow
def test_two_replays_of_a_date_on_one_server_both_complete(session: Session, tmp_path: Path) -> None:
    """A second replay of the same date on a shared NATS server, inside JetStream's de-duplication
    window: its Msg-Ids carry the run id, so none of its events is dropped as a duplicate (they all
    were, and `--exit-when-done` never returned); the signals of both runs are told apart."""
    start, end, _ = _window(session)
    server = bus.NatsServer(tmp_path / "js").start()
    runs = []
    try:
        for _ in range(2):
            svc = LiveService(
                _opts(tmp_path, session, start, end, nats_url=server.url), DEFAULT_CONFIG, session
            )
            asyncio.run(asyncio.wait_for(svc.run(), 120))
            runs.append(svc)
    finally:
        server.stop()
    for svc in runs:
        assert svc.replay_stats.published > 1000
        assert svc.core_stats.processed == svc.replay_stats.published, svc.core_stats
    assert runs[0].run_id != runs[1].run_id
    signals = pl.read_parquet(
        tmp_path / "lake" / "gold" / "streaming" / "signals" / f"date={session.date}" / "*.parquet"
    )
    assert set(signals["run_id"]) == {runs[0].run_id, runs[1].run_id}


@pytest.mark.slow
def test_a_killed_private_nats_server_is_restarted_and_nothing_is_lost(
    session: Session, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The service's own nats-server is SIGKILLed mid-replay: the service restarts it on its store,
    the bus reports down meanwhile, every published event is processed exactly once, and the outage
    is a few log lines, not a traceback per retry (before: 490 tracebacks, then exit 1 with 9,428
    events never replayed)."""
    import logging

    start, end, _ = _window(session)
    svc = LiveService(_opts(tmp_path, session, start, end), DEFAULT_CONFIG, session)  # private server
    svc.opts.speed = 20.0
    seen_down = []

    async def main() -> None:
        task = asyncio.create_task(svc.run())
        await svc.ready.wait()
        while svc.core_stats.processed < 300:
            await asyncio.sleep(0.05)
        svc.server.kill()
        assert not svc.replay_stats.done
        for _ in range(40):
            seen_down.append(svc.status()["bus_connected"] is False)
            await asyncio.sleep(0.05)
        await asyncio.wait_for(task, 240)

    with caplog.at_level(logging.INFO):
        asyncio.run(main())
    st = svc.core_stats
    assert any(seen_down)
    assert svc.replay_stats.done and st.processed == svc.replay_stats.published > 1000, (st, svc.replay_stats)
    assert any("restarting it" in r.getMessage() for r in caplog.records)
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(noisy) < 20 and not any(r.exc_info for r in noisy), [r.getMessage() for r in noisy]
    assert not (tmp_path / "nats").exists() or not any((tmp_path / "nats").iterdir())  # store removed


CLUSTER_CONF = Path(__file__).resolve().parents[1] / "deploy" / "nats" / "cluster-node.conf"


def _cluster(root: Path, size: int = 3) -> list[bus.NatsServer]:
    """`size` nats-server nodes clustered on loopback from the shipped deploy/nats/cluster-node.conf
    (names n1..n<size>, each with its own client port, route port and store)."""
    route_ports = [bus.free_port() for _ in range(size)]
    routes = {f"NATS_ROUTE_{i + 1}": f"nats://127.0.0.1:{p}" for i, p in enumerate(route_ports)}
    return [
        bus.NatsServer(root / f"n{i + 1}", conf=CLUSTER_CONF,
                       env={"NATS_NAME": f"n{i + 1}", "NATS_CLUSTER_PORT": str(p), **routes})
        for i, p in enumerate(route_ports)
    ]  # fmt: skip


@pytest.mark.slow
def test_three_node_cluster_loses_the_stream_leader_mid_replay_every_event_once(
    session: Session, tmp_path: Path
) -> None:
    """Three clustered nats-servers (deploy/nats), both streams with three replicas, the service
    connected to all three URLs. The MARKET_DATA leader's server is SIGKILLed mid-replay: another
    node takes over, every published event is stored once (Msg-Id de-duplication) and processed
    once, in ts_event order, by the durable consumer; payloads keep reaching a WebSocket client and
    the longest silence after the kill is reported (the failover gap)."""
    nodes = _cluster(tmp_path / "cluster")
    for n in nodes:
        n.start()
    by_name = {f"n{i + 1}": n for i, n in enumerate(nodes)}
    urls = ",".join(n.url for n in nodes)
    start, end, _ = _window(session)
    svc = LiveService(
        _opts(tmp_path, session, start, end, nats_url=urls, nats_replicas=3), DEFAULT_CONFIG, session
    )
    svc.opts.speed = 20.0  # 4 minutes of event time in 12 s: the kill lands mid-replay
    arrivals: list[float] = []
    facts: dict = {}

    async def client() -> None:
        async with websockets.connect(f"ws://127.0.0.1:{svc.opts.port}/ws/stream", max_size=None) as ws:
            while True:
                try:
                    orjson.loads(await asyncio.wait_for(ws.recv(), 1.0))
                    arrivals.append(time.monotonic())
                except TimeoutError:
                    continue
                except websockets.ConnectionClosed:
                    return

    async def main() -> None:
        task = asyncio.create_task(svc.run())
        await svc.ready.wait()
        await asyncio.sleep(0.3)  # uvicorn binds
        ws_task = asyncio.create_task(client())
        while svc.core_stats.processed < 300:
            await asyncio.sleep(0.05)
        js = svc.nc.jetstream(timeout=5)
        for name in bus.STREAMS:
            info = await js.stream_info(name)
            assert info.config.num_replicas == 3 and len(info.cluster.replicas) == 2, (name, info.cluster)
        leader = (await js.stream_info("MARKET_DATA")).cluster.leader
        facts["killed"] = leader
        facts["t_kill"] = time.monotonic()
        by_name[leader].kill()
        assert not svc.replay_stats.done, "the kill should land mid-replay"
        facts["payloads_at_kill"] = len(arrivals)
        await asyncio.wait_for(task, 240)
        await asyncio.wait_for(ws_task, 10)
        # What the surviving nodes stored: each published event once, under a new leader.
        nc = await bus.connect(urls, "check")
        try:
            js2 = nc.jetstream(timeout=5)
            info = await js2.stream_info("MARKET_DATA")
            facts["stored"], facts["new_leader"] = info.state.messages, info.cluster.leader
            await bus.ensure_streams(js2)  # a later run without --nats-replicas keeps the three copies
            facts["replicas_after"] = (await js2.stream_info("MARKET_DATA")).config.num_replicas
        finally:
            await nc.close()

    try:
        asyncio.run(main())
    finally:
        for n in nodes:
            n.stop()
    st, rs = svc.core_stats, svc.replay_stats
    assert rs.done and rs.published > 1000
    assert facts["new_leader"] != facts["killed"] and facts["replicas_after"] == 3
    assert facts["stored"] == rs.messages < rs.published, (facts, rs)  # runs of events share a message
    assert st.processed == rs.published and st.malformed == 0 and st.out_of_order == 0, (st, rs)
    after = [t for t in arrivals if t > facts["t_kill"]]
    assert len(after) > 50, "payloads keep flowing to the WebSocket client after the kill"
    gaps = [b - a for a, b in zip([facts["t_kill"], *after[:-1]], after, strict=True)]
    gap_s = max(gaps)
    print(f"NATS cluster failover: killed {facts['killed']} (stream leader), new leader {facts['new_leader']}; "
          f"{rs.published:,} events stored and processed once, {st.duplicates} redeliveries skipped, "
          f"{rs.retries} re-publishes; longest payload gap after the kill {gap_s:.2f} s")  # fmt: skip
    assert gap_s < 30.0
