"""The cost-aware backtest of level trades (issue 22) at bar resolution: worked trades on hand-built
bars, costs in points and USD, one position per level, no look-ahead in the walk-forward policies,
and the policy table on the real ES bars."""

from __future__ import annotations

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
    tr = bt.trades_for(
        "always_fade", touches, dict.fromkeys("abc", bt.FADE), {DATE: bars}, bt.TradeRules.of(mes)
    )
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


@pytest.fixture(scope="module")
def real() -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    by: dict[str, pl.DataFrame] = {}
    for f in sorted(REAL_BARS.glob("*.csv")):
        by.update(read_bars_csv(f).by_date)
    return backtest.inputs_from_bars(by, DEFAULT_CONFIG)


def test_future_labels_do_not_change_past_decisions(real) -> None:  # noqa: ANN001
    """Shuffling the outcomes (and features) of touches after a cut date leaves every decision on or
    before it unchanged, for every policy; decisions after it do change."""
    touches, bars = real
    dates = sorted(touches["date"].unique().to_list())
    cut = dates[len(dates) // 2]
    rng = np.random.default_rng(1)
    late = touches.filter(pl.col("date") > cut)
    shuffled = late.with_columns(
        pl.Series("outcome", rng.permutation(late["outcome"].to_numpy())),
        pl.Series("distance_pt", rng.permutation(late["distance_pt"].to_numpy())),
    )
    other = pl.concat([touches.filter(pl.col("date") <= cut), shuffled.select(touches.columns)])
    before, _, _ = backtest.decide(touches, bars, DEFAULT_CONFIG)
    after, _, _ = backtest.decide(other, bars, DEFAULT_CONFIG)
    early = set(touches.filter(pl.col("date") <= cut)["touch_id"].to_list())
    for p in backtest.POLICIES:
        assert {k: v for k, v in before[p].items() if k in early} == {
            k: v for k, v in after[p].items() if k in early
        }, p
    assert any(before[p] != after[p] for p in ("base_rate", "model"))


def test_policy_table_on_real_es_bars_and_what_costs_take(real, tmp_path: Path) -> None:  # noqa: ANN001
    """On the 55 real sessions: every policy trades on the same walk-forward test dates; with costs
    each trade loses exactly its spread, slippage and fees against the zero-cost run (the same trades)."""
    touches, bars = real
    res = backtest.run(touches, bars, DEFAULT_CONFIG)
    free = backtest.run(touches, bars, ZERO_COSTS)
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
