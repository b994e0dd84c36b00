"""Levels, touches and labels on small hand-built price paths with answers worked out by hand."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from spymaster_core import calendar
from spymaster_core.config import DEFAULT_CONFIG as C
from spymaster_core.research import levels, touches
from spymaster_core.research.bars import time_bars
from spymaster_core.research.labels import label_one

DATE = "2026-11-16"  # a Monday, EST (UTC-5)
S = 1_000_000_000


def _trades(points: list[tuple[str, float]]) -> pl.DataFrame:
    """(HH:MM:SS ET, price) -> trades frame."""
    rows = []
    for hms, px in points:
        h, m, s = (int(x) for x in hms.split(":"))
        rows.append(
            {
                "ts_event_ns": calendar.et_ns(DATE, f"{h:02d}:{m:02d}") + s * S,
                "price": px,
                "size": 1,
                "aggressor": 1,
            }
        )
    return pl.DataFrame(rows)


def test_pm_and_or_levels_and_their_availability() -> None:
    tr = _trades(
        [
            ("04:10:00", 6800.0),
            ("06:00:00", 6812.5),
            ("08:00:00", 6795.25),
            ("09:31:00", 6805.0),
            ("09:40:00", 6809.75),
            ("09:44:59", 6801.0),
            ("09:46:00", 6830.0),
        ]
    )
    lv, missing = levels.compute_levels(tr, time_bars(tr), DATE, C)
    got = {r["kind"]: (r["price"], r["valid_from_ns"]) for r in lv.iter_rows(named=True)}
    assert got["PM_HIGH"] == (6812.5, calendar.et_ns(DATE, "09:30"))
    assert got["PM_LOW"] == (6795.25, calendar.et_ns(DATE, "09:30"))
    assert got["OR_HIGH"] == (6809.75, calendar.et_ns(DATE, "09:45"))  # 09:46 print is after the range
    assert got["OR_LOW"] == (6801.0, calendar.et_ns(DATE, "09:45"))
    assert any(m.startswith("SMA_200") for m in missing)


def test_missing_premarket_is_reported() -> None:
    tr = _trades([("09:30:00", 6800.0), ("09:35:00", 6805.0)])
    lv, missing = levels.compute_levels(tr, time_bars(tr), DATE, C)
    assert set(lv["kind"]) == {"OR_HIGH", "OR_LOW"}
    assert missing[0].startswith("PM_HIGH/PM_LOW: no trades 04:00-09:30")


def test_sma_uses_warmup_bars() -> None:
    # 200 two-minute bars with close 1..200 ending at 09:30 ET: SMA_200 at the last bar = mean(1..200) = 100.5.
    start = calendar.et_ns(DATE, "09:30") - 200 * 120 * S
    bars = pl.DataFrame(
        {
            "bar_start_ns": [start + i * 120 * S for i in range(200)],
            "close": [float(i + 1) for i in range(200)],
        }
    )
    lv, _ = levels.compute_levels(_trades([("09:30:00", 100.0)]), bars, DATE, C)
    sma = lv.filter(pl.col("kind") == "SMA_200").sort("valid_from_ns")
    assert sma["price"][-1] == 100.5
    assert sma["valid_from_ns"][-1] == calendar.et_ns(DATE, "09:30")  # known at the close of its last bar


def test_touch_needs_rearm_and_gives_direction() -> None:
    level = np.full(8, 100.0)
    # far above (arms) -> within 2 -> within 2 again (no re-arm) -> far below (arms) -> within 2 from below
    price = np.array([106.0, 101.5, 100.5, 103.0, 94.0, 99.0, 98.5, 92.0])
    assert touches.touch_indices(price, level, 5.0, 2.0) == [(1, 1), (5, -1)]


def test_detect_touches_window_and_ids() -> None:
    tr = _trades(
        [
            ("04:10:00", 6790.0),
            ("09:00:00", 6800.0),
            ("09:29:00", 6800.0),
            ("09:50:00", 6815.0),
            ("10:00:00", 6801.0),
            ("10:10:00", 6810.0),
            ("10:20:00", 6799.5),
            ("13:40:00", 6810.0),
            ("13:45:00", 6800.0),
        ]
    )
    lv = pl.DataFrame(
        {
            "level_id": ["PM_HIGH"],
            "kind": ["PM_HIGH"],
            "price": [6800.0],
            "valid_from_ns": [calendar.et_ns(DATE, "09:30")],
            "is_dynamic": [False],
        }
    )
    tc = touches.detect_touches(tr, lv, DATE, C)
    assert tc["ts_ns"].to_list() == [calendar.et_ns(DATE, "10:00"), calendar.et_ns(DATE, "10:20")]
    assert tc["direction"].to_list() == ["SUPPORT", "SUPPORT"]
    assert tc["prior_touches"].to_list() == [0, 1]  # 13:45 is outside the 09:30-13:30 window


def test_labels_competing_risks() -> None:
    ts = np.array([1, 2, 3, 4, 5]) * 60 * S
    # SUPPORT at 100: price falls to 89.5 (10 through) before it ever rises 10 above -> BREAK at 10
    px = np.array([99.0, 95.0, 89.5, 104.0, 111.0])
    lab = label_one(ts, px, 0, 100.0, "SUPPORT", (10.0, 25.0, 75.0), 8 * 60 * S)
    assert lab["outcome"] == "BREAK" and lab["outcome_25"] == "CHOP"
    assert lab["time_to_threshold_s"] == 180.0
    assert lab["strength_pt"] == 10.0 and lab["max_through_pt"] == 10.5 and lab["max_away_pt"] == 11.0
    # The same path against RESISTANCE at 100: 10 away (below) first -> BOUNCE at t=3 min.
    lab = label_one(ts, px, 0, 100.0, "RESISTANCE", (10.0, 25.0, 75.0), 8 * 60 * S)
    assert lab["outcome"] == "BOUNCE" and lab["time_to_threshold_s"] == 180.0
    # Look-forward of 2.5 minutes sees only 99 and 95: CHOP, and the data covers the window.
    lab = label_one(ts, px, 0, 100.0, "SUPPORT", (10.0, 25.0, 75.0), 150 * S)
    assert lab["outcome"] == "CHOP" and lab["time_to_threshold_s"] is None and lab["lookforward_complete"]


def test_labels_use_only_trades_after_the_touch() -> None:
    ts = np.array([0, 1, 2]) * S
    px = np.array([80.0, 100.0, 100.5])  # the 80 print is at the touch instant: not part of the future
    lab = label_one(ts, px, 0, 100.0, "SUPPORT", (10.0,), 60 * S)
    assert lab["outcome"] == "CHOP" and not lab["lookforward_complete"]


def test_sma_warmup_dates_are_the_previous_trading_dates() -> None:
    import datetime as dt

    assert calendar.previous_trading_dates("2023-12-26", 3) == [
        dt.date(2023, 12, 20),
        dt.date(2023, 12, 21),
        dt.date(2023, 12, 22),
    ]  # skips Christmas
    assert calendar.previous_trading_dates("2026-11-16", 1) == [dt.date(2026, 11, 13)]


def test_optional_level_kinds_on_a_simulated_day(sim_day) -> None:
    """Prior-day H/L/C from the previous date's RTH bars, VWAP per bar close (equal to a direct
    computation), round numbers around the open, and gamma walls from the 0DTE chain."""
    import numpy as np
    import polars as pl

    from spymaster_core import calendar
    from spymaster_core.config import DEFAULT_CONFIG
    from spymaster_core.research import bars, levels

    cfg = DEFAULT_CONFIG.model_copy(
        update={"levels": DEFAULT_CONFIG.levels.model_copy(update={"enable_prior_day": True, "enable_vwap": True,
                                                                  "enable_round_numbers": True, "enable_gamma_walls": True})}
    )  # fmt: skip
    d = sim_day
    today = bars.time_bars(d.trades, 2)
    # The previous date's bars: today's, shifted back one trading day (a stand-in history).
    prev = calendar.previous_trading_dates(d.date, 1)[-1].isoformat()
    shift = calendar.et_ns(d.date, "09:30") - calendar.et_ns(prev, "09:30")
    hist = pl.concat([today.with_columns(pl.col("bar_start_ns") - shift), today])
    lv, missing = levels.compute_levels(d.trades, hist, d.date, cfg, d.options)
    kinds = set(lv["kind"].to_list())
    assert {"PD_HIGH", "PD_LOW", "PD_CLOSE", "VWAP", "ROUND", "CALL_WALL", "PUT_WALL"} <= kinds, missing
    rth0, rth1 = calendar.et_ns(d.date, "09:30"), calendar.et_ns(d.date, "16:00")
    rth_bars = today.filter((pl.col("bar_start_ns") >= rth0) & (pl.col("bar_start_ns") < rth1))
    pd_hi = lv.filter(pl.col("kind") == "PD_HIGH")["price"][0]
    assert pd_hi == rth_bars["high"].max()
    vw = lv.filter(pl.col("kind") == "VWAP").sort("valid_from_ns")
    t_check = int(vw["valid_from_ns"][len(vw) // 2])
    tr = d.trades.filter((pl.col("ts_event_ns") >= rth0) & (pl.col("ts_event_ns") < t_check))
    want = float((tr["price"] * tr["size"]).sum() / tr["size"].sum())
    assert vw.filter(pl.col("valid_from_ns") == t_check)["price"][0] == pytest.approx(want, rel=1e-12)
    rounds = lv.filter(pl.col("kind") == "ROUND")["price"].to_numpy()
    assert len(rounds) == 9 and np.allclose(rounds % 25.0, 0.0)
    walls = lv.filter(pl.col("kind") == "CALL_WALL")
    assert (
        walls["valid_from_ns"].min() >= rth0
        and walls["price"].is_in(d.options["definitions"]["strike_price"].to_list()).all()
    )
