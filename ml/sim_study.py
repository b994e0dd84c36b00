"""The planted-regime study: simulated dates through the same Bronze, Silver and engine code as
the platform, joined into Gold rows, and the direction head judged walk-forward against both
baselines. Used by the slow test that checks the issue's acceptance figure and by
`spymaster study` (prints the numbers).

The Gold join here is the one dbt's gold_training does (touches + features + labels on touch_id);
it lets the study run without Dagster or DuckDB.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from ml import heads
from spymaster_core import calendar
from spymaster_core.config import Config
from spymaster_core.research import features
from spymaster_core.sim.day import build_sim_day


def study_dates(n: int, end: str = "2026-11-20") -> list[str]:
    """The last n CME trading dates up to `end` (YYYY-MM-DD)."""
    last = dt.date.fromisoformat(end)
    return [d.isoformat() for d in calendar.trading_dates(last - dt.timedelta(days=2 * n + 14), last)][-n:]


def simulated_gold(
    dates: list[str], seed: int, workdir: Path, cfg: Config, scale: str = "demo"
) -> pl.DataFrame:
    """Gold rows (touch, features, labels) for simulated `dates`, one simulated session per date
    (all with `seed`; the date varies the session). Files go under workdir/<date>/ and are reused."""
    parts = []
    for date in dates:
        day = build_sim_day(date, seed, workdir / date, cfg, scale=scale)
        if day.touches.is_empty():
            continue
        ft = features.touch_features(
            features.mbp10_batches(day.mbp10_files),
            day.trades,
            day.touches,
            day.levels,
            date,
            cfg,
            day.options,
        )
        lb = day.labels.select(
            "touch_id",
            *[c for c in day.labels.columns if c.startswith("outcome")],
            "time_to_threshold_s",
            "strength_pt",
            "lookforward_complete",
        )
        tc = day.touches.select("touch_id", "date", "level_kind", "direction", "prior_touches")
        parts.append(tc.join(ft, on="touch_id").join(lb, on="touch_id"))
    return pl.concat(parts, how="diagonal_relaxed")


def direction_study(gold: pl.DataFrame, cfg: Config) -> dict[str, object]:
    """Walk-forward direction head vs both baselines on `gold`: AUC/Brier per predictor, n,
    held-out dates, and the promotion gate's result (`ml.heads.gate`)."""
    r = heads.walk_forward(gold, "direction", cfg.model)
    g = heads.gate(r.y_true, r.p_model, {"base_rate": r.p_base_rate, "logistic": r.p_logistic}, cfg.model)
    return {
        "n_touches": gold.height,
        "n_test": len(r.y_true),
        "test_dates": len(r.test_dates),
        **{f"{who}_{k}": v for who, m in r.metrics.items() for k, v in m.items()},
        "gate_passed": g["passed"],
        "lift_lb_base_rate": g["lift_lb_base_rate"],
        "lift_lb_logistic": g["lift_lb_logistic"],
    }
