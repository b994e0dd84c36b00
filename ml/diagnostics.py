"""Checks that a head's held-out AUC means what it says (issue 20, parts 4-5).

- `per_date_auc` / `auc_spread`: the AUC of each held-out date on its own, and its spread.
- `stratified_auc`: the AUC over pairs (positive, negative) *of the same date* only. A pooled AUC
  far from it means the score ranks dates, not touches: a shift between dates (a base rate or a
  feature level that moves from date to date), not skill at the level.
- `within_date_permutation`: the pooled AUC's null distribution with the labels shuffled within
  each date (so every date keeps its base rate and the scores keep their between-date levels);
  p-values that the observed AUC is this low, or this high, by chance.
- `grouped_permutation_importance`: the drop in held-out AUC when all the columns of one physics
  group (`feature_row.FEATURE_GROUPS`) are permuted together across the held-out rows of each
  walk-forward step, re-scored by that step's own model (Breiman 2001, "Random Forests", §10;
  grouped as in Gregorutti, Michel & Saint-Pierre 2017, "Grouped variable importance with random
  forests"). Measured on the raw (uncalibrated) scores: isotonic calibration is monotone but ties
  scores, so it would blur small drops.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from ml.heads import HeadResult
from spymaster_core.engines.feature_row import FEATURE_GROUPS, feature_group

MIN_JUDGED_ROWS = 30
"""Held-out rows below which a head's AUC is shown as not judged: on fewer, one AUC's standard
error is 0.1 or more, and a figure far from 0.5 is as likely luck as skill (the demo's 13-touch
direction head scored 1.000 and its strength head 0.167 on one date)."""


def per_date_auc(y: np.ndarray, p: np.ndarray, dates: list[str]) -> pl.DataFrame:
    """One row per date: date, n (rows), n_pos (positives), auc (null when the date has one class).
    y: 0/1 labels, p: scores, dates: each row's date (all the same length)."""
    df = pl.DataFrame(
        {"date": dates, "y": np.asarray(y, dtype=np.int8), "p": np.asarray(p, dtype=np.float64)}
    )
    rows = []
    for (d,), g in df.group_by("date", maintain_order=True):
        yy, pp = g["y"].to_numpy(), g["p"].to_numpy()
        two = len(np.unique(yy)) == 2
        rows.append(
            {
                "date": d,
                "n": g.height,
                "n_pos": int(yy.sum()),
                "auc": float(roc_auc_score(yy, pp)) if two else None,
            }
        )
    return pl.DataFrame(
        rows, schema={"date": pl.String, "n": pl.Int64, "n_pos": pl.Int64, "auc": pl.Float64}
    ).sort("date")


def auc_spread(per_date: pl.DataFrame) -> dict[str, float | int | None]:
    """Spread of the per-date AUCs of `per_date_auc` over dates with both classes: n_dates, median,
    p10, p90, min, max (None when no date has both classes)."""
    a = per_date["auc"].drop_nulls().to_numpy()
    if not len(a):
        return {"n_dates": 0, "median": None, "p10": None, "p90": None, "min": None, "max": None}
    q = np.quantile(a, [0.5, 0.1, 0.9])
    return {"n_dates": len(a), "median": float(q[0]), "p10": float(q[1]), "p90": float(q[2]),
            "min": float(a.min()), "max": float(a.max())}  # fmt: skip


def stratified_auc(y: np.ndarray, p: np.ndarray, dates: list[str]) -> float | None:
    """P(score of a positive > score of a negative, ties one half) over pairs from the same date:
    the per-date Mann-Whitney counts summed over dates, over the summed pair counts. None when no
    date has both classes."""
    df = pl.DataFrame(
        {"date": dates, "y": np.asarray(y, dtype=np.int8), "p": np.asarray(p, dtype=np.float64)}
    )
    wins = pairs = 0.0
    for _, g in df.group_by("date"):
        yy, pp = g["y"].to_numpy(), g["p"].to_numpy()
        n_pos, n_neg = int(yy.sum()), int(len(yy) - yy.sum())
        if n_pos and n_neg:
            wins += roc_auc_score(yy, pp) * n_pos * n_neg
            pairs += n_pos * n_neg
    return wins / pairs if pairs else None


