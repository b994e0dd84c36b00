"""Break/bounce heads with XGBoost, judged walk-forward by date against two honest baselines.

Heads (binary, on touches whose look-forward window is complete):
  tradeable  any threshold (the first of `labels.thresholds_pt`) hit either way: outcome != CHOP
  direction  BREAK vs BOUNCE, among tradeable touches
  strength   the second threshold (25 pt by default) reached in the outcome's direction, among tradeable
  fast       the first threshold reached within FAST_S seconds, among tradeable
Walk-forward: each test date is predicted by models trained only on earlier dates, minus
`purge_dates` dates before it (dates are tested in blocks of consecutive dates when there are
more than `max_refits` of them: the block is trained on the dates before its first) (labels look 8 minutes ahead, so a purge of 0 dates is leak-free;
a positive purge guards against multi-day effects). A step is judged only when its training dates
hold at least `min_train_rows` rows of the head with both classes. Calibration: isotonic regression fit on the
pooled held-out predictions of earlier test dates only (identity until 20 of them with both
classes exist). Baselines on the same training dates: the level kind's rate (Laplace-smoothed)
and a logistic regression on prior-touch count and |distance|. Metrics: AUC (scikit-learn
`roc_auc_score`), Brier score, log-loss, on the pooled held-out predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import xgboost as xgb
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from spymaster_core import schemas as S
from spymaster_core.config import ModelConfig
from spymaster_core.engines.feature_row import model_matrix

BASELINE_FEATURES = ["prior_touches", "abs_distance_pt"]
HEADS = ("tradeable", "direction", "strength", "fast")
FAST_S = 120.0
MIN_CALIBRATION = 20
CLIP = 1e-6  # probabilities are clipped to [CLIP, 1 - CLIP] for Brier and log-loss


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
        per_threshold = sorted((c for c in gold.columns if c.startswith("outcome_")), key=S.outcome_threshold)
        if len(per_threshold) < 2:  # one configured threshold: no second one to reach
            return tradeable.clear(), np.zeros(0, dtype=int)
        col = per_threshold[1]
        return tradeable, (tradeable[col] == tradeable["outcome"]).to_numpy().astype(int)
    if head == "fast":
        return tradeable, (tradeable["time_to_threshold_s"].fill_null(np.inf) <= FAST_S).to_numpy().astype(
            int
        )
    raise ValueError(f"unknown head {head!r}; known: {HEADS}")


def design_matrix(gold: pl.DataFrame) -> np.ndarray:
    """float32 matrix of the model's inputs (rows = touches; null -> NaN, which XGBoost handles):
    `feature_row.model_matrix`, the same function the live scorer calls."""
    return model_matrix(gold)[0]


def baseline_matrix(gold: pl.DataFrame) -> np.ndarray:
    """The logistic baseline's inputs: prior-touch count and |distance to the level| (points)."""
    df = gold.with_columns(
        prior_touches=pl.col("prior_touches").cast(pl.Float64),
        abs_distance_pt=pl.col("distance_pt").abs().fill_null(0.0),
    )
    return df.select(BASELINE_FEATURES).to_numpy().astype(np.float64)


def trainable(y_train: np.ndarray, cfg: ModelConfig) -> bool:
    """Whether a walk-forward step may fit a model on these 0/1 training labels: both classes
    present and at least `cfg.min_train_rows` rows. Shared by the heads, the sequence baseline and
    the backtest's model policy."""
    return len(y_train) >= cfg.min_train_rows and len(np.unique(y_train)) == 2


def new_model(cfg: ModelConfig) -> xgb.XGBClassifier:
    """An untrained head model with the configured trees, depth, learning rate and seed."""
    return xgb.XGBClassifier(
        n_estimators=cfg.n_estimators,
        max_depth=cfg.max_depth,
        learning_rate=cfg.learning_rate,
        subsample=0.9,
        random_state=cfg.seed,
        # One thread: the heads fit hundreds to a few thousand rows, where XGBoost's thread pool
        # costs more than it gives (the bar tier's 4 heads x 53 walk-forward fits: 14.8 s with
        # two threads, 9.1 s with one, same predictions).
        n_jobs=1,
        eval_metric="logloss",
    )


def metrics_of(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """AUC, Brier and log-loss of probabilities p for 0/1 outcomes y (None when undefined);
    probabilities clipped to [CLIP, 1 - CLIP] for Brier and log-loss."""
    if len(y) == 0:
        return {"auc": None, "brier": None, "log_loss": None}
    pc = np.clip(p, CLIP, 1 - CLIP)
    return {
        "auc": float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None,
        "brier": float(brier_score_loss(y, pc)),
        "log_loss": float(log_loss(y, pc, labels=[0, 1])),
    }


@dataclass
class HeldOutBlock:
    """One walk-forward step's model and the inputs of its held-out rows, which are rows
    [start, stop) of the pooled arrays of its `HeadResult` (kept for `ml.diagnostics`)."""

    model: xgb.XGBClassifier
    x_test: np.ndarray
    start: int
    stop: int


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
    touch_ids: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    final_model: xgb.XGBClassifier | None = None
    calibrator: IsotonicRegression | None = None
    importance: dict[str, float] = field(default_factory=dict)
    p_raw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    blocks: list[HeldOutBlock] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)

    def beats_baselines(self, cfg: ModelConfig) -> bool:
        """The promotion gate on these held-out predictions: see `gate`."""
        return gate(
            self.y_true, self.p_model, {"base_rate": self.p_base_rate, "logistic": self.p_logistic}, cfg
        )["passed"]


