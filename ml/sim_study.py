"""The planted-regime study: simulated dates through the same Bronze, Silver and engine code as
the platform, joined into Gold rows, and the direction head judged walk-forward against both
baselines. Used by the slow test that checks the issue's acceptance figure and by
`spymaster study` (prints the numbers).

The Gold join here is the one dbt's gold_training does (touches + features + labels on touch_id);
it lets the study run without Dagster or DuckDB.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from ml import heads
from spymaster_core import calendar
from spymaster_core.config import Config
from spymaster_core.research import features
from spymaster_core.sim.day import build_sim_day
from spymaster_core.sim.session import read_truth


def study_dates(n: int, end: str = "2026-11-20") -> list[str]:
    """The last n CME trading dates up to `end` (YYYY-MM-DD)."""
    last = dt.date.fromisoformat(end)
    return [d.isoformat() for d in calendar.trading_dates(last - dt.timedelta(days=2 * n + 14), last)][-n:]


def simulated_gold(
    dates: list[str],
    seed: int,
    workdir: Path,
    cfg: Config,
    scale: str = "demo",
    echo: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """Gold rows (touch, features, labels, and the simulator's truth: `planted_outcome`,
    `oracle_p_break`) for simulated `dates`, one simulated session per date (all with `seed`; the
    date varies the session). Files go under workdir/<date>/ and are reused; `echo` gets one
    progress line per date."""
    parts = []
    for i, date in enumerate(dates):
        if echo is not None:
            echo(f"[study] {date} ({i + 1}/{len(dates)})")
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
        truth = read_truth(workdir / date / "landing", date)
        oracle = planted_score(day.touches, truth)
        parts.append(tc.join(ft, on="touch_id").join(lb, on="touch_id").join(oracle, on="touch_id"))
    return pl.concat(parts, how="diagonal_relaxed")


MATCH_BEFORE_S, MATCH_AFTER_S = 300, 60


def planted_score(touches: pl.DataFrame, truth: pl.DataFrame | None) -> pl.DataFrame:
    """Per touch (`touch_id`, `ts_ns`, `level_price`, `direction`) the oracle's P(BREAK): 1 when the
    simulator planted a BREAK at that level and side, 0 for a BOUNCE, 0.5 for a planted CHOP or no
    planted reaction (`planted_outcome` null). A planted reaction matches a touch of the same side
    whose level is within a tick of it and whose time is from MATCH_BEFORE_S before the planted touch
    (the touch band is wider than the simulator's) to MATCH_AFTER_S after; the nearest in time wins."""
    out = touches.select("touch_id", "ts_ns", "level_price", "direction")
    if truth is None or truth.is_empty():
        return out.select("touch_id", planted_outcome=pl.lit(None, pl.String), oracle_p_break=pl.lit(0.5))
    rows = []
    for r in out.iter_rows(named=True):
        cand = truth.filter(
            (pl.col("direction") == r["direction"])
            & ((pl.col("level_price") - r["level_price"]).abs() <= 0.25 + 1e-9)
            & (pl.col("ts_ns") >= r["ts_ns"] - MATCH_AFTER_S * 10**9)
            & (pl.col("ts_ns") <= r["ts_ns"] + MATCH_BEFORE_S * 10**9)
        )
        best = None
        if cand.height:
            best = cand.sort((pl.col("ts_ns") - r["ts_ns"]).abs())["outcome"][0]
        rows.append({"touch_id": r["touch_id"], "planted_outcome": best})
    df = pl.DataFrame(rows, schema={"touch_id": pl.String, "planted_outcome": pl.String})
    score = pl.col("planted_outcome").replace_strict(
        {"BREAK": 1.0, "BOUNCE": 0.0}, default=0.5, return_dtype=pl.Float64
    )
    return df.with_columns(oracle_p_break=score)


def recovery(auc_model: float | None, auc_oracle: float | None) -> float | None:
    """(AUC_model - 0.5) / (AUC_oracle - 0.5): the share of what can be known (the planted truth)
    that the model recovers; None when either AUC is missing or the oracle is no better than chance."""
    if auc_model is None or auc_oracle is None or auc_oracle <= 0.5:
        return None
    return (auc_model - 0.5) / (auc_oracle - 0.5)


def direction_study(gold: pl.DataFrame, cfg: Config) -> dict[str, object]:
    """Walk-forward direction head vs both baselines on `gold`: AUC/Brier per predictor, n,
    held-out dates, the promotion gate's result (`ml.heads.gate`) and, when `gold` carries the
    simulator's truth (`oracle_p_break`), the oracle's AUC on the same held-out touches and the
    model's recovery of it (`recovery`)."""
    r = heads.walk_forward(gold, "direction", cfg.model)
    g = heads.gate(r.y_true, r.p_model, {"base_rate": r.p_base_rate, "logistic": r.p_logistic}, cfg.model)
    oracle: dict[str, object] = {}
    if "oracle_p_break" in gold.columns and len(r.touch_ids):
        score = dict(zip(gold["touch_id"], gold["oracle_p_break"], strict=True))
        p = np.array([score[t] for t in r.touch_ids])
        auc = float(roc_auc_score(r.y_true, p)) if len(np.unique(r.y_true)) == 2 else None
        planted_ids = set(
            gold.filter(pl.col("planted_outcome").is_in(["BREAK", "BOUNCE"]))["touch_id"].to_list()
        )
        on = np.array([t in planted_ids for t in r.touch_ids])
        y_on = r.y_true[on]
        both = len(np.unique(y_on)) == 2
        oracle = {
            "oracle_auc": auc,
            "recovery": recovery(r.metrics["model"]["auc"], auc),
            # Where the simulator planted a break or bounce: how well the truth and the model rank
            # those touches (the ceiling, and the model's reach, on the planted part).
            "test_touches_with_planted_break_or_bounce": int(on.sum()),
            "oracle_auc_planted": float(roc_auc_score(y_on, p[on])) if both else None,
            "model_auc_planted": float(roc_auc_score(y_on, r.p_model[on])) if both else None,
        }
    return {
        "n_touches": gold.height,
        "n_test": len(r.y_true),
        "test_dates": len(r.test_dates),
        **{f"{who}_{k}": v for who, m in r.metrics.items() for k, v in m.items()},
        "gate_passed": g["passed"],
        "lift_lb_base_rate": g["lift_lb_base_rate"],
        "lift_lb_logistic": g["lift_lb_logistic"],
        **oracle,
    }