def within_date_permutation(
    y: np.ndarray, p: np.ndarray, dates: list[str], n_perm: int = 200, seed: int = 0
) -> dict[str, float | None]:
    """Pooled AUC against its null with labels shuffled within each date (`n_perm` shuffles):
    auc, null_mean, null_sd, p_low (share of shuffles with AUC <= the observed, +1 smoothed),
    p_high (share >= the observed), z ((auc - null_mean) / null_sd). All None with one class."""
    y = np.asarray(y, dtype=np.int8)
    p = np.asarray(p, dtype=np.float64)
    if len(np.unique(y)) < 2:
        return {"auc": None, "null_mean": None, "null_sd": None, "p_low": None, "p_high": None, "z": None}
    codes = pl.Series(dates).cast(pl.Categorical).to_physical().to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1], True])
    rng = np.random.default_rng(seed)
    obs = float(roc_auc_score(y, p))
    null = np.empty(n_perm)
    for i in range(n_perm):
        yy = y.copy()
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            idx = order[a:b]
            yy[idx] = y[idx][rng.permutation(b - a)]
        null[i] = roc_auc_score(yy, p) if len(np.unique(yy)) == 2 else np.nan
    null = null[np.isfinite(null)]
    sd = float(null.std(ddof=1)) if len(null) > 1 else None
    return {
        "auc": obs,
        "null_mean": float(null.mean()),
        "null_sd": sd,
        "p_low": float((1 + (null <= obs).sum()) / (1 + len(null))),
        "p_high": float((1 + (null >= obs).sum()) / (1 + len(null))),
        "z": (obs - float(null.mean())) / sd if sd else None,
    }


def grouped_permutation_importance(
    res: HeadResult, n_repeats: int = 5, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Per `FEATURE_GROUPS` group present in `res.feature_names`: {"auc_drop": mean drop of the
    pooled raw held-out AUC when the group's columns are permuted together (one row permutation per
    walk-forward block and repeat), "sd": its sd over repeats, "n_columns"}. {} when the head has no
    held-out blocks or one class. Raises ValueError when `res.blocks` do not tile `res.p_raw`."""
    y = res.y_true
    if not res.blocks or len(np.unique(y)) < 2:
        return {}
    if res.blocks[-1].stop != len(res.p_raw) or len(y) != len(res.p_raw):
        raise ValueError(
            f"{res.head}: held-out blocks end at {res.blocks[-1].stop}, predictions are {len(res.p_raw)}"
        )
    base = float(roc_auc_score(y, res.p_raw))
    groups = [feature_group(c) for c in res.feature_names]
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, float]] = {}
    for g in FEATURE_GROUPS:
        cols = [i for i, gg in enumerate(groups) if gg == g]
        if not cols:
            continue
        drops = []
        for _ in range(n_repeats):
            p = np.empty_like(res.p_raw)
            for b in res.blocks:
                x = b.x_test.copy()
                perm = rng.permutation(len(x))
                x[:, cols] = b.x_test[perm][:, cols]
                p[b.start : b.stop] = b.model.predict_proba(x)[:, 1]
            drops.append(base - float(roc_auc_score(y, p)))
        out[g] = {"auc_drop": float(np.mean(drops)), "sd": float(np.std(drops, ddof=1)) if n_repeats > 1 else 0.0,
                  "n_columns": float(len(cols))}  # fmt: skip
    return out


def checks(
    y: np.ndarray, p: np.ndarray, dates: list[str], n_perm: int = 200, seed: int = 0
) -> dict[str, float | int | None]:
    """The flat figures of the checks on held-out scores p of 0/1 labels y by date: n_test, auc
    (pooled), auc_stratified (same-date pairs), the per-date spread (`auc_date_*`), the within-date
    permutation (`perm_*`)."""
    spread = auc_spread(per_date_auc(y, p, dates))
    perm = within_date_permutation(y, p, dates, n_perm, seed)
    return {
        "n_test": len(y),
        "auc": perm["auc"],
        "auc_stratified": stratified_auc(y, p, dates),
        **{f"auc_date_{k}": v for k, v in spread.items()},
        **{f"perm_{k}": v for k, v in perm.items() if k != "auc"},
    }


def head_report(res: HeadResult, n_perm: int = 200, seed: int = 0) -> dict[str, float | int | None]:
    """`checks` of a head's pooled held-out (calibrated) predictions."""
    return checks(res.y_true, res.p_model, res.dates, n_perm, seed)
