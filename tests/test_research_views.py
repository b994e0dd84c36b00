"""Offline research views: a date's price path with levels and touch outcomes from the lake, and
the MLflow run comparison."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ml import registry
from spymaster_core.config import DEFAULT_CONFIG
from spymaster_core.io import lake
from spymaster_core.research import bars
from spymaster_core.research.session import Session
from spymaster_live import research


def test_day_view_draws_every_level_and_touch_with_its_outcome(sim_day: Session, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    d = sim_day.date
    lake.write_partition(
        root, "bars_2m", d, bars.time_bars(sim_day.trades, DEFAULT_CONFIG.levels.bar_minutes)
    )
    for table, frame in (
        ("levels", sim_day.levels),
        ("touches", sim_day.touches),
        ("labels", sim_day.labels),
    ):
        lake.write_partition(root, table, d, frame)
    page = research.day_view_html(root, d)
    assert page.count('<g class="level"') == sim_day.levels["level_id"].n_unique()
    assert page.count('<circle class="touch') == sim_day.touches.height > 0
    for outcome, n in sim_day.labels.group_by("outcome").len().iter_rows():
        assert len(re.findall(rf'<circle class="touch {outcome}"', page)) == n
    assert f'href="/research/day?date={d}"' in research.index_html(root)
    with pytest.raises(FileNotFoundError, match="no Silver bars_2m for 2001-01-02"):
        research.day_view_html(root, "2001-01-02")


def test_models_view_compares_runs_newest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(FileNotFoundError, match="no MLflow training runs"):
        research.models_view_html(tmp_path)
    ids = [
        registry.log_run(
            tmp_path, {"heads": "direction"}, {"direction_model_auc": auc, "direction_logistic_auc": 0.5}, {}
        )[0]
        for auc in (0.61, 0.73)
    ]
    runs = registry.compare_runs(tmp_path)
    assert runs["run_id"].to_list() == ids[::-1]
    assert runs["direction_model_auc"].to_list() == [0.73, 0.61] and not runs["champion"].any()
    assert runs["direction_seq_auc"].null_count() == 2  # not logged: null, not 0
    page = research.models_view_html(tmp_path)
    rows = re.findall(r'<tr data-run="([0-9a-f]{32})"', page)
    assert rows == ids[::-1] and "0.730" in page and "0.610" in page


def test_backtest_view_draws_each_policys_equity_curve_and_a_days_trades(tmp_path: Path) -> None:
    """On the real bars' backtest written to a lake: one curve per policy ending at its total P&L, and
    the chosen date's trade list (every policy's trades of that date, nothing else)."""
    import polars as pl

    from ml import backtest
    from spymaster_core.io.csv_bars import read_bars_csv

    root = tmp_path / "lake"
    with pytest.raises(FileNotFoundError, match="no backtest in the lake"):
        research.backtest_view_html(root)
    by: dict = {}
    for f in sorted((Path(__file__).resolve().parents[2] / "shared" / "real" / "bars-1m").glob("*.csv")):
        by.update(read_bars_csv(f).by_date)
    res = backtest.run(backtest.inputs_from_bars(by, DEFAULT_CONFIG), DEFAULT_CONFIG)
    lake.write_file(lake.file_path(root, "backtest_trades"), res.trades)
    day = res.test_dates[len(res.test_dates) // 2]
    page = research.backtest_view_html(root, day)
    curves = re.findall(r'<polyline class="policy" data-policy="(\w+)".*?<title>\w+: ([+-][\d,]+) USD', page)
    totals = dict(res.trades.group_by("policy").agg(pl.col("pnl_usd").sum()).iter_rows())
    assert sorted(p for p, _ in curves) == sorted(backtest.POLICIES)
    for p, total in curves:
        assert int(total.replace(",", "")) == round(totals[p])
    listed = re.findall(r'<tr data-policy="(\w+)">', page)
    assert len(listed) == res.trades.filter(pl.col("date") == day).height > 0
    assert 'href="/research/backtest"' in research.index_html(root)
    with pytest.raises(FileNotFoundError, match="no backtest trades on 2001-01-02"):
        research.backtest_view_html(root, "2001-01-02")
    # Tiers: the tick tier's file is its own page; a tier the lake lacks is named in the error.
    with pytest.raises(FileNotFoundError, match="no tick backtest in the lake"):
        research.backtest_view_html(root, None, "tick")
    assert 'id="tier-tick"' not in page and "<b>bars</b>" in page
    fade = res.trades.filter(pl.col("policy") == "always_fade").with_columns(tier=pl.lit("tick"))
    lake.write_file(lake.file_path(root, "backtest_trades_tick"), fade)
    tick = research.backtest_view_html(root, day, "tick")
    assert re.findall(r'data-policy="(\w+)"', tick) == ["always_fade"] * (
        1 + fade.filter(pl.col("date") == day).height
    )
    assert 'id="tier-bars"' in tick and "(tick tier)" in tick
