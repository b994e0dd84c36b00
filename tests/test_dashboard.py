"""The dashboard in real headless Chromium (Debian `chromium`, driven by Playwright): `spymaster
live` replays a window of a simulated date; the page shows what the latest payload says; the
gateway is killed (the page says so) and restarted (the page recovers).

Chromium is installed by `.ci/run`; on a machine without it this test skips with that reason.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest

from spymaster_core import calendar
from spymaster_core.research.session import Session
from spymaster_live import bus

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# As root on a closed network: no sandbox, no background connections (they are refused here).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run installs it)"),
]


def _fixed(v: float, digits: int = 2) -> str:
    """`v` as JavaScript's Number.prototype.toFixed prints it: the exact double rounded half away
    from zero (Python's format rounds an exact tie such as a mid of 4111.625 half to even)."""
    return str(Decimal(v).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - loopback test server
        return json.loads(r.read())


def _start(data_dir: Path, date: str, start: str, end: str, port: int) -> subprocess.Popen:
    """`spymaster live` in its own process group (killing it also kills its private nats-server),
    its output appended to data_dir/live.log (quoted when it does not come up)."""
    exe = Path(sys.executable).parent / "spymaster"
    args = [str(exe), "live", "--date", date, "--data-dir", str(data_dir), "--speed", "0", "--from", start,
            "--to", end, "--port", str(port), "--no-model"]  # fmt: skip
    with (data_dir / "live.log").open("ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_replayed(proc: subprocess.Popen, port: int, log: Path, timeout_s: float = 240.0) -> dict:
    """/api/levels once the replay is done and the core has processed every published event; an
    AssertionError quoting the service's log when it exits or does not finish in timeout_s."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"spymaster live exited with {proc.returncode}:\n{tail}")
        try:
            h = _get(f"http://127.0.0.1:{port}/health")
            if h["replay_done"] and h["events_processed"] >= h["replay_published"] > 0:
                time.sleep(1.0)  # the last payload's inference and publish
                return _get(f"http://127.0.0.1:{port}/api/levels")
        except OSError:
            pass
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:]
    raise AssertionError(f"spymaster live on port {port} did not finish its replay in {timeout_s} s:\n{tail}")


def link_landing(sim_day: Session, data_dir: Path) -> None:
    """`data_dir/lake/landing` -> the simulated day's landing folder (what `spymaster live --data-dir`
    replays)."""
    landing = Path(next(iter(sim_day.sim.files.values()))).parents[3]  # type: ignore[attr-defined]
    (data_dir / "lake").mkdir()
    (data_dir / "lake" / "landing").symlink_to(landing)


def kill_service(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_dashboard_shows_the_latest_payload_and_survives_a_gateway_restart(
    sim_day: Session, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    link_landing(sim_day, tmp_path)
    touch = (
        sim_day.touches.filter(pl.col("ts_ns") > calendar.et_ns(sim_day.date, "10:00"))
        .sort("ts_ns")
        .row(0, named=True)
    )
    minute = (touch["ts_ns"] - calendar.et_ns(sim_day.date, "00:00")) // 60_000_000_000
    hhmm = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    start, end = hhmm(minute - 2), hhmm(minute + 1)
    port = bus.free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    proc = _start(tmp_path, sim_day.date, start, end, port)
    try:
        payload = _wait_replayed(proc, port, tmp_path / "live.log")
        assert payload["levels"], "the window should end with a level near price"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            expect(page.get_by_test_id("conn")).to_have_text("connected", timeout=15_000)
            expect(page.locator("[data-level-id]").first).to_be_visible(timeout=15_000)
            # Every displayed value equals the latest payload (the replay is over: it no longer changes).
            expect(page.get_by_test_id("spot")).to_have_text(_fixed(payload["spot"]))
            expect(page.get_by_test_id("bid")).to_have_text(_fixed(payload["bid"]))
            expect(page.get_by_test_id("ask")).to_have_text(_fixed(payload["ask"]))
            expect(page.get_by_test_id("model-version")).to_have_text("none")
            assert page.locator("[data-level-id]").count() == len(payload["levels"])
            for lv in payload["levels"]:
                card = page.locator(f'[data-level-id="{lv["id"]}"]')
                expect(card.get_by_test_id("level-price")).to_have_text(_fixed(lv["price"]))
                expect(card.get_by_test_id("level-signal")).to_have_text(lv["signal"])
                expect(card.get_by_test_id("level-score")).to_have_text(_fixed(lv["break_score_smooth"], 1))
                expect(card.get_by_test_id("level-distance")).to_have_text(_fixed(lv["distance"]))
                expect(card.get_by_test_id("level-barrier")).to_have_text(lv["features"]["barrier_state"])
                expect(card.get_by_test_id("level-fuel")).to_have_text(lv["features"]["fuel_effect"])
                expect(page.locator(f'#ladder [data-level="{lv["id"]}"]')).to_have_count(1)
            assert page.locator("#gex rect[data-strike]").count() == len(payload["gamma_by_strike"]) > 0
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            # The research views are reachable from the page (and back).
            page.get_by_test_id("research-link").click()
            expect(page).to_have_title("Research")
            page.go_back()
            expect(page.get_by_test_id("conn")).to_have_text("connected", timeout=15_000)

            kill_service(proc)  # the gateway goes away: the page says so and the data turns stale
            expect(page.get_by_test_id("conn")).not_to_have_text("connected", timeout=10_000)
            expect(page.get_by_test_id("age")).to_contain_text("STALE", timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "dashboard_disconnected.png"), full_page=True)

            proc = _start(tmp_path, sim_day.date, start, end, port)  # same port: the page reconnects
            again = _wait_replayed(proc, port, tmp_path / "live.log")
            expect(page.get_by_test_id("conn")).to_have_text("connected", timeout=30_000)
            expect(page.get_by_test_id("spot")).to_have_text(_fixed(again["spot"]), timeout=15_000)
            browser.close()
    finally:
        if proc.poll() is None:
            kill_service(proc)
