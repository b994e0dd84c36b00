"""Break/bounce heads with XGBoost, judged walk-forward by date against two honest baselines.

Heads (binary, on touches whose look-forward window is complete):
  tradeable  any threshold (the first of `labels.thresholds_pt`) hit either way: outcome != CHOP
  direction  BREAK vs BOUNCE, among tradeable touches
  strength   the second threshold (25 pt by default) reached in the outcome's direction, among tradeable
  fast       the first threshold reached within FAST_S seconds, among tradeable
Walk-forward: each test date is predicted by models trained only on earlier dates, minus
`purge_dates` dates before it (labels look 8 minutes ahead, so a purge of 0 dates is leak-free;
a positive purge guards against multi-day effects). Calibration: isotonic regression fit on the
pooled held-out predictions of earlier test dates only (identity until 20 of them with both
classes exist). Baselines on the same training dates: the level kind's rate (Laplace-smoothed)
and a logistic regression on prior-touch count and |distance|. Metrics: AUC (scikit-learn
`roc_auc_score`), Brier score, log-loss, on the pooled held-out predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import xgboost as xgb
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from spymaster_core.config import ModelConfig
from spymaster_core.features import FEATURE_COLUMNS

MODEL_FEATURES = [*FEATURE_COLUMNS, "prior_touches", "is_support"]
BASELINE_FEATURES = ["prior_touches", "abs_distance_pt"]
HEADS = ("tradeable", "direction", "strength", "fast")
FAST_S = 120.0
MIN_CALIBRATION = 20


def head_target(gold: pl.DataFrame, head: str) -> tuple[pl.DataFrame, np.ndarray]:
    """(rows the head is defined on, 0/1 target) for `head` (see module docstring).
    Raises ValueError for an unknown head."""
    done = gold.filter(pl.col("lookforward_complete"))
    tradeable = done.filter(pl.col("outcome").is_in(["BREAK", "BOUNCE"]))
    if head == "tradeable":
        return done, (done["outcome"] != "CHOP").to_numpy().astype(int)
    if head == "direction":
        return tradeable, (tradeable["outcome"] == "BREAK").to_numpy().astype(int)
    if head == "strength":
        second = [c for c in gold.columns if c.startswith("outcome_")]
        col = sorted(second, key=lambda c: float(c.split("_")[1]))[1]
        return tradeable, (tradeable[col] == tradeable["outcome"]).to_numpy().astype(int)
    if head == "fast":
        return tradeable, (tradeable["time_to_threshold_s"].fill_null(np.inf) <= FAST_S).to_numpy().astype(
            int
        )
    raise ValueError(f"unknown head {head!r}; known: {HEADS}")


def design_matrix(gold: pl.DataFrame) -> np.ndarray:
    """float32 matrix of MODEL_FEATURES (rows = touches; null -> NaN, which XGBoost handles)."""
    df = gold.with_columns(
        is_support=(pl.col("direction") == "SUPPORT").cast(pl.Float64),
        prior_touches=pl.col("prior_touches").cast(pl.Float64),
    )
    return df.select(MODEL_FEATURES).to_numpy().astype(np.float32)


def baseline_matrix(gold: pl.DataFrame) -> np.ndarray:
    """The logistic baseline's inputs: prior-touch count and |distance to the level| (points)."""
    df = gold.with_columns(
        prior_touches=pl.col("prior_touches").cast(pl.Float64),
        abs_distance_pt=pl.col("distance_pt").abs().fill_null(0.0),
    )
    return df.select(BASELINE_FEATURES).to_numpy().astype(np.float64)


def _model(cfg: ModelConfig) -> xgb.XGBClassifier:
    return xgb.XGBClassifier(
        n_estimators=cfg.n_estimators,
        max_depth=cfg.max_depth,
        learning_rate=cfg.learning_rate,
        subsample=0.9,
        random_state=cfg.seed,
        n_jobs=2,
        eval_metric="logloss",
    )


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    if len(y) == 0:
        return {"auc": None, "brier": None, "log_loss": None}
    pc = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "auc": float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None,
        "brier": float(brier_score_loss(y, pc)),
        "log_loss": float(log_loss(y, pc, labels=[0, 1])),
    }


