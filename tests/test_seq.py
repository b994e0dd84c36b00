"""The PatchTST-style sequence baseline (extra `seq`): skipped when torch is not installed."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

torch = pytest.importorskip("torch")

from ml import seq  # noqa: E402
from spymaster_core import calendar  # noqa: E402
from spymaster_core.config import DEFAULT_CONFIG  # noqa: E402

T0 = 1_794_839_400_000_000_000  # 2026-11-16 09:30 ET
BAR = seq.BAR_NS


def _bars(date: str, closes: np.ndarray, t0: int = T0) -> pl.DataFrame:
    n = len(closes)
    return pl.DataFrame(
        {
            "date": [date] * n,
            "bar_start_ns": t0 + BAR * np.arange(n),
            "open": closes - 0.25,
            "high": closes + 0.5,
            "low": closes - 0.5,
            "close": closes,
            "volume": np.full(n, 100),
        }
    )


def test_sequences_use_only_bars_closed_before_the_touch() -> None:
    closes = 5000.0 + np.arange(40, dtype=np.float64)
    bars = _bars("2026-11-16", closes)
    ts = T0 + 10 * BAR + BAR // 2  # inside bar 10: bars 0..9 have closed
    rows = pl.DataFrame(
        {"date": ["2026-11-16"] * 2, "ts_ns": [ts, ts], "direction": ["SUPPORT", "RESISTANCE"]}
    )
    x = seq.sequences(rows, bars)
    assert x.shape == (2, seq.SEQ_BARS, len(seq.CHANNELS))
    assert x[0, :, 5].sum() == 10 and x[0, -10:, 5].all()  # 10 closed bars, right-aligned
    assert x[0, -1, 3] == 0.0  # relative to the last closed bar (close 5009)
    assert x[0, -10, 3] == pytest.approx(-9.0)  # 5000 - 5009, approach side positive for SUPPORT
    assert np.allclose(x[1, :, :4], -x[0, :, :4])  # RESISTANCE: mirrored frame
    x_exact = seq.sequences(rows.with_columns(pl.lit(T0 + 10 * BAR).alias("ts_ns")), bars)
    assert x_exact[0, :, 5].sum() == 10  # a bar closing exactly at the touch counts as closed
    other_day = _bars("2026-11-13", closes, T0 - 3 * 86_400_000_000_000)
    x_two = seq.sequences(rows, pl.concat([other_day, bars]))
    np.testing.assert_array_equal(x_two, x)  # another session's bars never enter
    with pytest.raises(ValueError, match="volume"):
        seq.sequences(rows, bars.drop("volume"))


def _planted(
    n_dates: int, per_date: int, seed: int, shuffle: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Touches whose outcome is planted in the approach: a fast approach over the last 5 bars
    breaks, a slow one bounces (noise bars before). Each touch has its own 35 bars; they follow
    one another within the date's Globex session."""
    rng = np.random.default_rng(seed)
    gold, bars = [], []
    dates = [d.isoformat() for d in calendar.trading_dates("2026-11-16", "2026-12-31")][:n_dates]
    for date in dates:
        open_ns = calendar.session_bounds_ns(date)[0]
        for j in range(per_date):
            t0 = open_ns + j * 35 * BAR
            brk = bool(rng.random() < 0.5)
            steps = rng.normal(0, 0.5, 35)
            steps[-5:] = -(2.0 if brk else 0.3) + rng.normal(0, 0.3, 5)  # toward the level (SUPPORT)
            closes = 5000.0 + np.cumsum(steps)
            bars.append(_bars(date, closes, t0))
            gold.append((date, t0 + 35 * BAR, f"{date}:{j}", "BREAK" if brk else "BOUNCE"))
    g = pl.DataFrame(gold, schema=["date", "ts_ns", "touch_id", "outcome"], orient="row").with_columns(
        direction=pl.lit("SUPPORT"), lookforward_complete=pl.lit(True)
    )
    if shuffle:
        g = g.with_columns(pl.col("outcome").shuffle(seed=seed).over("date"))
    return g, pl.concat(bars)


def test_patchtst_learns_a_planted_approach_and_not_noise() -> None:
    cfg = DEFAULT_CONFIG.model.model_copy(update={"min_train_rows": 36})  # two dates of 18 touches
    gold, bars = _planted(5, 18, seed=3)
    res = seq.walk_forward_seq(gold, bars, cfg)
    assert res.test_dates == ["2026-11-18", "2026-11-19", "2026-11-20"]  # min_train_dates=2
    # The default 50 training rows are reached after three dates (54 touches).
    assert seq.walk_forward_seq(gold, bars, DEFAULT_CONFIG.model).test_dates == ["2026-11-19", "2026-11-20"]
    assert len(res.y_true) == 54 and res.metrics["auc"] > 0.9
    again = seq.walk_forward_seq(gold, bars, cfg)
    np.testing.assert_array_equal(again.p_seq, res.p_seq)  # seeded: reproducible
    noise = seq.walk_forward_seq(*_planted(5, 18, seed=3, shuffle=True), cfg)
    assert 0.25 < noise.metrics["auc"] < 0.75