def auc_lift_lower_bound(
    y: np.ndarray, p_model: np.ndarray, p_base: np.ndarray, n_boot: int, alpha: float, seed: int = 0
) -> float | None:
    """One-sided (1 - alpha) lower bound of AUC(model) - AUC(baseline) by the paired bootstrap
    over held-out touches (Efron & Tibshirani 1993, percentile method): both predictors are
    scored on the same resampled touches. None when y has one class. Resamples with one class
    are skipped."""
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return None
    n = len(y)
    rng = np.random.default_rng(seed)
    diffs = []
    for b in boot_chunks(n_boot, n):
        w = row_counts(rng.integers(0, n, (b, n)), n)
        diffs.append(auc_weighted(y, p_model, w) - auc_weighted(y, p_base, w))
    d = np.concatenate(diffs)
    d = d[np.isfinite(d)]
    return float(np.quantile(d, alpha)) if len(d) else None


BOOT_CELLS = 2_000_000  # resamples x rows held in memory at once by the bootstraps


def boot_chunks(n_boot: int, n_rows: int) -> list[int]:
    """Resample batch sizes summing to n_boot with at most BOOT_CELLS weights per batch."""
    per = max(1, BOOT_CELLS // max(n_rows, 1))
    return [min(per, n_boot - i) for i in range(0, n_boot, per)]


def row_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(B, n) multiplicities of each row in each resample from (B, k) drawn row indices."""
    b = idx.shape[0]
    flat = (idx + np.arange(b)[:, None] * n).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def auc_weighted(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """AUC of scores p for 0/1 labels y under each row of weights w (B, n): a bootstrap resample given
    as row multiplicities. The Mann-Whitney statistic with ties counted one half (as average ranks,
    and scikit-learn's roc_auc_score, give), from one sort of p: per resample, each positive's weight
    times the negative weight below its score plus half the negative weight tied with it, over
    W_pos * W_neg. O(B n) after the sort; NaN for a resample with one class."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(np.asarray(p, dtype=np.float64), kind="stable")
    ps, ys, ws = np.asarray(p, dtype=np.float64)[order], y[order], w[:, order]
    new = np.r_[True, ps[1:] != ps[:-1]]
    gid = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(ps)]
    neg = ws * ~ys
    cneg = np.concatenate([np.zeros((len(ws), 1)), np.cumsum(neg, axis=1)], axis=1)
    below = cneg[:, starts[gid]]
    same = cneg[:, ends[gid]] - below
    pos = ws * ys
    wp, wn = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * same)).sum(axis=1) / (wp * wn)


def gate(
    y: np.ndarray, p_model: np.ndarray, baselines: dict[str, np.ndarray], cfg: ModelConfig
) -> dict[str, object]:
    """The promotion gate: passes when, for every baseline, the model's held-out AUC is higher
    and the bootstrap lower bound of the difference (`auc_lift_lower_bound`, cfg.gate_bootstrap
    resamples, one-sided cfg.gate_alpha) is above zero. A model that wins by noise does not pass.
    Returns {"passed", "auc_<name>" for model and baselines, "lift_lb_<baseline>"}."""
    y = np.asarray(y)
    out: dict[str, object] = {}
    two = len(np.unique(y)) == 2
    out["auc_model"] = float(roc_auc_score(y, p_model)) if two else None
    passed = two
    for name, p in baselines.items():
        out[f"auc_{name}"] = float(roc_auc_score(y, p)) if two else None
        lb = auc_lift_lower_bound(y, p_model, p, cfg.gate_bootstrap, cfg.gate_alpha) if two else None
        out[f"lift_lb_{name}"] = lb
        passed = passed and lb is not None and lb > 0 and out["auc_model"] > out[f"auc_{name}"]
    out["passed"] = bool(passed)
    return out


