"""Live pieces without a bus: bearer token on the gateway, champion scoring of a payload."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import orjson
import pytest
import uvicorn
import websockets
import xgboost as xgb

from spymaster_core.config import DEFAULT_CONFIG as _CFG
from spymaster_core.engines.feature_row import STRING_COLUMNS, feature_columns, model_columns
from spymaster_live.bus import free_port
from spymaster_live.core import Scorer, with_model
from spymaster_live.gateway import WS_IMPL, Hub, create_app

FEATURE_COLUMNS = feature_columns(_CFG.windows.kinematics_horizons_s)
MODEL_FEATURES = model_columns(_CFG.windows.kinematics_horizons_s)


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_gateway_token_health_and_cached_payload() -> None:
    hub = Hub()
    bus = {"up": True}
    app = create_app(hub, lambda: {"bus_connected": bus["up"], "model_version": "3"}, token="s3cret")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws=WS_IMPL, timeout_graceful_shutdown=2
        )
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": "Bearer s3cret"}

    async def main() -> None:
        serve = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        get = lambda *a: asyncio.to_thread(_get, *a)  # noqa: E731
        code, body = await get(f"{base}/health")
        assert code == 200 and orjson.loads(body) == {"status": "ok"}  # the probe tells nothing more
        bus["up"] = False
        code, body = await get(f"{base}/health")
        assert code == 503 and orjson.loads(body) == {"status": "bus down"}
        bus["up"] = True
        code, body = await get(f"{base}/health", auth)
        h = orjson.loads(body)
        assert (
            code == 200
            and h["bus_connected"]
            and h["model_version"] == "3"
            and h["last_payload_age_s"] is None
        )
        assert (await get(f"{base}/api/levels"))[0] == 401
        assert (await get(f"{base}/api/levels", auth))[0] == 503  # nothing published yet
        hub.publish(orjson.dumps({"ts": 1, "levels": []}))
        assert orjson.loads((await get(f"{base}/api/levels", auth))[1]) == {"ts": 1, "levels": []}
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/stream?token=s3cret") as ws:
            assert orjson.loads(await ws.recv()) == {"ts": 1, "levels": []}  # cached payload on connect
            hub.publish(orjson.dumps({"ts": 2, "levels": []}))
            assert orjson.loads(await ws.recv())["ts"] == 2
        with pytest.raises(websockets.exceptions.WebSocketException):
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/stream?token=wrong") as ws:
                await ws.recv()
        server.should_exit = True
        await asyncio.wait_for(serve, 10)

    asyncio.run(main())


def test_champion_scores_each_level_and_null_without_model() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(MODEL_FEATURES))).astype(np.float32)
    y = (x[:, MODEL_FEATURES.index("barrier_delta_liq")] < 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=20, max_depth=2).fit(x, y)
    feats = {c: 0.0 for c in FEATURE_COLUMNS} | {c: None for c in STRING_COLUMNS}

    def level(liq: float) -> dict:
        return {"direction": "SUPPORT", "prior_touches": 1, "features": {**feats, "barrier_delta_liq": liq}}

    def payload() -> dict:
        return {"levels": [level(-2.0), level(2.0)]}

    scored = with_model(payload(), Scorer(model, "7"))
    p = [lv["model"]["p_break"] for lv in scored["levels"]]
    assert scored["model_version"] == "7" and all(0 <= v <= 1 for v in p)
    assert p[0] > 0.8 > 0.2 > p[1]  # pulled liquidity -> break, added -> bounce, as trained
    plain = with_model(payload(), None)
    assert plain["model_version"] is None and all(lv.get("model") is None for lv in plain["levels"])


def test_signals_writer_writes_the_named_schema(tmp_path: Path) -> None:
    """Payloads with no level, no model and all-null numbers still give `schemas.SIGNALS` columns
    and types (the writer used to infer them: an all-null column came out as Null)."""
    import pyarrow.parquet as pq

    from spymaster_core import schemas as S
    from spymaster_live.writer import SignalsWriter

    w = SignalsWriter(tmp_path, "2026-11-16")
    w.add(
        orjson.dumps({"ts_ns": 1, "instrument": "ESZ6", "spot": None, "bid": None, "ask": None, "levels": []})
    )
    level = {"id": "PM_HIGH", "kind": "PM_HIGH", "price": 6000.0, "direction": "RESISTANCE", "distance": 1.5,
             "break_score_smooth": 40.0, "signal": "NEUTRAL", "model": None}  # fmt: skip
    w.add(
        orjson.dumps(
            {
                "ts_ns": 2,
                "instrument": "ESZ6",
                "spot": 6001.5,
                "bid": 6001.25,
                "ask": 6001.5,
                "levels": [level],
            }
        )
    )
    path = w.flush()
    got = pq.read_schema(path)
    assert [(f.name, f.type) for f in got] == [(f.name, f.type) for f in S.SIGNALS.arrow]
    assert pq.read_table(path).num_rows == 2 and "signals/date=2026-11-16" in str(path)
    # A second run appends its own files: the folder reads as one table, runs told apart.
    w2 = SignalsWriter(tmp_path, "2026-11-16")
    w2.add(
        orjson.dumps(
            {"ts_ns": 3, "instrument": "ESZ6", "spot": 1.0, "bid": 1.0, "ask": 1.25, "levels": [level]}
        )
    )
    w2.flush()
    import duckdb
    import polars as pl

    folder = path.parent
    both = pl.read_parquet(folder / "*.parquet")
    assert both.height == 3 and both["run_id"].n_unique() == 2 and both.columns == S.SIGNALS.arrow.names
    runs = duckdb.sql(f"select count(distinct run_id) from read_parquet('{folder}/*.parquet')").fetchall()
    assert runs == [(2,)]


def test_gateway_guards_every_route_and_the_lake(tmp_path: Path) -> None:
    """With a token every route but the health probe needs it (research pages, the dashboard, its
    static files, /openapi.json); a wrong credential is never outvoted by a right one; a date is a
    date: no path traversal out of the lake, 400 for junk, 404s without absolute paths."""
    import polars as pl

    from spymaster_core.io import lake

    root = tmp_path / "lake"
    outside = tmp_path / "secret" / "bars_2m" / "date=x"
    outside.mkdir(parents=True)
    pl.DataFrame({"bar_start_ns": [0], "close": [1.0]}).write_parquet(outside / "part-0.parquet")
    app = create_app(Hub(), dict, token="s3cret", research=(root, tmp_path))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws=WS_IMPL))
    base = f"http://127.0.0.1:{port}"
    good, bad = {"Authorization": "Bearer s3cret"}, {"Authorization": "Bearer nope"}
    probes = {}

    async def main() -> None:
        serve = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        get = lambda *a: asyncio.to_thread(_get, *a)  # noqa: E731
        for path in (
            "/",
            "/static/dashboard.js",
            "/research",
            "/research/models",
            "/openapi.json",
            "/api/levels",
        ):
            probes[path] = (await get(base + path))[0]
        probes["openapi with token"] = (await get(base + "/openapi.json", good))[0]
        probes["right query, wrong header"] = (await get(base + "/research?token=s3cret", bad))[0]
        probes["wrong query, right header"] = (await get(base + "/research?token=nope", good))[0]
        probes["right header"] = (await get(base + "/research", good))[0]
        probes["traversal"] = await get(base + "/research/day?date=2026-11-19/../../../secret", good)
        probes["long date"] = (await get(base + "/research/day?date=" + "9" * 5000, good))[0]
        probes["missing date"] = await get(base + "/research/day?date=2026-11-19", good)
        server.should_exit = True
        await asyncio.wait_for(serve, 10)

    asyncio.run(main())
    assert all(
        probes[p] == 401
        for p in ("/", "/static/dashboard.js", "/research", "/research/models", "/api/levels")
    )
    assert probes["/openapi.json"] in (401, 404) and probes["openapi with token"] == 404
    assert probes["right query, wrong header"] == 401 and probes["wrong query, right header"] == 401
    assert probes["right header"] == 200
    assert probes["traversal"][0] == 400 and b"secret" not in probes["traversal"][1]
    assert probes["long date"] == 400
    code, body = probes["missing date"]
    assert code == 404 and str(tmp_path).encode() not in body
    with pytest.raises(ValueError, match="is not YYYY-MM-DD"):
        lake.partition_dir(root, "bars_2m", "2026-11-19/../../secret")


def test_inbound_frames_end_the_connection_instead_of_piling_up() -> None:
    """The stream is one-way: a client that sends (4 clients x 40 x 8 MiB grew the gateway from 1.3
    to 2.4 GB) is closed: 1009 for a frame over WS_MAX_INBOUND_BYTES, 1008 for any other data frame;
    a client that only reads keeps receiving."""
    from spymaster_live.gateway import WS_MAX_INBOUND_BYTES

    hub = Hub()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(hub, dict),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws=WS_IMPL,
            ws_max_size=WS_MAX_INBOUND_BYTES,
        )  # fmt: skip
    )
    codes = {}

    async def main() -> None:
        serve = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        url = f"ws://127.0.0.1:{port}/ws/stream"
        async with websockets.connect(url) as reader:
            for name, frame in (("big", b"x" * (8 << 20)), ("small", "hello")):
                async with websockets.connect(url, max_size=None) as ws:
                    try:
                        await ws.send(frame)
                        await asyncio.wait_for(ws.recv(), 5)
                        await asyncio.wait_for(ws.recv(), 5)
                    except websockets.exceptions.ConnectionClosed as exc:
                        codes[name] = exc.rcvd.code if exc.rcvd else None
            hub.publish(orjson.dumps({"ts": 1, "levels": []}))
            assert orjson.loads(await asyncio.wait_for(reader.recv(), 5)) == {"ts": 1, "levels": []}
        server.should_exit = True
        await asyncio.wait_for(serve, 10)

    asyncio.run(main())
    assert codes == {"big": 1009, "small": 1008}


def test_replay_pacing_anchor_gives_each_event_its_due_time() -> None:
    from spymaster_live.replay import ReplayStats

    st = ReplayStats()
    assert st.due_wall_ns(5) is None  # untimed, or before the first event
    st.speed, st.pace_wall_ns, st.pace_event_ns = 2.0, 1_000_000_000_000, 7_000_000_000
    assert st.due_wall_ns(7_000_000_000) == 1_000_000_000_000
    assert st.due_wall_ns(8_000_000_000) == 1_000_500_000_000  # 1 s of event time at 2x: 0.5 s later


def test_replay_control_pauses_changes_speed_and_jumps_forward() -> None:
    """publish_events under a ReplayControl, against a stand-in JetStream that acks at once: a
    pause holds the replayed event time, resume continues at the set pace, 5x replays event time
    about 5 times faster than 1x, a jump publishes at once up to the time asked and refuses going
    back."""
    from spymaster_core.events import FuturesTrade
    from spymaster_live.replay import ReplayControl, publish_events

    class JS:
        async def publish_async(self, subject, body, headers=None):  # noqa: ANN001, ANN202
            f = asyncio.get_running_loop().create_future()
            f.set_result(None)
            return f

    t0 = 1_700_000_000_000_000_000
    events = [FuturesTrade(t0 + i * 10_000_000, 5000.0, 1.0, 1) for i in range(100_000)]  # 100 per s
    ctl = ReplayControl()

    async def main() -> list[tuple[str, float]]:
        task = asyncio.create_task(publish_events(JS(), iter(events), 1.0, "t", control=ctl))
        marks = []

        async def rate(secs: float) -> float:  # event seconds replayed per wall second
            a = ctl.event_ns
            await asyncio.sleep(secs)
            return (ctl.event_ns - a) / 1e9 / secs

        await asyncio.sleep(0.3)
        marks.append(("1x", await rate(1.0)))
        ctl.pause()
        await asyncio.sleep(0.1)
        marks.append(("paused", await rate(0.6)))
        ctl.resume()
        ctl.set_speed(5.0)
        await asyncio.sleep(0.1)
        marks.append(("5x", await rate(1.0)))
        target = ctl.event_ns + 300_000_000_000  # 5 minutes ahead
        ctl.jump(target)
        t_jump = time.monotonic()
        while ctl.jump_to_ns is not None and time.monotonic() - t_jump < 10:
            await asyncio.sleep(0.005)
        marks.append(("jump_s", time.monotonic() - t_jump))  # 30 k events unpaced
        marks.append(("jumped", (ctl.event_ns - target) / 1e9))
        with pytest.raises(ValueError, match="cannot jump back"):
            ctl.jump(t0)
        with pytest.raises(ValueError, match="speed -1"):
            ctl.set_speed(-1)
        ctl.set_speed(0.0)
        await task
        return marks

    marks = dict(asyncio.run(main()))
    assert 0.8 < marks["1x"] < 1.15 and marks["paused"] == 0.0
    assert 4.0 < marks["5x"] < 5.5 and 0.0 <= marks["jumped"] < 0.1 and marks["jump_s"] < 5.0, marks
    assert ctl.done and ctl.event_ns == events[-1].ts_event_ns


def test_champion_with_a_touch_index_lists_each_levels_nearest_past_touches() -> None:
    """`model.neighbors` of each level is the FAISS query of its features (k = NEIGHBORS, nearest
    first) and `neighbors_break_share` the share of them that broke."""
    import polars as pl

    from ml import retrieval
    from spymaster_live.core import NEIGHBORS

    rng = np.random.default_rng(1)
    n = 300
    gold = pl.DataFrame({c: rng.normal(size=n) for c in FEATURE_COLUMNS}).with_columns(
        pl.Series("touch_id", [f"t{i}" for i in range(n)]), pl.Series("date", ["2026-11-16"] * n),
        pl.Series("level_kind", ["PM_HIGH"] * n), pl.Series("outcome", rng.choice(["BREAK", "BOUNCE", "CHOP"], n)),
        pl.Series("time_to_threshold_s", rng.uniform(10, 400, n)),
    )  # fmt: skip
    index = retrieval.build_index(gold, FEATURE_COLUMNS)
    x = rng.normal(size=(200, len(MODEL_FEATURES))).astype(np.float32)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, (x[:, 0] > 0).astype(int))
    feats = [gold.row(i, named=True) for i in (5, 77)]
    payload = {"levels": [{"direction": "SUPPORT", "prior_touches": 0,
                           "features": {**{c: f[c] for c in FEATURE_COLUMNS}, **dict.fromkeys(STRING_COLUMNS)}}
                          for f in feats]}  # fmt: skip
    out = with_model(payload, Scorer(model, "3", index=index))
    want = index.neighbors(pl.DataFrame([lv["features"] for lv in payload["levels"]]), NEIGHBORS)
    for lv, hits in zip(out["levels"], want, strict=True):
        got = lv["model"]["neighbors"]
        assert [h["touch_id"] for h in got] == [h["touch_id"] for h in hits] and len(got) == NEIGHBORS
        assert got[0]["distance"] == pytest.approx(0.0, abs=1e-5)  # the touch itself
        assert lv["model"]["neighbors_break_share"] == sum(h["outcome"] == "BREAK" for h in hits) / NEIGHBORS
