"""The cost-aware backtest of level trades (issue 22) at bar resolution: worked trades on hand-built
bars, costs in points and USD, one position per level, no look-ahead in the walk-forward policies,
and the policy table on the real ES bars."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ml import backtest
from spymaster_core import calendar
from spymaster_core.config import DEFAULT_CONFIG, Config
from spymaster_core.io.csv_bars import read_bars_csv
from spymaster_core.research import backtest as bt

DATE = "2026-11-16"
L = 6800.0  # the level (points)
REAL_BARS = Path(__file__).resolve().parents[2] / "shared" / "real" / "bars-1m"
ZERO_COSTS = DEFAULT_CONFIG.model_copy(
    update={
        "backtest": DEFAULT_CONFIG.backtest.model_copy(
            update={
                "half_spread_pt": 0.0,
                "stop_slippage_pt": 0.0,
                "commission_usd_per_side": 0.0,
                "exchange_fees_usd_per_side": 0.0,
            }
        )
    }
)


def _arrays(rows: list[tuple[str, float, float, float, float]]) -> tuple[np.ndarray, ...]:
    """(start ns, open, high, low, close) arrays from (HH:MM ET, o, h, l, c) bars of DATE."""
    ts = np.array([calendar.et_ns(DATE, t) for t, *_ in rows], dtype=np.int64)
    return (ts, *(np.array([r[k] for r in rows], dtype=np.float64) for k in (1, 2, 3, 4)))


def _trade(rows: list, side: int, cfg: Config = DEFAULT_CONFIG, touch: str = "10:00") -> dict | None:
    return bt.bar_trade(*_arrays(rows), calendar.et_ns(DATE, touch), L, side, bt.TradeRules.of(cfg))


# A SUPPORT touch at the 10:00 bar; the fade is long (+1), the break short (-1).
TOUCH = ("10:00", 6803.0, 6803.5, 6800.5, 6801.0)


def test_target_first_stop_first_and_the_time_stop() -> None:
    """Long fade at L = 6800 (target 6810, stop 6790), entry at the 10:01 open 6801 + half spread."""
    up = [TOUCH, ("10:01", 6801, 6805, 6800, 6804), ("10:02", 6804, 6811, 6803, 6809)]
    t = _trade(up, +1, ZERO_COSTS)
    assert t is not None and t["exit_reason"] == "target" and t["exit_px"] == 6810
    assert t["pnl_pt"] == 9.0 and t["pnl_usd"] == 450.0  # 9 pt x $50, no costs
    assert t["entry_ns"] == calendar.et_ns(DATE, "10:01") and t["exit_ns"] == calendar.et_ns(DATE, "10:03")
    c = _trade(up, +1)  # default costs: 0.125 pt spread on entry, none on the limit exit, $4.50 fees
    assert c["pnl_pt"] == pytest.approx(9.0 - 0.125) and c["pnl_usd"] == pytest.approx(8.875 * 50 - 4.50)

    down = [TOUCH, ("10:01", 6801, 6802, 6795, 6796), ("10:02", 6796, 6797, 6789, 6790)]
    s = _trade(down, +1)
    # Stop-market at 6790, filled 0.125 spread + 0.25 slippage worse: 6789.625; entry 6801.125.
    assert s["exit_reason"] == "stop" and s["exit_px"] == pytest.approx(6789.625)
    assert s["pnl_pt"] == pytest.approx(-11.5) and s["pnl_usd"] == pytest.approx(-11.5 * 50 - 4.50)
    brk = _trade(down, -1, ZERO_COSTS)  # the break (short) on the same path: target 6790 reached
    assert brk["exit_reason"] == "target" and brk["pnl_pt"] == 11.0

    flat = [TOUCH] + [(f"10:{m:02d}", 6801, 6803, 6799, 6802) for m in range(1, 12)]
    f = _trade(flat, +1)
    # Time stop: the close of the last look-forward bar (10:08, bars [10:01, 10:09)) less the spread.
    assert f["exit_reason"] == "time" and f["exit_ns"] == calendar.et_ns(DATE, "10:09")
    assert f["exit_px"] == pytest.approx(6802 - 0.125) and f["pnl_pt"] == pytest.approx(0.75)


def test_both_exits_in_one_bar_is_a_stop_and_gaps_fill_at_the_open() -> None:
    both = [TOUCH, ("10:01", 6801, 6812, 6788, 6805)]
    t = _trade(both, +1, ZERO_COSTS)
    assert t["exit_reason"] == "stop" and t["exit_px"] == 6790  # pessimistic: the stop came first
    gap = [TOUCH, ("10:01", 6801, 6802, 6799, 6800), ("10:02", 6785, 6786, 6780, 6781)]
    g = _trade(gap, +1, ZERO_COSTS)
    assert g["exit_reason"] == "stop" and g["exit_px"] == 6785  # gapped through 6790: the open
    gone = [TOUCH, ("10:01", 6811, 6812, 6809, 6810)]
    assert _trade(gone, +1) is None  # the entry open is already past the target: no trade
    assert _trade([TOUCH], +1) is None  # no bar after the touch


def test_one_position_per_level_and_fees_in_usd() -> None:
    """A second touch of the same level while the first trade is open is skipped; a touch of
    another level is not. MES multiplier (5 USD/pt) from the config, not hard-coded."""
    rows = [TOUCH] + [(f"10:{m:02d}", 6801, 6803, 6799, 6802) for m in range(1, 12)]
    bars = pl.DataFrame(
        {k: v for k, v in zip(["bar_start_ns", "open", "high", "low", "close"], _arrays(rows), strict=True)}
    )
    touches = pl.DataFrame(
        {
            "touch_id": ["a", "b", "c"],
            "date": [DATE] * 3,
            "ts_ns": [calendar.et_ns(DATE, t) for t in ("10:00", "10:03", "10:03")],
            "level_id": ["PM_LOW", "PM_LOW", "OR_LOW"],
            "level_kind": ["PM_LOW", "PM_LOW", "OR_LOW"],
            "level_price": [L, L, L],
            "direction": ["SUPPORT"] * 3,
        }
    )
    mes = DEFAULT_CONFIG.model_copy(
        update={"instrument": DEFAULT_CONFIG.instrument.model_copy(update={"es_multiplier_usd_per_pt": 5.0})}
    )
    trade = bt.bar_trade_fn({DATE: bars}, bt.TradeRules.of(mes))
    tr = bt.trades_for("always_fade", touches, dict.fromkeys("abc", bt.FADE), trade)
    assert tr["touch_id"].to_list() == ["a", "c"]
    assert tr["pnl_usd"].to_list() == pytest.approx([p * 5 - 4.50 for p in tr["pnl_pt"].to_list()])


def test_summary_figures_on_worked_numbers() -> None:
    assert bt.max_drawdown(np.array([100.0, -50.0, -80.0, 60.0, -40.0])) == 130.0
    assert bt.max_drawdown(np.array([10.0, 20.0])) == 0.0
    trades = pl.DataFrame(
        {
            "date": ["d1", "d1", "d2", "d3"],
            "pnl_usd": [100.0, -50.0, 30.0, -40.0],
            "pnl_pt": [2.0, -1.0, 0.6, -0.8],
            "exit_ns": [1, 2, 3, 4],
            "exit_reason": ["target", "stop", "time", "stop"],
        }
    )
    s = bt.summarize(trades, ["d1", "d2", "d3", "d4"], DEFAULT_CONFIG)
    assert s["trades"] == 4 and s["hit_rate"] == 0.5 and s["expectancy_usd"] == 10.0
    assert (
        s["avg_win_usd"] == 65.0 and s["avg_loss_usd"] == -45.0 and s["max_drawdown_usd"] == 60.0
    )  # 100 -> 40
    daily = np.array([50.0, 30.0, -40.0, 0.0])  # d4 had no trades: a zero day
    assert s["sharpe_daily"] == pytest.approx(daily.mean() / daily.std(ddof=1) * np.sqrt(252))
    assert s["expectancy_usd_lo"] <= 10.0 <= s["expectancy_usd_hi"] and s["share_stop"] == 0.5


def _real_bars() -> dict[str, pl.DataFrame]:
    by: dict[str, pl.DataFrame] = {}
    for f in sorted(REAL_BARS.glob("*.csv")):
        by.update(read_bars_csv(f).by_date)
    return by


@pytest.fixture(scope="module")
def real() -> backtest.BacktestInputs:
    return backtest.inputs_from_bars(_real_bars(), DEFAULT_CONFIG)


def test_future_labels_do_not_change_past_decisions(real) -> None:  # noqa: ANN001
    """Shuffling the outcomes (and features) of touches after a cut date leaves every decision on or
    before it unchanged, for every policy; decisions after it do change."""
    touches, trade = real.touches, real.trade
    dates = sorted(touches["date"].unique().to_list())
    cut = dates[len(dates) // 2]
    rng = np.random.default_rng(1)
    late = touches.filter(pl.col("date") > cut)
    shuffled = late.with_columns(
        pl.Series("outcome", rng.permutation(late["outcome"].to_numpy())),
        pl.Series("distance_pt", rng.permutation(late["distance_pt"].to_numpy())),
    )
    other = pl.concat([touches.filter(pl.col("date") <= cut), shuffled.select(touches.columns)])
    before, _, _ = backtest.decide(touches, trade, DEFAULT_CONFIG)
    after, _, _ = backtest.decide(other, trade, DEFAULT_CONFIG)
    early = set(touches.filter(pl.col("date") <= cut)["touch_id"].to_list())
    for p in backtest.POLICIES:
        assert {k: v for k, v in before[p].items() if k in early} == {
            k: v for k, v in after[p].items() if k in early
        }, p
    assert any(before[p] != after[p] for p in ("base_rate", "model"))


def test_policy_table_on_real_es_bars_and_what_costs_take(real, tmp_path: Path) -> None:  # noqa: ANN001
    """On the 55 real sessions: every policy trades on the same walk-forward test dates; with costs
    each trade loses exactly its spread, slippage and fees against the zero-cost run (the same trades)."""
    by = _real_bars()
    free_rules = bt.TradeRules.of(ZERO_COSTS)
    res = backtest.run(real, DEFAULT_CONFIG)
    free = backtest.run(replace(real, trade=bt.bar_trade_fn(by, free_rules), rules=free_rules), ZERO_COSTS)
    table = bt.policy_table(res.trades, res.test_dates, DEFAULT_CONFIG)
    assert table["policy"].to_list() == list(backtest.POLICIES) and len(res.test_dates) >= 50
    n = dict(table.select("policy", "trades").iter_rows())
    assert n["always_fade"] == n["always_break"] > 500 and 0 < n["model"] <= n["always_fade"]
    for p in ("always_fade", "always_break"):
        a = res.trades.filter(pl.col("policy") == p).sort("touch_id")
        b = free.trades.filter(pl.col("policy") == p).sort("touch_id")
        assert a["touch_id"].equals(b["touch_id"])
        cost_pt = (b["pnl_pt"] - a["pnl_pt"]).to_numpy()
        want = np.where(
            a["exit_reason"] == "stop", 0.125 * 2 + 0.25, np.where(a["exit_reason"] == "time", 0.25, 0.125)
        )
        assert cost_pt == pytest.approx(want)
        assert (b["pnl_usd"] - a["pnl_usd"]).to_numpy() == pytest.approx(want * 50 + 4.50)
    lines = backtest.render(res, DEFAULT_CONFIG, "REAL ES")
    assert any(line.strip().startswith("model") for line in lines)
    # MLflow: per-policy metrics equal the table, the equity curves and the trade list as artifacts.
    from ml import registry

    run_id = backtest.log_backtest(tmp_path, res, DEFAULT_CONFIG, {"source": "test"})
    run = registry.client(tmp_path).get_run(run_id)
    row = table.filter(pl.col("policy") == "model").row(0, named=True)
    assert run.data.metrics["model_expectancy_usd"] == pytest.approx(row["expectancy_usd"])
    assert run.data.metrics["always_fade_trades"] == n["always_fade"] and run.data.tags["kind"] == "backtest"
    arts = {a.path for a in registry.client(tmp_path).list_artifacts(run_id)}
    assert {"equity.png", "trades.parquet"} <= arts


# ---------------------------------------------------------------- the tick tier: trade by trade


def _prints(rows: list[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray]:
    """(ts ns, price) of prints at (HH:MM:SS ET, price) on DATE."""
    ts = np.array([calendar.et_ns(DATE, t[:5]) + int(t[6:]) * 10**9 for t, _ in rows], dtype=np.int64)
    return ts, np.array([p for _, p in rows], dtype=np.float64)


def test_tick_trades_fill_in_print_order_with_the_books_spread() -> None:
    rules = bt.TradeRules.of(DEFAULT_CONFIG)
    touch = calendar.et_ns(DATE, "10:00")
    # Touch print at 10:00:00; entry at the next print (10:00:05, 6801) plus that moment's half spread.
    ts, px = _prints([("10:00:00", 6800.5), ("10:00:05", 6801), ("10:01:00", 6789.75), ("10:02:00", 6811)])
    hs = np.array([0.125, 0.375, 0.125, 0.125])  # a wide book at the entry print
    t = bt.tick_trade(ts, px, hs, touch, L, +1, rules)
    # The stop print comes first (in print order, unlike a bar): stop 6790, the print 6789.75 is worse.
    assert t["exit_reason"] == "stop" and t["entry_px"] == 6801.375
    assert t["exit_px"] == pytest.approx(6789.75 - 0.125 - 0.25) and t["exit_ns"] == int(ts[2])
    assert t["pnl_usd"] == pytest.approx((6789.375 - 6801.375) * 50 - 4.50)
    ts, px = _prints([("10:00:00", 6800.5), ("10:00:05", 6801), ("10:02:00", 6810), ("10:03:00", 6785)])
    t = bt.tick_trade(ts, px, np.full(4, 0.125), touch, L, +1, rules)
    assert t["exit_reason"] == "target" and t["pnl_pt"] == pytest.approx(10 - 1 - 0.125)
    ts, px = _prints([("10:00:00", 6800.5), ("10:00:05", 6801), ("10:07:59", 6803), ("10:08:01", 6820)])
    t = bt.tick_trade(ts, px, np.full(4, 0.125), touch, L, +1, rules)
    assert (
        t["exit_reason"] == "time" and t["exit_px"] == 6803 - 0.125
    )  # the 10:08:01 print is past the window


def test_half_spreads_come_from_the_book_with_a_floor() -> None:
    rules = bt.TradeRules.of(DEFAULT_CONFIG)
    trades = pl.DataFrame({"ts_event_ns": [5, 15, 25]})
    book = pl.DataFrame({"ts_event_ns": [10, 20], "bid_px_00": [100.0, 100.0], "ask_px_00": [100.25, 101.0]})
    assert bt.half_spreads(trades, book, rules).tolist() == [0.125, 0.125, 0.5]
    assert bt.half_spreads(trades, None, rules).tolist() == [0.125] * 3


def test_tick_backtest_on_a_simulated_day(sim_day) -> None:  # noqa: ANN001
    """Every touch of a simulated tick day traded both ways at trade resolution with the book's
    spread: each entry is the first print after its touch plus at least half a tick; a fade and a
    break of one touch enter at the same print on opposite sides of it; when both time out they lose
    the spread on both legs between them."""
    import pyarrow.parquet as pq

    d = sim_day
    cols = ["ts_event_ns", "bid_px_00", "ask_px_00"]
    book = pl.concat([pl.from_arrow(pq.read_table(f, columns=cols)) for f in d.mbp10_files])
    trade = bt.tick_trade_fn({d.date: d.trades}, {d.date: book}, bt.TradeRules.of(DEFAULT_CONFIG))
    ids = d.touches["touch_id"].to_list()
    fade = bt.trades_for("always_fade", d.touches, dict.fromkeys(ids, bt.FADE), trade)
    brk = bt.trades_for("always_break", d.touches, dict.fromkeys(ids, bt.BREAK), trade)
    assert fade.height > 5 and brk.height > 5
    tr = d.trades.sort("ts_event_ns")
    ts, px = tr["ts_event_ns"].to_numpy(), tr["price"].to_numpy()
    at = dict(zip(d.touches["touch_id"], d.touches["ts_ns"], strict=True))
    for r in fade.iter_rows(named=True):
        i = int(np.searchsorted(ts, at[r["touch_id"]], side="right"))
        assert r["entry_ns"] == ts[i] and 0.125 - 1e-9 <= r["side"] * (r["entry_px"] - px[i]) <= 5.0
    both = fade.join(brk, on="touch_id", suffix="_b")
    assert both.height > 5
    for r in both.iter_rows(named=True):
        assert r["entry_ns"] == r["entry_ns_b"] and r["side"] == -r["side_b"]
        assert r["entry_px"] + r["entry_px_b"] == pytest.approx(2 * px[np.searchsorted(ts, r["entry_ns"])])
    timed = both.filter((pl.col("exit_reason") == "time") & (pl.col("exit_reason_b") == "time"))
    for r in timed.iter_rows(named=True):
        assert r["pnl_pt"] + r["pnl_pt_b"] <= -0.5 + 1e-9  # two round turns of at least a tick each
