"""The heads on the bar tier, on the real ES 1-minute bars (issue 19, item 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ml import bar_models
from spymaster_core.config import DEFAULT_CONFIG
from spymaster_core.io.csv_bars import read_bars_csv
from spymaster_core.research import bar_features

REAL_BARS = Path(__file__).resolve().parents[2] / "shared" / "real" / "bars-1m"


def test_bar_features_are_causal_on_a_hand_built_path() -> None:
    """Features at a touch see only bars that closed by its start: changing the touch bar and every
    later bar changes nothing; velocity is points per minute by clock."""
    from spymaster_core import calendar

    d = "2026-11-16"
    t0 = calendar.et_ns(d, "09:30")
    n = 60
    ts = [t0 + i * 60_000_000_000 for i in range(n)]
    close = [100.0 + i * 0.5 for i in range(n)]
    bars = pl.DataFrame(
        {
            "bar_start_ns": ts,
            "open": close,
            "high": [c + 1 for c in close],
            "low": [c - 1 for c in close],
            "close": close,
            "volume": [10] * n,
            "symbol": ["ESZ6"] * n,
            "source": ["t"] * n,
        }
    )
    touch = pl.DataFrame(
        {
            "touch_id": ["x"],
            "ts_ns": [ts[40]],
            "level_id": ["PM_HIGH"],
            "level_kind": ["PM_HIGH"],
            "level_price": [118.0],
            "direction": ["SUPPORT"],
            "prior_touches": [0],
        }
    )
    levels = pl.DataFrame(
        {
            "level_id": ["PM_HIGH"],
            "kind": ["PM_HIGH"],
            "price": [118.0],
            "valid_from_ns": [t0],
            "is_dynamic": [False],
        }
    )
    f = bar_features.bar_touch_features(bars, touch, levels, d, DEFAULT_CONFIG).row(0, named=True)
    assert f["distance_pt"] == pytest.approx(close[39] - 118.0)
    assert f["velocity_1m_pt_per_min"] == pytest.approx(0.5) and f[
        "velocity_15m_pt_per_min"
    ] == pytest.approx(0.5)
    assert f["accel_pt_per_min2"] == pytest.approx(0.0) and f["minutes_since_open"] == 40.0
    assert f["range_30m_pt"] == pytest.approx((close[39] + 1) - (close[10] - 1))
    later = bars.with_columns(
        pl.when(pl.col("bar_start_ns") >= ts[40])
        .then(pl.col("close") * 2)
        .otherwise(pl.col("close"))
        .alias("close")
    )
    assert bar_features.bar_touch_features(later, touch, levels, d, DEFAULT_CONFIG).row(0, named=True) == f
    assert f["engines_missing_reason"] == "bars only"


@pytest.mark.slow
def test_heads_on_real_bars_against_both_baselines() -> None:
    """Walk-forward on 55 real sessions: every head is judged on held-out dates with date-bootstrap
    intervals that contain the point estimate. Whether a touch moves 10 pt at all (tradeable) is
    predictable from the bar features well above chance on real ES (AUC 0.72 when measured)."""
    by_date: dict[str, pl.DataFrame] = {}
    for f in sorted(REAL_BARS.glob("*.csv")):
        by_date.update(read_bars_csv(f).by_date)
    gold = bar_models.bar_gold(by_date, DEFAULT_CONFIG)
    assert gold.height > 800 and "AMBIGUOUS" not in set(gold["outcome"])
    res = bar_models.study(gold, DEFAULT_CONFIG)
    for head, row in res.items():
        assert row["n_test"] > 100, head
        for who in ("model", "base_rate", "logistic"):
            lo, hi = row[f"{who}_auc_ci"]
            assert 0.0 <= lo <= row[f"{who}_auc"] <= hi <= 1.0, (head, who)
    assert res["tradeable"]["model_auc_ci"][0] > 0.55
    lines = bar_models.render(res, "REAL")
    assert len(lines) == 5 and all(np.isfinite(res[h]["model_brier"]) for h in res)