def walk_forward_blocks(dates: list[str], cfg: ModelConfig) -> list[tuple[list[str], list[str]]]:
    """(training dates, test dates) of each walk-forward step over sorted `dates`: test blocks of
    ceil(len(dates) / max_refits) consecutive dates (one date each up to max_refits dates), each
    trained on the dates before the block less `purge_dates`; blocks with fewer than
    `min_train_dates` training dates are left out."""
    block = -(-len(dates) // cfg.max_refits) if dates else 1  # ceil: at most max_refits refits
    out = []
    for i in range(0, len(dates), block):
        train = dates[: max(0, i - cfg.purge_dates)]
        if len(train) >= cfg.min_train_dates:
            out.append((train, dates[i : i + block]))
    return out


def walk_forward(
    gold: pl.DataFrame,
    head: str,
    cfg: ModelConfig,
    features: Callable[[pl.DataFrame], tuple[np.ndarray, list[str]]] = model_matrix,
) -> HeadResult:
    """Train and judge `head` walk-forward by date (see module docstring). `features` makes the
    model's (matrix, column names) from rows: the engine features by default (`model_matrix`); the
    bar tier passes its own (`ml.bar_models`)."""
    rows, y_all = head_target(gold, head)
    rows = rows.with_columns(_y=pl.Series(y_all)).sort("ts_ns")
    dates = sorted(rows["date"].unique().to_list())
    ys, pm, pb, pl_, tds = [], [], [], [], []
    ids: list[str] = []
    row_dates: list[str] = []
    oof_y: list[np.ndarray] = []
    oof_p: list[np.ndarray] = []
    blocks: list[HeldOutBlock] = []
    names: list[str] = []
    n_done = 0
    for train_dates, test_dates in walk_forward_blocks(dates, cfg):
        tr = rows.filter(pl.col("date").is_in(train_dates))
        te = rows.filter(pl.col("date").is_in(test_dates))
        y_tr = tr["_y"].to_numpy()
        if not trainable(y_tr, cfg) or te.is_empty():
            continue
        # float64: metrics and the SQL re-scoring in gold_model_eval then agree to rounding.
        x_te, names = features(te)
        model = new_model(cfg).fit(features(tr)[0], y_tr)
        raw = model.predict_proba(x_te)[:, 1].astype(np.float64)
        blocks.append(HeldOutBlock(model, x_te, n_done, n_done + te.height))
        n_done += te.height
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
        present = set(te["date"].to_list())
        tds.extend(d for d in test_dates if d in present)
        ids.extend(te["touch_id"].to_list())
        row_dates.extend(te["date"].to_list())
    cat = lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt)  # noqa: E731
    y, p_m, p_b, p_l = cat(ys, int), cat(pm, float), cat(pb, float), cat(pl_, float)
    res = HeadResult(head, rows.height, tds, y, p_m, p_b, p_l, ids, row_dates)
    res.p_raw, res.blocks, res.feature_names = cat(oof_p, float), blocks, names
    res.metrics = {
        "model": metrics_of(y, p_m),
        "base_rate": metrics_of(y, p_b),
        "logistic": metrics_of(y, p_l),
    }
    if len(np.unique(y_all)) == 2:
        x, names = features(rows)
        res.final_model = new_model(cfg).fit(x, rows["_y"].to_numpy())
        res.calibrator = _calibrator(oof_y, oof_p)
        gain = res.final_model.get_booster().get_score(importance_type="gain")
        res.importance = {names[int(k[1:])]: float(v) for k, v in gain.items()}
    return res


PREDICTORS = ("model", "base_rate", "logistic")


def predictions_frame(results: dict[str, HeadResult], run_id: str) -> pl.DataFrame:
    """Every pooled held-out prediction in long form, one row per (head, predictor, touch):
    columns run_id, head, predictor (model | base_rate | logistic), touch_id, date, y_true (0/1),
    p (probability of the positive class). The dbt mart `gold_model_eval` scores these."""
    parts = []
    for h, r in results.items():
        for who, p in zip(PREDICTORS, (r.p_model, r.p_base_rate, r.p_logistic), strict=True):
            parts.append(
                pl.DataFrame(
                    {
                        "touch_id": pl.Series(r.touch_ids, dtype=pl.String),
                        "date": pl.Series(r.dates, dtype=pl.String),
                        "y_true": pl.Series(r.y_true, dtype=pl.Int8),
                        "p": pl.Series(p, dtype=pl.Float64),
                    }
                ).with_columns(run_id=pl.lit(run_id), head=pl.lit(h), predictor=pl.lit(who))
            )
    schema = {
        "run_id": pl.String,
        "head": pl.String,
        "predictor": pl.String,
        "touch_id": pl.String,
        "date": pl.String,
        "y_true": pl.Int8,
        "p": pl.Float64,
    }
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).select(list(schema))


def gate_predictions(predictions: pl.DataFrame, head: str, cfg: ModelConfig) -> dict[str, object]:
    """`gate` on the rows of `head` in a predictions_frame (the file model_predictions writes).
    With no held-out rows of `head` (too few dates, or no date with both classes) the gate fails,
    saying why, rather than raising."""
    rows = predictions.filter(pl.col("head") == head)
    if rows.is_empty() or "model" not in set(rows["predictor"].to_list()):
        return {"passed": False, "n_test": 0, "reason": f"no held-out {head} predictions to judge"}
    wide = rows.pivot(on="predictor", index=["touch_id", "y_true"], values="p").sort("touch_id")
    y = wide["y_true"].to_numpy()
    return gate(y, wide["model"].to_numpy(), {b: wide[b].to_numpy() for b in PREDICTORS[1:]}, cfg)


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
