"""Engines on data: the simulator's planted regimes are found; the real ESH4 MBO day runs clean."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ml import sim_study
from spymaster_core import calendar
from spymaster_core.bronze.mbo_book import mbo_to_mbp10
from spymaster_core.config import DEFAULT_CONFIG as CFG
from spymaster_core.engines import feature_row
from spymaster_core.engines.state import EngineState
from spymaster_core.research import features
from spymaster_core.sim.day import build_sim_day
from tests.conftest import MBO_DAY


def planted_features(dates: list[str], workdir: Path) -> pl.DataFrame:
    """Features at every planted reaction of simulated dates (seed = index + 1), with the planted
    outcome and whether the day was short gamma."""
    out = []
    for k, date in enumerate(dates):
        d = build_sim_day(date, k + 1, workdir / date, CFG)
        t0 = calendar.et_ns(date, "04:00")
        planted = d.sim.planted
        tc = pl.DataFrame(
            [
                {
                    "touch_id": f"{date}:{i}",
                    "ts_ns": t0 + s * 1_000_000_000,
                    "level_id": f"P{i}",
                    "level_price": lv,
                    "direction": dr,
                }
                for i, (s, lv, _oc, dr) in enumerate(planted)
            ]
        )
        ft = features.touch_features(
            features.mbp10_batches(d.mbp10_files), d.trades, tc, d.levels.head(0), date, CFG, d.options
        )
        out.append(
            ft.with_columns(outcome=pl.Series([p[2] for p in planted]), short_gamma=pl.lit(d.sim.short_gamma))
        )
    return pl.concat(out)


@pytest.mark.slow
def test_engines_find_the_planted_regimes(tmp_path: Path) -> None:
    # The calibrated simulator plants a break on 8% of approaches: eight dates give a handful.
    ft = planted_features(sim_study.study_dates(8, end="2026-11-18"), tmp_path)
    brk, bnc = ft.filter(pl.col("outcome") == "BREAK"), ft.filter(pl.col("outcome") == "BOUNCE")
    assert brk.height >= 4 and bnc.height >= 10

    def share(df: pl.DataFrame, states: tuple[str, ...]) -> float:
        return df.filter(pl.col("barrier_state").is_in(states)).height / df.height

    report = {
        "n_break": brk.height,
        "n_bounce": bnc.height,
        "vacuum_share_break": share(brk, ("VACUUM",)),
        "vacuum_share_bounce": share(bnc, ("VACUUM",)),
        "wall_share_break": share(brk, ("WALL",)),
        "wall_share_bounce": share(bnc, ("WALL",)),
        "delta_liq_break": brk["barrier_delta_liq"].mean(),
        "delta_liq_bounce": bnc["barrier_delta_liq"].mean(),
        "imbalance_through_break": brk["tape_imbalance_through"].mean(),
        "imbalance_through_bounce": bnc["tape_imbalance_through"].mean(),
        "score_break": brk["break_score_smooth"].mean(),
        "score_bounce": bnc["break_score_smooth"].mean(),
    }
    print("planted regimes:", report)
    # Vacuum before breaks, walls before bounces (the simulator's planted liquidity regimes).
    assert report["vacuum_share_break"] > report["vacuum_share_bounce"]
    assert report["wall_share_bounce"] > report["wall_share_break"] + 0.3
    assert report["delta_liq_break"] < report["delta_liq_bounce"]
    # Tape leans through the level before breaks, against it before bounces.
    assert report["imbalance_through_break"] > 0 > report["imbalance_through_bounce"]
    assert report["score_break"] > report["score_bounce"] + 10
    # Dealer gamma: short-gamma days (customers buy 0DTE) read AMPLIFY, the others DAMPEN.
    for short, want in ((True, "AMPLIFY"), (False, "DAMPEN")):
        days = ft.filter(pl.col("short_gamma") == short)
        if days.height:
            assert days.filter(pl.col("fuel_effect") == want).height / days.height > 0.8


def test_real_esh4_mbo_day_runs_barrier_tape_ofi_without_nan(samples: Path) -> None:
    """The real ESH4 2023-12-25 MBO day, through our book into MBP-10 and then the engines: every
    barrier, tape, OFI and kinematics output is finite at levels 2 pt either side of the mid."""
    mbp = mbo_to_mbp10(MBO_DAY)
    arr = features.mbp10_arrays(mbp)
    date = "2023-12-26"  # the trading date whose session the 2023-12-25 evening records open
    st = EngineState(date, CFG)
    st.update_mbp10(
        arr["ts"],
        arr["action"],
        arr["price"],
        arr["size"],
        arr["bid_px"],
        arr["bid_sz"],
        arr["ask_px"],
        arr["ask_sz"],
    )
    trades = pl.from_arrow(mbp).filter(pl.col("action") == "T")
    agg = trades["side"].replace_strict({"B": 1, "A": -1}, default=0, return_dtype=pl.Int8).to_numpy()
    st2 = EngineState(date, CFG)
    ts = arr["ts"]
    checked = 0
    for t in np.linspace(ts[len(ts) // 10], ts[-1], 12).astype(np.int64):
        # Feed both streams up to t (the state keeps only its horizon of history).
        k = int(np.searchsorted(ts, t))
        j = int(np.searchsorted(trades["ts_event_ns"].to_numpy(), t))
        fed = len(st2.book) and int(st2.book.view("ts")[-1])
        lo = int(np.searchsorted(ts, fed, side="right")) if fed else 0
        st2.update_mbp10(
            *(arr[c][lo:k] for c in ("ts", "action", "price", "size", "bid_px", "bid_sz", "ask_px", "ask_sz"))
        )
        tfed = int(st2.trades.view("ts")[-1]) if len(st2.trades) else -1
        tt = trades.slice(0, j).filter(pl.col("ts_event_ns") > tfed)
        st2.update_trades(
            tt["ts_event_ns"].to_numpy(),
            tt["price"].to_numpy(),
            tt["size"].to_numpy().astype(float),
            agg[j - tt.height : j],
        )
        mid = st2.mid_before(int(t))
        if not math.isfinite(mid):
            continue
        for level, direction in ((mid - 2.0, "SUPPORT"), (mid + 2.0, "RESISTANCE")):
            row = st2.level_features(int(t), level, direction, [])
            nums = [
                c
                for c in feature_row.feature_columns(CFG.windows.kinematics_horizons_s)
                if c.split("_")[0]
                in ("barrier", "tape", "ofi", "velocity", "distance", "acceleration", "jerk")
            ]
            bad = {
                c: row[c]
                for c in nums
                if row[c] is None
                and c != "barrier_defending_price"
                or (row[c] is not None and not math.isfinite(row[c]))
            }
            assert not bad, (int(t), direction, bad)
            assert row["fuel_missing_reason"]  # no options for this date: fuel says so
            checked += 1
    assert checked >= 20
    assert st.events_in == len(ts) and len(st.samples) > 1000


def test_date_without_options_has_null_fuel_with_a_reason_and_the_rest_runs(sim_day) -> None:
    d = sim_day
    ft = features.touch_features(
        features.mbp10_batches(d.mbp10_files), d.trades, d.touches, d.levels, d.date, CFG, {}
    )
    assert ft.height == d.touches.height > 0
    assert ft["fuel_net_dealer_gamma_usd"].null_count() == ft.height
    assert ft["fuel_missing_reason"].str.contains("no 0DTE option definitions").all()
    assert ft["score_hedge"].null_count() == ft.height
    assert ft["barrier_churn"].sum() > 0 and ft["break_score_smooth"].is_not_null().all()
