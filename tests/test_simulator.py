"""Simulator v0: genuine DBN files, deterministic for a seed, with real levels and touches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from spymaster_core import calendar
from spymaster_core.config import DEFAULT_CONFIG as C
from spymaster_core.io import dbn
from spymaster_core.research import levels, touches
from spymaster_core.research.bars import time_bars
from spymaster_core.sim import front_month_symbol, simulate_session

DATE = "2026-11-16"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory):
    return simulate_session(DATE, 3, tmp_path_factory.mktemp("sim"), scale="small")


def test_files_read_back_as_dbn(sim) -> None:
    dec = {k: dbn.decode_file(p) for k, p in sim.files.items()}
    assert all(d.dataset == "GLBX.MDP3" for d in dec.values())
    tr = pl.from_arrow(dec["trades"].tables["trades"])
    assert tr.height == sim.counts["futures_trades"] and set(tr["symbol"]) == {"ESZ6"}
    t0, t1 = calendar.et_ns(DATE, "04:00"), calendar.et_ns(DATE, "16:00")
    assert tr["ts_event_ns"].min() >= t0 and tr["ts_event_ns"].max() < t1
    assert tr["ts_event_ns"].is_sorted()
    assert (tr["price"] * 4 % 1 == 0).all()  # 0.25 tick
    mbp = pl.from_arrow(dec["mbp-10"].tables["mbp10"])
    assert (mbp["bid_px_00"] < mbp["ask_px_00"]).all()
    defs = pl.from_arrow(dec["definition"].tables["definitions"])
    assert set(defs["underlying"]) == {"ESZ6"} and set(defs["instrument_class"]) == {"C", "P"}
    assert (defs["strike_price"] % 5 == 0).all()
    assert dec["mbp-1"].tables["bbo"].num_rows > 0 and dec["opt-trades"].tables["trades"].num_rows > 0


def test_trade_record_then_size_removal(sim) -> None:
    mbp = pl.from_arrow(dbn.decode_file(sim.files["mbp-10"]).tables["mbp10"])
    i = mbp.with_row_index().filter(pl.col("action") == "T")["index"][10]
    t, c = mbp.row(i, named=True), mbp.row(i + 1, named=True)
    prev = mbp.row(i - 1, named=True)
    assert t["ask_sz_00"] == prev["ask_sz_00"] and t["bid_sz_00"] == prev["bid_sz_00"]  # T leaves depth alone
    assert c["action"] == "C" and c["flags"] & 128 and c["size"] == t["size"]


def test_deterministic_for_a_seed(tmp_path: Path, sim) -> None:
    again = simulate_session(DATE, 3, tmp_path, scale="small")
    for k in sim.files:
        assert again.files[k].read_bytes() == sim.files[k].read_bytes()
    other = simulate_session(DATE, 4, tmp_path / "other", scale="small")
    assert other.files["trades"].read_bytes() != sim.files["trades"].read_bytes()


def test_session_has_levels_and_touches(sim) -> None:
    tr = pl.from_arrow(dbn.decode_file(sim.files["trades"]).tables["trades"])
    lv, _ = levels.compute_levels(tr, time_bars(tr), DATE, C)
    assert {"PM_HIGH", "PM_LOW", "OR_HIGH", "OR_LOW", "SMA_200"} <= set(lv["kind"])
    # One session of the calibrated simulator: touches vary from day to day as on real ES (the
    # realism test checks the rate over 40 sessions); this one must have some.
    assert touches.detect_touches(tr, lv, DATE, C).height >= 1
    assert len(sim.planted) >= 1


def test_bad_date_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2026-12-25 is not a CME_Equity trading date"):
        simulate_session("2026-12-25", 1, tmp_path)  # Christmas


def test_front_month_roll() -> None:
    import datetime as dt

    assert front_month_symbol(dt.date(2026, 12, 9)) == "ESZ6"
    assert front_month_symbol(dt.date(2026, 12, 11)) == "ESH7"  # 8 days before the 18 Dec expiry


def _zone_depth(mbp: pl.DataFrame, ts: np.ndarray, t_ns: int, side: str, level: float) -> float:
    """Contracts resting on `side` within 2 ticks of `level` in the last book state before t_ns."""
    row = mbp.row(max(int(np.searchsorted(ts, t_ns)) - 1, 0), named=True)
    return sum(
        row[f"{side}_sz_{j:02d}"]
        for j in range(10)
        if row[f"{side}_px_{j:02d}"] is not None and abs(row[f"{side}_px_{j:02d}"] - level) <= 0.5
    )


def test_planted_vacuum_before_breaks_and_walls_before_bounces(tmp_path: Path) -> None:
    """At planted touches, defending-side depth within 2 ticks of the level is thin before breaks
    (vacuum) and thick before bounces (wall), pooled over six sessions (a break is planted on 8%
    of approaches). 60 s earlier the level is usually beyond the 10 visible levels, so the
    comparison is between outcomes at the touch."""
    depth: dict[str, list[float]] = {"BREAK": [], "BOUNCE": []}
    for date in ("2026-11-11", "2026-11-12", "2026-11-13", "2026-11-16", "2026-11-17", "2026-11-18"):
        sim = simulate_session(date, 3, tmp_path / date, scale="small")
        mbp = pl.from_arrow(dbn.decode_file(sim.files["mbp-10"]).tables["mbp10"])
        ts = mbp["ts_event_ns"].to_numpy()
        t0 = calendar.et_ns(date, "04:00")
        for s, level, outcome, direction in sim.planted:
            if outcome not in depth:
                continue  # a planted CHOP (the level absorbs) has no liquidity regime
            side = "bid" if direction == "SUPPORT" else "ask"
            depth[outcome].append(_zone_depth(mbp, ts, t0 + s * 1_000_000_000, side, level))
    assert len(depth["BREAK"]) >= 2 and len(depth["BOUNCE"]) >= 4
    assert np.mean(depth["BREAK"]) < 0.7 * np.mean(depth["BOUNCE"])


def test_open_interest_statistics(sim) -> None:
    st = pl.from_arrow(dbn.decode_file(sim.files["statistics"]).tables["statistics"])
    assert st.height == sim.counts["option_definitions"] and set(st["stat_type"]) == {9}
    assert (st["quantity"] > 0).all()


def test_queue_book_mbo_rebuilds_the_simulated_mbp10(tmp_path: Path) -> None:
    """The simulator's own MBO, replayed through spymaster_core.bronze.mbo_book, gives exactly its MBP-10
    (every price, size and order count of all 10 levels at every event end): both follow DBN
    semantics, T/F never change depth, C/M do."""
    from spymaster_core.bronze.mbo_book import mbo_to_mbp10

    res = simulate_session(DATE, 5, tmp_path, scale="small", with_mbo=True)
    mbo = pl.from_arrow(dbn.decode_file(res.files["mbo"]).tables["mbo"])
    assert set(mbo["action"]) == {"A", "C", "M", "T", "F"}
    rebuilt = pl.from_arrow(mbo_to_mbp10(res.files["mbo"]))
    sim = pl.from_arrow(dbn.decode_file(res.files["mbp-10"]).tables["mbp10"])
    assert rebuilt.height == sim.height
    cols = [f"{s}_{k}_{j:02d}" for s in ("bid", "ask") for k in ("px", "sz", "ct") for j in range(10)]
    ends = sim.filter((pl.col("flags") & 128) > 0).select("sequence", *cols)
    mine = rebuilt.filter(pl.col("action") != "T").select("sequence", *cols)
    joined = ends.join(mine, on="sequence", suffix="_book")
    assert joined.height == ends.height > 10_000
    for c in cols:
        assert (joined[c] == joined[f"{c}_book"]).all(), c


def test_real_scale_option_chain_is_dense_near_the_money() -> None:
    """`--scale real`'s chain (`simulate_options` with `atm_quotes_per_s`) over 10 minutes: 402 instruments at 5-point
    strikes +/-500 points, BBO updates as often as its Poisson rates say (the whole RTH then holds
    >= 8 M), most of them within 25 points of the future, trades at the customer-flow rate, each
    quote a valid Black-76 market; the day's figures are in `benchmarks/bench_bronze.py --scale real`."""
    import datetime as dt

    from spymaster_core.sim import options as sim_options
    from spymaster_core.sim.path import PricePath
    from spymaster_core.sim.session import CHAINS, SCALES

    half_width, atm_qps = CHAINS["real"]
    n_s = 600
    ticks = (6000.0 / 0.25 + np.cumsum(np.random.default_rng(1).integers(-1, 2, n_s))).astype(np.int64)
    path = PricePath(
        ticks, np.full(n_s, 0.5), np.ones(n_s), [], np.zeros(n_s), np.zeros(n_s), np.zeros(n_s, bool), False
    )
    t0 = calendar.et_ns("2026-11-16", "09:30")
    defs, info = sim_options.chain_definitions(
        dt.date(2026, 11, 16), 6000.0, "ESZ6", 1, t0 + 6 * 3600 * 10**9, t0, 100, "Z6", half_width
    )
    strikes = sorted({k for _, k, _ in info.values()})
    assert len(info) == 402 and np.all(np.diff(strikes) == 5.0) and strikes[-1] - strikes[0] == 1000.0
    bbo, trades = sim_options.simulate_options(
        np.random.default_rng(2),
        path,
        t0,
        info,
        t0 + 6 * 3600 * 10**9,
        0,
        n_s,
        SCALES["real"][2],
        atm_quotes_per_s=atm_qps,
    )
    K = np.array([info[int(i)][1] for i in bbo["instrument_id"]])
    F = (ticks[(bbo["ts_event"] - t0) // 10**9] + 0.5) * 0.25
    expected = sum(atm_qps * np.exp(-np.abs(k - (ticks + 0.5) * 0.25) / 25.0).sum() * 2 for k in strikes)
    assert abs(len(bbo) / expected - 1) < 0.02
    assert len(bbo) * 23_400 / n_s >= 8_000_000  # the RTH at this rate
    assert np.mean(np.abs(K - F) <= 25) > 0.6  # concentrated near the money
    assert np.all(np.diff(bbo["ts_event"].astype(np.int64)) >= 0) and np.all(
        bbo["ask_px_00"] > bbo["bid_px_00"]
    )
    assert len(trades) * 23_400 / n_s >= 100_000
