"""The trader's screen in real headless Chromium (issue 23): `spymaster live` replays a simulated date
at 1x with a promoted champion that carries a touch index; the test drives the page's replay controls
and checks each panel against an independent source:

- depth ladder: the sizes drawn at each MBP-10 price equal the Bronze MBP-10 book's last record
  before the payload time;
- liquidity heatmap: the cells the page draws equal the book history the gateway sent (/api/depth),
  and the canvas is painted where the book rests;
- option flow: customer buy/sell contracts per strike since the open equal the Bronze 0DTE option
  trades classified against the Bronze quotes before them (at/above ask buy, at/below bid sell);
- similar past touches: the rows equal a FAISS query of the level's features on the champion's index;
- replay controls: pause holds the event time, resume continues it, 5x replays event time about five
  times faster than 1x, a jump lands on the requested time.
Screenshots and the measured page cost (render ms per update, bytes per client per second) go to
test-artifacts/. Chromium is installed by `.ci/run`; without it the test skips with that reason.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from spymaster_core import calendar
from spymaster_core.config import DEFAULT_CONFIG
from spymaster_core.engines.feature_row import feature_columns, model_columns
from spymaster_core.research.session import Session
from spymaster_live import bus
from tests.test_dashboard import ARTIFACTS, CHROMIUM, FLAGS, kill_service, link_landing

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run installs it)"),
]
HORIZONS = DEFAULT_CONFIG.windows.kinematics_horizons_s


def _get(url: str) -> dict | list:
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - loopback test server
        return json.loads(r.read())


def _champion_with_index(data_dir: Path, tmp: Path) -> Path:
    """Log and promote a small XGBoost direction model with a touch index of 400 synthetic past
    touches (the live service loads both); returns the index folder."""
    from ml import registry, retrieval

    rng = np.random.default_rng(4)
    cols = feature_columns(HORIZONS)
    n = 400
    gold = pl.DataFrame({c: rng.normal(size=n) for c in cols}).with_columns(
        pl.Series("touch_id", [f"past{i}" for i in range(n)]),
        pl.Series("date", [f"2026-10-{1 + i % 28:02d}" for i in range(n)]),
        pl.Series("level_kind", rng.choice(["PM_HIGH", "OR_LOW", "SMA_90"], n)),
        pl.Series("outcome", rng.choice(["BREAK", "BOUNCE", "CHOP"], n)),
        pl.Series("time_to_threshold_s", rng.uniform(5, 480, n)),
    )
    import xgboost as xgb

    x = rng.normal(size=(300, len(model_columns(HORIZONS)))).astype(np.float32)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, (x[:, 0] > 0).astype(int))
    folder = tmp / "index"
    folder.mkdir()
    arts = retrieval.save_index(retrieval.build_index(gold, cols), folder)
    _, version = registry.log_run(data_dir, {}, {}, {}, model=model, artifacts=arts, register=True)
    registry.promote(data_dir, str(version))
    return folder


def _start(data_dir: Path, date: str, start: str, end: str, port: int):  # noqa: ANN202
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "spymaster"
    args = [str(exe), "live", "--date", date, "--data-dir", str(data_dir), "--speed", "1", "--from", start,
            "--to", end, "--port", str(port)]  # fmt: skip
    with (data_dir / "live.log").open("ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _bronze_book_before(session: Session, ts_ns: int) -> dict[str, list]:
    df = pl.scan_parquet(session.mbp10_files).filter(pl.col("ts_event_ns") < ts_ns).tail(1).collect()
    row = df.row(0, named=True)
    return {k: [row[f"{k}_{i:02d}"] for i in range(10)] for k in ("bid_px", "bid_sz", "ask_px", "ask_sz")}


def _bronze_flow(session: Session, ts_ns: int, spot: float) -> dict[str, dict[str, float]]:
    """Customer contracts per strike since the RTH open up to the payload's whole second, from the
    Bronze option trades and quotes (the latest quote strictly before each trade)."""
    sec = ts_ns // 1_000_000_000 * 1_000_000_000
    opened = calendar.et_ns(session.date, DEFAULT_CONFIG.session.rth_open)
    defs = session.options["definitions"].select("instrument_id", "strike_price", "instrument_class")
    q = (
        session.options["bbo"]
        .select(
            pl.col("instrument_id").cast(pl.Int64),
            (pl.col("ts_event_ns") + 1).alias("ts"),
            "bid_px",
            "ask_px",
        )
        .sort("ts")
    )
    tr = (
        session.options["trades"]
        .filter((pl.col("ts_event_ns") >= opened) & (pl.col("ts_event_ns") < sec))
        .select(pl.col("instrument_id").cast(pl.Int64), pl.col("ts_event_ns").alias("ts"), "price", "size")
        .sort("ts")
    )
    # quotes stamped ts+1 and an exact match allowed: the latest quote strictly before the trade
    j = tr.join_asof(q, on="ts", by="instrument_id", strategy="backward", check_sortedness=False)
    j = j.with_columns(
        pl.when(pl.col("price") >= pl.col("ask_px"))
        .then(1)
        .when(pl.col("price") <= pl.col("bid_px"))
        .then(-1)
        .otherwise(0)
        .alias("sign")
    ).join(defs.with_columns(pl.col("instrument_id").cast(pl.Int64)), on="instrument_id")
    out: dict[str, dict[str, float]] = {}
    for r in j.filter(pl.col("sign") != 0).iter_rows(named=True):
        k = float(r["strike_price"])
        if abs(k - spot) > 50.0:
            continue
        col = ("call" if r["instrument_class"] == "C" else "put") + ("_buy" if r["sign"] > 0 else "_sell")
        row = out.setdefault(f"{k:g}", {"call_buy": 0.0, "call_sell": 0.0, "put_buy": 0.0, "put_sell": 0.0})
        row[col] += r["size"]
    return out


def _stable_payload(port: int) -> dict:
    """/api/levels once two reads a second apart agree (the replay is paused and the core caught up)."""
    last = None
    for _ in range(30):
        p = _get(f"http://127.0.0.1:{port}/api/levels")
        if last is not None and p["ts_ns"] == last["ts_ns"]:
            return p
        last = p
        time.sleep(1.0)
    raise AssertionError("the payload kept changing while paused")


def test_trader_screen_panels_equal_their_sources_and_replay_controls_work(
    sim_day: Session, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from ml import retrieval

    link_landing(sim_day, tmp_path)
    index = retrieval.load_index(_champion_with_index(tmp_path, tmp_path))
    port = bus.free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    proc = _start(tmp_path, sim_day.date, "10:00", "12:00", port)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            for _ in range(240):  # the service loads the day and warms the engines first
                try:
                    page.goto(base + "/")
                    break
                except Exception:  # noqa: BLE001 - not listening yet
                    if proc.poll() is not None:
                        raise AssertionError((tmp_path / "live.log").read_text()[-3000:]) from None
                    time.sleep(0.5)
            expect(page.get_by_test_id("conn")).to_have_text("connected", timeout=60_000)
            expect(page.get_by_test_id("replay")).to_be_visible(timeout=15_000)
            expect(page.locator("[data-book-side]").first).to_be_visible(timeout=30_000)

            # Replay controls: 1x, pause, resume, 5x, jump.
            def event_ns() -> int:
                return int(_get(base + "/api/replay")["event_ns"])

            def rate(secs: float) -> float:
                a, t = event_ns(), time.monotonic()
                time.sleep(secs)
                return (event_ns() - a) / 1e9 / (time.monotonic() - t)

            one_x = rate(3.0)
            page.get_by_test_id("replay-toggle").click()
            expect(page.get_by_test_id("replay-toggle")).to_have_text("resume")
            time.sleep(1.5)  # the core applies what was published before the pause
            shown = page.get_by_test_id("event-time").inner_text()
            assert rate(1.5) == 0.0
            assert page.get_by_test_id("event-time").inner_text() == shown  # the page holds still too
            page.get_by_test_id("replay-toggle").click()
            expect(page.get_by_test_id("replay-toggle")).to_have_text("pause")
            expect(page.get_by_test_id("event-time")).not_to_have_text(shown, timeout=5_000)
            page.get_by_test_id("replay-speed").select_option("5")
            time.sleep(0.5)
            five_x = rate(3.0)
            assert 0.7 < one_x < 1.3 and 3.5 < five_x / one_x < 6.5, (one_x, five_x)
            target_ns = event_ns() + 20 * 60 * 1_000_000_000
            target = calendar.et_ns(sim_day.date, "00:00")
            hhmmss = time.strftime("%H:%M:%S", time.gmtime((target_ns - target) / 1e9))
            page.get_by_test_id("replay-jump-time").fill(hhmmss)
            page.get_by_test_id("replay-jump").click()
            deadline = time.monotonic() + 60
            while event_ns() < target_ns - 1_000_000_000 and time.monotonic() < deadline:
                time.sleep(0.2)
            landed = event_ns()
            assert 0 <= (landed - (target_ns // 1_000_000_000 * 1_000_000_000)) / 1e9 < 30, (
                landed,
                target_ns,
            )
            page.get_by_test_id("replay-speed").select_option("1")

            # Let the page accumulate a minute of stream, then pause and compare with the sources.
            time.sleep(4.0)
            page.get_by_test_id("replay-toggle").click()
            p = _stable_payload(port)
            time.sleep(1.0)  # the page has rendered the last payload
            assert page.evaluate("window.spymaster.frames().at(-1)[0]") == p["ts"]

            want = _bronze_book_before(sim_day, p["ts_ns"])
            for side in ("bid", "ask"):
                for px, sz in zip(want[f"{side}_px"], want[f"{side}_sz"], strict=True):
                    row = page.locator(f'#ladder [data-book-side="{side}"][data-px="{px:.2f}"]')
                    expect(row).to_have_count(1)
                    assert int(row.get_attribute("data-sz")) == sz, (side, px)

            depth = _get(base + "/api/depth")
            n = min(len(depth), 200)
            page_cells = page.evaluate(f"window.spymaster.heatCells({n})")
            sent = [{"ts": ts, "cells": {f"{px:.2f}": sz for pxs, szs in ((b["bid_px"], b["bid_sz"]), (b["ask_px"], b["ask_sz"]))
                                         for px, sz in zip(pxs, szs, strict=True) if px is not None and sz}}
                    for ts, b, _ in depth[-n:]]  # fmt: skip
            assert n > 50 and page_cells == sent
            painted = page.evaluate(
                """() => { const c = document.getElementById('heatmap'); const d = c.getContext('2d')
                   .getImageData(c.width - 3, 0, 1, c.height).data; let k = 0;
                   for (let i = 0; i < d.length; i += 4) if (d[i] + d[i+1] + d[i+2] > 60) k++; return k; }"""
            )
            assert painted > 10  # the latest column shows the resting book

            flow = _bronze_flow(sim_day, p["ts_ns"], p["spot"])
            assert set(p["option_flow"]) == set(flow) and flow
            for k, cols in flow.items():
                row = page.locator(f'[data-testid="flow-row"][data-strike="{float(k):g}"]')
                for c, v in cols.items():
                    text = row.locator(f'[data-col="{c}"]').inner_text()
                    assert int(text.split("·")[0].replace(",", "").strip()) == round(v), (k, c, text)

            assert p["levels"], "the paused payload should have a level near price"
            lv = p["levels"][0]
            page.locator(f'[data-level-id="{lv["id"]}"]').click()
            want_hits = index.neighbors(pl.DataFrame([lv["features"]]), 10)[0]
            rows = page.get_by_test_id("neighbor-row")
            expect(rows).to_have_count(10)
            assert [rows.nth(i).get_attribute("data-touch-id") for i in range(10)] == [
                h["touch_id"] for h in want_hits
            ]
            share = sum(h["outcome"] == "BREAK" for h in want_hits) / 10
            expect(page.get_by_test_id("neighbors-break-share")).to_have_text(f"{100 * share:.1f}%")

            page.screenshot(path=str(ARTIFACTS / "trader_screen.png"), full_page=True)
            # Page cost at 1x: render time per update and bytes per client per second.
            page.get_by_test_id("replay-toggle").click()
            page.evaluate(
                "() => { const s = window.spymaster.stats; s.messages = 0; s.draws = 0; s.bytes = 0; "
                "s.renderMs = 0; s.heatMs = 0; s.firstMs = Date.now(); }"
            )
            time.sleep(10.0)
            st = page.evaluate("() => ({...window.spymaster.stats, now: Date.now()})")
            per_update_ms = st["renderMs"] / max(1, st["draws"])
            bytes_per_s = st["bytes"] / ((st["now"] - st["firstMs"]) / 1000)
            metrics = {"updates": st["messages"], "render_ms_per_update": round(per_update_ms, 2),
                       "draws": st["draws"], "heatmap_ms_per_update": round(st["heatMs"] / max(1, st["draws"]), 2),
                       "bytes_per_client_per_s": round(bytes_per_s)}  # fmt: skip
            (ARTIFACTS / "trader_screen_metrics.json").write_text(json.dumps(metrics, indent=1))
            print("trader screen:", metrics)
            # At most 4 payloads a second (one per 250 ms of event time with an event in it), each drawn.
            assert 5 <= st["messages"] <= 45 and st["draws"] >= st["messages"] // 2 and per_update_ms < 100, (
                metrics
            )
            browser.close()
    finally:
        if proc.poll() is None:
            kill_service(proc)
