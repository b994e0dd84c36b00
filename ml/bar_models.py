"""The heads on the bar tier (issue 19, item 4): can anything predict how a touch resolves, on real
history? Same heads, walk-forward, baselines and promotion gate as the tick tier (`ml.heads`), with the
bar features (`research.bar_features.NUMERIC`) as the model's inputs. AMBIGUOUS touches (both
thresholds inside one bar) are excluded. Intervals: the 95% percentile bootstrap over held-out
*dates* (touches of one session are not independent), 1,000 resamples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ml import heads, registry
from spymaster_core.config import Config
from spymaster_core.io import lake
from spymaster_core.research import bar_features, bar_labels, bar_study, bar_touches

N_BOOT = 1000


feature_matrix = bar_features.model_matrix
"""(float32 matrix, names) of the bar model's inputs (`bar_features.model_matrix`, as live scores)."""


def bar_gold(by_date: dict[str, pl.DataFrame], cfg: Config, keep_ambiguous: bool = False) -> pl.DataFrame:
    """One row per touch of the complete sessions in `by_date` ({date: 1-minute bars}): touch columns,
    point-threshold labels and the bar features; incomplete look-forwards dropped, and AMBIGUOUS
    touches unless `keep_ambiguous` (a backtest trades them: which came first is unknown at the touch)."""
    parts = []
    dates = sorted(by_date)
    for date in dates:
        b = by_date[date]
        if bar_study.session_complete(b, date, cfg) is not None:
            continue
        lv, _ = bar_study.date_levels(by_date, date, cfg)
        tc = bar_touches.detect_bar_touches(b, lv, date, cfg)
        if tc.is_empty():
            continue
        lb = bar_labels.label_bar_touches(b, tc, cfg)
        prior = [by_date[d] for d in bar_features.prior_dates(date) if d in by_date]
        ft = bar_features.bar_touch_features(b, tc, lv, date, cfg, prior)
        parts.append(_gold_rows(tc, lb, ft, cfg))
    return _trainable(parts, keep_ambiguous)


def _gold_rows(
    touches: pl.DataFrame, labels: pl.DataFrame, features: pl.DataFrame, cfg: Config
) -> pl.DataFrame:
    """One date's gold rows: touch columns, point-threshold labels and the bar features, by touch_id."""
    pt_cols = bar_labels.threshold_columns(cfg, "points")
    lb = labels.select("touch_id", "outcome", *pt_cols, "time_to_threshold_s", "lookforward_complete")
    return (
        touches.select("touch_id", "date", "ts_ns", "level_id", "level_kind", "level_price", "direction")
        .join(lb, on="touch_id")
        .join(features.drop("date", "level_kind"), on="touch_id")
    )


def _trainable(parts: list[pl.DataFrame], keep_ambiguous: bool = False) -> pl.DataFrame:
    """The dates' gold rows together, cut look-forwards (and AMBIGUOUS touches unless kept) dropped."""
    if not parts:
        return pl.DataFrame()
    gold = pl.concat(parts).filter(pl.col("lookforward_complete"))
    return gold if keep_ambiguous else gold.filter(pl.col("outcome") != bar_labels.AMBIGUOUS)


def bar_gold_from_lake(
    root: lake.LakePath, cfg: Config, dates: list[str] | None = None, keep_ambiguous: bool = False
) -> pl.DataFrame:
    """`bar_gold` from the bar tier the Dagster assets wrote (touches, labels, features) for `dates`
    (default: every date with bar features), complete sessions only; equal to `bar_gold` on the same
    bars and config."""
    parts = []
    for date in dates if dates is not None else lake.written_dates(root, "bar_features"):
        b = lake.read_partition(root, "futures_ohlcv_1m", date)
        tc, lb, ft = (
            lake.read_partition(root, t, date) for t in ("bar_touches", "bar_labels", "bar_features")
        )
        if b is None or tc is None or lb is None or ft is None or tc.is_empty():
            continue
        if bar_study.session_complete(b, date, cfg) is not None:
            continue
        parts.append(_gold_rows(tc, lb, ft, cfg))
    return _trainable(parts, keep_ambiguous)


