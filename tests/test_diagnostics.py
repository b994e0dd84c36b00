"""The head checks of issue 20 (parts 4-5): same-date AUC, the within-date label permutation, and
grouped permutation importance, on data whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from ml import diagnostics
from ml.heads import HeadResult, HeldOutBlock
from spymaster_core.engines.feature_row import FEATURE_GROUPS, feature_group, model_columns


def _dates(n_dates: int, per: int) -> list[str]:
    return [f"2026-10-{d + 1:02d}" for d in range(n_dates) for _ in range(per)]


def test_a_between_date_shift_is_told_apart_from_skill() -> None:
    rng = np.random.default_rng(3)
    n_dates, per = 30, 40
    dates = _dates(n_dates, per)
    rate = np.repeat(rng.uniform(0.1, 0.9, n_dates), per)  # each date's base rate
    y = (rng.random(len(rate)) < rate).astype(int)
    shift_only = rate + 0.01 * rng.standard_normal(len(rate))  # knows the date, not the touch
    # Pooled, a score that only knows each date's base rate looks skilful ...
    assert roc_auc_score(y, shift_only) > 0.65
    # ... but ranks touches of one date no better than chance,
    assert diagnostics.stratified_auc(y, shift_only, dates) == pytest.approx(0.5, abs=0.05)
    # and shuffling labels within dates (base rates kept) gives the same pooled AUC.
    perm = diagnostics.within_date_permutation(y, shift_only, dates, n_perm=100)
    assert abs(perm["z"]) < 2.5 and perm["null_mean"] > 0.65

    skill = y + 0.8 * rng.standard_normal(len(y))  # ranks touches within every date
    perm = diagnostics.within_date_permutation(y, skill, dates, n_perm=100)
    assert perm["z"] > 5 and perm["p_high"] < 0.02 and perm["p_low"] > 0.98
    assert diagnostics.stratified_auc(y, skill, dates) > 0.7
    # An anti-predictive score is flagged from the other side.
    perm = diagnostics.within_date_permutation(y, -skill, dates, n_perm=100)
    assert perm["z"] < -5 and perm["p_low"] < 0.02


def test_per_date_auc_and_spread() -> None:
    y = np.array([0, 1, 0, 1, 1, 1])
    p = np.array([0.1, 0.9, 0.8, 0.2, 0.5, 0.6])
    dates = ["d1", "d1", "d2", "d2", "d3", "d3"]
    per = diagnostics.per_date_auc(y, p, dates)
    assert per["auc"].to_list() == [1.0, 0.0, None]  # d3 has one class
    spread = diagnostics.auc_spread(per)
    assert spread["n_dates"] == 2 and spread["min"] == 0.0 and spread["max"] == 1.0


def test_feature_groups_cover_every_model_column() -> None:
    cols = model_columns((1.0, 5.0, 30.0))
    groups = {c: feature_group(c) for c in cols}
    assert set(groups.values()) == set(FEATURE_GROUPS)
    assert groups["barrier_delta_liq"] == "barrier" and groups["score_liquidity"] == "barrier"
    assert groups["ofi_best_norm_10s"] == "ofi" and groups["velocity_5s_pt_s"] == "kinematics"
    assert groups["fuel_call_wall"] == "fuel" and groups["break_score_smooth"] == "context"


def test_grouped_permutation_importance_finds_the_group_the_model_uses() -> None:
    rng = np.random.default_rng(0)
    names = model_columns((1.0, 5.0, 30.0))
    used = names.index("barrier_delta_liq")
    blocks, ys, ps = [], [], []
    start = 0
    for _ in range(3):  # three walk-forward blocks, each with its own model
        x_tr = rng.standard_normal((600, len(names))).astype(np.float32)
        y_tr = (x_tr[:, used] + 0.5 * rng.standard_normal(600) > 0).astype(int)
        model = xgb.XGBClassifier(n_estimators=40, max_depth=3, n_jobs=1).fit(x_tr, y_tr)
        x_te = rng.standard_normal((200, len(names))).astype(np.float32)
        ys.append((x_te[:, used] + 0.5 * rng.standard_normal(200) > 0).astype(int))
        ps.append(model.predict_proba(x_te)[:, 1])
        blocks.append(HeldOutBlock(model, x_te, start, start + 200))
        start += 200
    y, p = np.concatenate(ys), np.concatenate(ps)
    res = HeadResult("direction", len(y), [], y, p, p, p, p_raw=p, blocks=blocks, feature_names=names)
    imp = diagnostics.grouped_permutation_importance(res, n_repeats=3)
    assert set(imp) == set(FEATURE_GROUPS)
    assert imp["barrier"]["auc_drop"] > 0.25
    for g in FEATURE_GROUPS:
        if g != "barrier":
            assert abs(imp[g]["auc_drop"]) < 0.05, (g, imp[g])
    res.blocks = blocks[:2]
    with pytest.raises(ValueError, match="held-out blocks end at 400"):
        diagnostics.grouped_permutation_importance(res)
