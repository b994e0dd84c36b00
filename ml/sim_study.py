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
from ml.diagnostics import MIN_JUDGED_ROWS
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


ORACLE_SCORES: dict[str, dict[str, float]] = {
    "direction": {"BREAK": 1.0, "BOUNCE": 0.0},
    "tradeable": {"BREAK": 1.0, "BOUNCE": 1.0, "CHOP": 0.0},
    "strength": {"BREAK": 1.0, "BOUNCE": 1.0, "CHOP": 0.0},
    "fast": {"BREAK": 1.0, "BOUNCE": 1.0, "CHOP": 0.0},
}
"""The planted truth as each head's score; a touch with no planted reaction (or one the head's map
lacks) scores 0.5. direction: a planted BREAK 1, BOUNCE 0. tradeable, strength and fast: a planted
BREAK or BOUNCE (a 5-minute drift through or away) 1, a planted CHOP (a pin) 0."""


def planted_score(touches: pl.DataFrame, truth: pl.DataFrame | None) -> pl.DataFrame:
    """Per touch (`touch_id`, `ts_ns`, `level_price`, `direction`) the planted outcome and the
    direction oracle's P(BREAK) (`ORACLE_SCORES["direction"]`): 1 when the simulator planted a BREAK
    at that level and side, 0 for a BOUNCE, 0.5 for a planted CHOP or no planted reaction
    (`planted_outcome` null). A planted reaction matches a touch of the same side
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
        ORACLE_SCORES["direction"], default=0.5, return_dtype=pl.Float64
    )
    return df.with_columns(oracle_p_break=score)


ORACLE_MIN_EDGE = 0.02  # below 0.52 the oracle knows too little for a ratio to it to mean anything


def recovery(auc_model: float | None, auc_oracle: float | None) -> float | None:
    """(AUC_model - 0.5) / (AUC_oracle - 0.5): the share of what can be known (the planted truth)
    that the model recovers; None when either AUC is missing or the oracle is less than
    ORACLE_MIN_EDGE above chance (the ratio would be noise over noise)."""
    if auc_model is None or auc_oracle is None or auc_oracle < 0.5 + ORACLE_MIN_EDGE:
        return None
    return (auc_model - 0.5) / (auc_oracle - 0.5)


def oracle_figures(
    head: str,
    y: np.ndarray,
    p_model: np.ndarray,
    touch_ids: list[str],
    dates: list[str],
    planted: dict[str, str | None],
) -> dict[str, object]:
    """The oracle beside a head's held-out scores: y (0/1), p_model, each row's touch_id and date,
    and {touch_id: planted outcome or None}. Returns oracle_auc (the planted truth as the score,
    `ORACLE_SCORES`), recovery; oracle_auc_stratified and recovery_stratified (same-date pairs only:
    what the model knows about the touch, not the date; a model that only ranks dates scores 0.5
    there); the number of rows with a planted break or bounce and both AUCs on them (the ceiling,
    and the model's reach, on the planted part). Raises KeyError for a head without an oracle."""
    from ml import diagnostics

    table = ORACLE_SCORES[head]
    p = np.array([table.get(planted.get(t) or "", 0.5) for t in touch_ids])
    two = len(np.unique(y)) == 2
    auc = float(roc_auc_score(y, p)) if two else None
    same_day = diagnostics.stratified_auc(y, p, dates)
    on = np.array([planted.get(t) in ("BREAK", "BOUNCE") for t in touch_ids], dtype=bool)
    both = len(np.unique(y[on])) == 2
    return {
        "oracle_auc": auc,
        "recovery": recovery(float(roc_auc_score(y, p_model)) if two else None, auc),
        "oracle_auc_stratified": same_day,
        "recovery_stratified": recovery(diagnostics.stratified_auc(y, p_model, dates), same_day),
        "test_touches_with_planted_break_or_bounce": int(on.sum()),
        "oracle_auc_planted": float(roc_auc_score(y[on], p[on])) if both else None,
        "model_auc_planted": float(roc_auc_score(y[on], p_model[on])) if both else None,
    }


def head_study(
    gold: pl.DataFrame, cfg: Config, head: str = "direction", n_perm: int = 200
) -> dict[str, object]:
    """Walk-forward `head` vs both baselines on `gold`: AUC/Brier per predictor, n, held-out dates,
    the promotion gate's result (`ml.heads.gate`), the checks of `ml.diagnostics.head_report`
    (same-date AUC, per-date spread, within-date permutation), the grouped permutation importance
    (`importance_<group>`: held-out AUC drop) and, when `gold` carries the simulator's truth
    (`planted_outcome`), the oracle's AUC on the same held-out touches (`ORACLE_SCORES`), the
    model's recovery of it (`recovery`), both again on same-date pairs only (`oracle_auc_stratified`,
    `recovery_stratified`), and both AUCs on the touches with a planted break or bounce."""
    from ml import diagnostics

    r = heads.walk_forward(gold, head, cfg.model)
    two = len(np.unique(r.y_true)) == 2
    g = (
        heads.gate(r.y_true, r.p_model, {"base_rate": r.p_base_rate, "logistic": r.p_logistic}, cfg.model)
        if two
        else {"passed": False, "lift_lb_base_rate": None, "lift_lb_logistic": None}
    )
    oracle: dict[str, object] = {}
    if "planted_outcome" in gold.columns and len(r.touch_ids):
        planted = dict(zip(gold["touch_id"], gold["planted_outcome"], strict=True))
        oracle = oracle_figures(head, r.y_true, r.p_model, r.touch_ids, r.dates, planted)
    checks = diagnostics.head_report(r, n_perm=n_perm)
    importance = diagnostics.grouped_permutation_importance(r)
    return {
        "head": head,
        "n_touches": gold.height,
        "n_test": len(r.y_true),
        "test_dates": len(r.test_dates),
        **{f"{who}_{k}": v for who, m in r.metrics.items() for k, v in m.items()},
        "gate_passed": g["passed"],
        "lift_lb_base_rate": g["lift_lb_base_rate"],
        "lift_lb_logistic": g["lift_lb_logistic"],
        **oracle,
        **{k: v for k, v in checks.items() if k not in ("n_test", "auc")},
        **{f"importance_{k}": v["auc_drop"] for k, v in importance.items()},
    }


def direction_study(gold: pl.DataFrame, cfg: Config) -> dict[str, object]:
    """`head_study` of the direction head (the figure the issue's recovery target is about)."""
    return head_study(gold, cfg, "direction")


def render(results: dict[str, dict[str, object]]) -> list[str]:
    """The study's table, one row per head: pooled held-out AUC of the model and both baselines, the
    oracle's AUC and the recovery; the model's and the oracle's AUC on same-date pairs and that
    recovery; the per-date spread (p10..p90); the within-date permutation's z and p-values; then
    each head's grouped permutation importance."""

    def f(v: object, w: int = 6) -> str:
        return f"{v:>{w}.3f}" if isinstance(v, float) else f"{'n/a':>{w}}"

    lines = [
        "pooled held-out AUC: model, level-kind rate, logistic, oracle, recovery | same-date pairs: model,"
        " oracle, recovery | per-date AUC p10..p90 | labels shuffled within dates: z, p_low, p_high",
        f"{'head':<10} {'n':>5} {'model':>6} {'rate':>6} {'logit':>6} {'oracle':>6} {'recov':>6} |"
        f" {'model':>6} {'oracle':>6} {'recov':>6} | {'p10':>6} {'p90':>6} | {'z':>6} {'p_low':>6} {'p_high':>6}",
    ]
    for h, r in results.items():
        if int(r["n_test"]) < MIN_JUDGED_ROWS:  # type: ignore[call-overload]
            lines.append(
                f"{h:<10} {r['n_test']:>5}  not judged: fewer than {MIN_JUDGED_ROWS} held-out touches"
            )
            continue
        lines.append(
            f"{h:<10} {r['n_test']:>5} {f(r.get('model_auc'))} {f(r.get('base_rate_auc'))} "
            f"{f(r.get('logistic_auc'))} {f(r.get('oracle_auc'))} {f(r.get('recovery'))} | "
            f"{f(r.get('auc_stratified'))} {f(r.get('oracle_auc_stratified'))} {f(r.get('recovery_stratified'))} | "
            f"{f(r.get('auc_date_p10'))} {f(r.get('auc_date_p90'))} | "
            f"{f(r.get('perm_z'))} {f(r.get('perm_p_low'))} {f(r.get('perm_p_high'))}"
        )
    lines.append("grouped permutation importance (held-out AUC drop when the group is permuted):")
    for h, r in results.items():
        if int(r["n_test"]) < MIN_JUDGED_ROWS:  # type: ignore[call-overload]
            continue
        parts = [
            f"{k.removeprefix('importance_')} {v:+.3f}" for k, v in r.items() if k.startswith("importance_")
        ]
        lines.append(f"  {h:<10} " + ("  ".join(parts) if parts else "n/a"))
    return lines