@dataclass
class HeadResult:
    """Pooled held-out predictions of one head and its baselines, their metrics, the final model
    (fit on every labelled date), its calibrator and per-feature importance (gain)."""

    head: str
    n_rows: int
    test_dates: list[str]
    y_true: np.ndarray
    p_model: np.ndarray
    p_base_rate: np.ndarray
    p_logistic: np.ndarray
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    final_model: xgb.XGBClassifier | None = None
    calibrator: IsotonicRegression | None = None
    importance: dict[str, float] = field(default_factory=dict)

    def beats_baselines(self) -> bool:
        """True when the model's held-out AUC exceeds both baselines' (and exists)."""
        m = self.metrics
        auc = m.get("model", {}).get("auc")
        others = [m.get(k, {}).get("auc") for k in ("base_rate", "logistic")]
        return auc is not None and all(o is None or auc > o for o in others)


def walk_forward(gold: pl.DataFrame, head: str, cfg: ModelConfig) -> HeadResult:
    """Train and judge `head` walk-forward by date (see module docstring)."""
    rows, y_all = head_target(gold, head)
    rows = rows.with_columns(_y=pl.Series(y_all)).sort("ts_ns")
    dates = sorted(rows["date"].unique().to_list())
    ys, pm, pb, pl_, tds = [], [], [], [], []
    oof_y: list[np.ndarray] = []
    oof_p: list[np.ndarray] = []
    for i, d in enumerate(dates):
        train_dates = dates[: max(0, i - cfg.purge_dates)]
        if len(train_dates) < cfg.min_train_dates:
            continue
        tr = rows.filter(pl.col("date").is_in(train_dates))
        te = rows.filter(pl.col("date") == d)
        y_tr = tr["_y"].to_numpy()
        if len(np.unique(y_tr)) < 2 or te.is_empty():
            continue
        raw = _model(cfg).fit(design_matrix(tr), y_tr).predict_proba(design_matrix(te))[:, 1]
        cal = _calibrator(oof_y, oof_p)
        oof_y.append(te["_y"].to_numpy())
        oof_p.append(raw)
        p_model = cal.predict(raw) if cal is not None else raw
        prior = (y_tr.sum() + 1) / (len(y_tr) + 2)
        rates = tr.group_by("level_kind").agg((pl.col("_y").sum() + 1).alias("b"), (pl.len() + 2).alias("n"))
        rate_map = {k: b / n for k, b, n in rates.iter_rows()}
        logit = LogisticRegression().fit(baseline_matrix(tr), y_tr)
        ys.append(te["_y"].to_numpy())
        pm.append(p_model)
        pb.append(np.array([rate_map.get(k, prior) for k in te["level_kind"]]))
        pl_.append(logit.predict_proba(baseline_matrix(te))[:, 1])
        tds.append(d)
    cat = lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt)  # noqa: E731
    y, p_m, p_b, p_l = cat(ys, int), cat(pm, float), cat(pb, float), cat(pl_, float)
    res = HeadResult(head, rows.height, tds, y, p_m, p_b, p_l)
    res.metrics = {"model": _metrics(y, p_m), "base_rate": _metrics(y, p_b), "logistic": _metrics(y, p_l)}
    if len(np.unique(y_all)) == 2:
        res.final_model = _model(cfg).fit(design_matrix(rows), rows["_y"].to_numpy())
        res.calibrator = _calibrator(oof_y, oof_p)
        gain = res.final_model.get_booster().get_score(importance_type="gain")
        res.importance = {MODEL_FEATURES[int(k[1:])]: float(v) for k, v in gain.items()}
    return res


def _calibrator(oof_y: list[np.ndarray], oof_p: list[np.ndarray]) -> IsotonicRegression | None:
    if not oof_y:
        return None
    y, p = np.concatenate(oof_y), np.concatenate(oof_p)
    if len(y) < MIN_CALIBRATION or len(np.unique(y)) < 2:
        return None
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)


def reliability_curve(
    y: np.ndarray, p: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean predicted, observed rate, count) per equal-width probability bin (empty bins dropped)."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    mp, obs, n = [], [], []
    for b in range(bins):
        sel = idx == b
        if sel.any():
            mp.append(float(p[sel].mean()))
            obs.append(float(y[sel].mean()))
            n.append(int(sel.sum()))
    return np.array(mp), np.array(obs), np.array(n)