def auc_interval(y: np.ndarray, p: np.ndarray, dates: list[str], seed: int = 0) -> tuple[float, float] | None:
    """95% percentile bootstrap interval of the AUC, resampling held-out dates with replacement
    (Efron & Tibshirani 1993); None with one class or fewer than 2 dates. Each resample is the rows'
    multiplicities (their date's draw count), scored by `heads.auc_weighted`."""
    y, p, d = np.asarray(y), np.asarray(p), np.asarray(dates)
    uniq, date_of_row = np.unique(d, return_inverse=True)
    if len(np.unique(y)) < 2 or len(uniq) < 2:
        return None
    rng = np.random.default_rng(seed)
    aucs = []
    for b in heads.boot_chunks(N_BOOT, len(y)):
        draws = np.stack([rng.choice(len(uniq), len(uniq)) for _ in range(b)])
        w = heads.row_counts(draws, len(uniq))[:, date_of_row]
        aucs.append(heads.auc_weighted(y, p, w))
    a = np.concatenate(aucs)
    a = a[np.isfinite(a)]
    lo, hi = np.quantile(a, [0.025, 0.975])
    return float(lo), float(hi)


def study(gold: pl.DataFrame, cfg: Config) -> dict[str, dict[str, object]]:
    """Per head: n held-out, and per predictor (model, base_rate, logistic) AUC with its date-bootstrap
    interval and Brier; plus the promotion gate's verdict for the model (`heads.gate`)."""
    out: dict[str, dict[str, object]] = {}
    for head in heads.HEADS:
        r = heads.walk_forward(gold, head, cfg.model, feature_matrix)
        row: dict[str, object] = {"n_test": len(r.y_true), "test_dates": len(r.test_dates)}
        for who, p in (("model", r.p_model), ("base_rate", r.p_base_rate), ("logistic", r.p_logistic)):
            row[f"{who}_auc"] = r.metrics[who]["auc"]
            row[f"{who}_brier"] = r.metrics[who]["brier"]
            row[f"{who}_auc_ci"] = auc_interval(r.y_true, p, r.dates, cfg.model.seed)
        if len(r.y_true):
            g = heads.gate(
                r.y_true, r.p_model, {"base_rate": r.p_base_rate, "logistic": r.p_logistic}, cfg.model
            )
            row["gate_passed"] = g["passed"]
        row["final_model"] = r.final_model
        out[head] = row
    return out


def render(res: dict[str, dict[str, object]], title: str) -> list[str]:
    """Terminal lines: per head, held-out n, and AUC [95% interval] / Brier for the model and both
    baselines, and whether the model passed the promotion gate."""

    def cell(row: dict, who: str) -> str:
        auc, ci, brier = row.get(f"{who}_auc"), row.get(f"{who}_auc_ci"), row.get(f"{who}_brier")
        if auc is None:
            return f"{who} n/a"
        iv = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
        return f"{who} {auc:.3f}{iv} / {brier:.3f}"

    lines = [f"{title}: heads walk-forward by date, AUC [95% date-bootstrap interval] / Brier"]
    for head, row in res.items():
        gate = "passes the gate" if row.get("gate_passed") else "does not pass the gate"
        lines.append(
            f"  {head:<10} n_test={row['n_test']:>4}   "
            + "   ".join(cell(row, w) for w in ("model", "base_rate", "logistic"))
            + f"   ({gate})"
        )
    return lines


def log_study(
    data_dir: Path, res: dict[str, dict[str, object]], params: dict[str, object], promote: bool = False
) -> tuple[str, str | None, bool]:
    """Log the bar-tier study to MLflow (experiment `registry.BAR_EXPERIMENT`, beside the tick tier's
    runs): AUC, Brier and interval bounds per head and predictor, and the direction head's model fit
    on every row, registered as `registry.MODEL_NAME` with the run tag `resolution=1m` (the live
    service then scores from 1-minute bars, `spymaster_core.research.bar_stream`). With `promote`,
    the `champion` alias moves to it only when the direction head passed the promotion gate.
    Returns (run id, registered version or None, promoted)."""
    metrics: dict[str, float | None] = {}
    for head, row in res.items():
        metrics[f"{head}_n_test"] = float(row["n_test"])  # type: ignore[arg-type]
        for who in ("model", "base_rate", "logistic"):
            metrics[f"{head}_{who}_auc"] = row.get(f"{who}_auc")  # type: ignore[assignment]
            metrics[f"{head}_{who}_brier"] = row.get(f"{who}_brier")  # type: ignore[assignment]
            ci = row.get(f"{who}_auc_ci")
            if ci:
                metrics[f"{head}_{who}_auc_lo"], metrics[f"{head}_{who}_auc_hi"] = ci  # type: ignore[misc]
    direction = res.get("direction", {})
    model = direction.get("final_model")
    run_id, version = registry.log_run(
        data_dir,
        params,
        metrics,
        {"tier": "bars", "resolution": registry.BAR_RESOLUTION},
        model=model,
        register=model is not None,
        experiment=registry.BAR_EXPERIMENT,
    )
    promoted = bool(promote and version is not None and direction.get("gate_passed"))
    if promoted:
        registry.promote(data_dir, str(version))
    return run_id, version, promoted
