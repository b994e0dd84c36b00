"""Direction head: P(BREAK) vs BOUNCE for a touch, XGBoost, walk-forward by date.

Every prediction for a date comes from a model trained only on earlier dates (minus `purge_dates`).
The baseline is the level kind's break rate on the same training dates (Laplace-smoothed).
AUC: scikit-learn `roc_auc_score`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from spymaster_core.config import ModelConfig
from spymaster_core.features import FEATURE_COLUMNS

MODEL_FEATURES = [*FEATURE_COLUMNS, "prior_touches", "is_support"]


@dataclass
class WalkForwardResult:
    """Pooled held-out predictions and metrics; `final_model` is fit on every labelled date."""

    n_touches: int
    n_labelled: int
    test_dates: list[str]
    y_true: np.ndarray
    p_model: np.ndarray
    p_base_rate: np.ndarray
    auc_model: float | None
    auc_base_rate: float | None
    final_model: xgb.XGBClassifier | None
    per_kind: dict[str, dict[str, float]] = field(default_factory=dict)


def design_matrix(gold: pl.DataFrame) -> np.ndarray:
    """float32 matrix of MODEL_FEATURES (rows = touches)."""
    df = gold.with_columns(
        is_support=(pl.col("direction") == "SUPPORT").cast(pl.Float64),
        prior_touches=pl.col("prior_touches").cast(pl.Float64),
    )
    return df.select(MODEL_FEATURES).to_numpy().astype(np.float32)


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


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None


def walk_forward_direction(gold: pl.DataFrame, cfg: ModelConfig) -> WalkForwardResult:
    """Train/evaluate the direction head walk-forward by date on touches with BREAK/BOUNCE labels."""
    lab = gold.filter(pl.col("outcome").is_in(["BREAK", "BOUNCE"])).sort("ts_ns")
    dates = sorted(lab["date"].unique().to_list())
    ys, pm, pb, tds = [], [], [], []
    for i, d in enumerate(dates):
        train_dates = dates[: max(0, i - cfg.purge_dates)]
        if len(train_dates) < cfg.min_train_dates:
            continue
        tr = lab.filter(pl.col("date").is_in(train_dates))
        te = lab.filter(pl.col("date") == d)
        y_tr = (tr["outcome"] == "BREAK").to_numpy().astype(int)
        if len(np.unique(y_tr)) < 2:
            continue
        m = _model(cfg).fit(design_matrix(tr), y_tr)
        rates = tr.group_by("level_kind").agg(
            ((pl.col("outcome") == "BREAK").sum() + 1).alias("b"), (pl.len() + 2).alias("n")
        )
        prior = (y_tr.sum() + 1) / (len(y_tr) + 2)
        rate_map = {k: b / n for k, b, n in rates.iter_rows()}
        ys.append((te["outcome"] == "BREAK").to_numpy().astype(int))
        pm.append(m.predict_proba(design_matrix(te))[:, 1])
        pb.append(np.array([rate_map.get(k, prior) for k in te["level_kind"]]))
        tds.append(d)
    y = np.concatenate(ys) if ys else np.zeros(0, int)
    p_m = np.concatenate(pm) if pm else np.zeros(0)
    p_b = np.concatenate(pb) if pb else np.zeros(0)
    final = None
    y_all = (lab["outcome"] == "BREAK").to_numpy().astype(int)
    if len(np.unique(y_all)) == 2:
        final = _model(cfg).fit(design_matrix(lab), y_all)
    return WalkForwardResult(
        n_touches=gold.height,
        n_labelled=lab.height,
        test_dates=tds,
        y_true=y,
        p_model=p_m,
        p_base_rate=p_b,
        auc_model=_auc(y, p_m),
        auc_base_rate=_auc(y, p_b),
        final_model=final,
    )
