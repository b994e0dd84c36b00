"""Heads, baselines, calibration, retrieval and MLflow promotion on a constructed Gold table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ml import heads, registry, retrieval
from spymaster_core.config import DEFAULT_CONFIG
from spymaster_core.engines.feature_row import feature_columns

# min_train_rows 1: the walk-forward mechanics below count steps from the second date on.
CFG = DEFAULT_CONFIG.model.model_copy(update={"n_estimators": 60, "min_train_rows": 1})
FEATURE_COLUMNS = feature_columns(DEFAULT_CONFIG.windows.kinematics_horizons_s)


def synthetic_gold(n_dates: int = 8, per_date: int = 60, seed: int = 3) -> pl.DataFrame:
    """Touches whose BREAK odds rise with liquidity pulled (negative delta_liq) and flow through
    the level, interacting (a signal a logistic on prior touches + distance cannot see)."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(n_dates):
        date = f"2026-01-{d + 5:02d}"
        for i in range(per_date):
            x = {c: float(rng.normal()) for c in FEATURE_COLUMNS}
            z = -1.5 * x["barrier_delta_liq"] + 1.5 * x["tape_imbalance_through"] * np.sign(x["ofi_best_10s"])
            p_break = 1 / (1 + np.exp(-z))
            tradeable = rng.random() < 0.8
            brk = rng.random() < p_break
            outcome = ("BREAK" if brk else "BOUNCE") if tradeable else "CHOP"
            rows.append(
                {
                    "touch_id": f"{date}:{i}",
                    "date": date,
                    "ts_ns": d * 10**14 + i,
                    "level_kind": ["PM_HIGH", "OR_LOW", "SMA_200"][i % 3],
                    "direction": "SUPPORT" if i % 2 else "RESISTANCE",
                    "prior_touches": int(rng.integers(0, 4)),
                    "outcome": outcome,
                    "outcome_10": outcome,
                    "outcome_25": outcome if rng.random() < 0.5 else "CHOP",
                    "outcome_75": "CHOP",
                    "time_to_threshold_s": float(rng.uniform(10, 400)) if tradeable else None,
                    "lookforward_complete": True,
                    **x,
                }
            )
    return pl.DataFrame(rows)


def test_direction_head_beats_both_baselines_walk_forward_with_calibration() -> None:
    gold = synthetic_gold()
    res = heads.walk_forward(gold, "direction", CFG)
    m = res.metrics
    assert len(res.test_dates) == 6 and len(res.y_true) > 200  # 2 training dates minimum, 6 held out
    assert (
        m["model"]["auc"] > m["logistic"]["auc"] + 0.05 and m["model"]["auc"] > m["base_rate"]["auc"] + 0.05
    )
    assert res.beats_baselines(CFG)
    assert m["model"]["brier"] < m["base_rate"]["brier"]
    assert res.calibrator is not None and 0.0 <= res.p_model.min() and res.p_model.max() <= 1.0
    assert res.importance and max(res.importance, key=res.importance.get) in {
        "barrier_delta_liq",
        "tape_imbalance_through",
        "ofi_best_10s",
    }
    mp, obs, n = heads.reliability_curve(res.y_true, res.p_model)
    assert n.sum() == len(res.y_true) and np.all((obs >= 0) & (obs <= 1))
    # Without signal (shuffled outcomes) the gate must not pass.
    noise = gold.with_columns(pl.col("outcome").shuffle(seed=1))
    lost = heads.walk_forward(noise, "direction", CFG)
    assert not lost.metrics["model"]["auc"] > 0.65
    assert not lost.beats_baselines(CFG)


def test_gate_needs_a_lift_beyond_noise() -> None:
    """The gate's bootstrap bound: a clear lift passes; a 'win' by noise does not, even when the
    model's point AUC is above both baselines'."""
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 400)
    base = rng.random(400)
    strong = y * 0.6 + rng.random(400)  # AUC ~0.85
    g = heads.gate(y, strong, {"base_rate": base, "logistic": rng.random(400)}, CFG)
    assert g["passed"] and g["lift_lb_base_rate"] > 0.15
    # Noise predictors: find a seed where the model's point AUC beats both baselines by chance.
    for seed in range(50):
        r = np.random.default_rng(seed)
        pm, pb, plg = r.random(400), r.random(400), r.random(400)
        g = heads.gate(y, pm, {"base_rate": pb, "logistic": plg}, CFG)
        if g["auc_model"] > max(g["auc_base_rate"], g["auc_logistic"]):
            break
    assert g["auc_model"] > max(g["auc_base_rate"], g["auc_logistic"])
    assert not g["passed"] and min(g["lift_lb_base_rate"], g["lift_lb_logistic"]) < 0


def test_every_head_is_defined_and_purge_drops_training_dates() -> None:
    gold = synthetic_gold(n_dates=5, per_date=40)
    for h in heads.HEADS:
        rows, y = heads.head_target(gold, h)
        assert len(rows) == len(y) and set(np.unique(y)) <= {0, 1}
    purged = heads.walk_forward(gold, "direction", CFG.model_copy(update={"purge_dates": 1}))
    plain = heads.walk_forward(gold, "direction", CFG)
    assert purged.test_dates == plain.test_dates[1:]  # one more date needed before the first test
    with pytest.raises(ValueError, match="unknown head"):
        heads.head_target(gold, "nope")


def test_walk_forward_refits_at_most_max_refits_times_in_blocks_of_earlier_dates(monkeypatch) -> None:
    """With more dates than `max_refits`, dates are tested in blocks of consecutive dates, each block
    by one model trained only on the dates before it; with max_refits >= dates, one date per block."""
    gold = synthetic_gold(n_dates=12, per_date=30)
    fits: list[int] = []
    real = heads.new_model

    class Spy:
        def __init__(self, cfg) -> None:  # noqa: ANN001
            self.m = real(cfg)

        def fit(self, x, y):  # noqa: ANN001, ANN201
            fits.append(len(y))
            self.m.fit(x, y)
            return self.m

    monkeypatch.setattr(heads, "new_model", Spy)
    plain = heads.walk_forward(gold, "direction", CFG)
    per_date_fits = len(fits)
    fits.clear()
    blocks = heads.walk_forward(gold, "direction", CFG.model_copy(update={"max_refits": 4}))
    assert per_date_fits == 10 + 1  # dates 3..12 after the 2 training dates, plus the final model
    assert len(fits) == 4 + 1 - 1  # blocks of 3 dates: the first block has no training dates
    assert blocks.test_dates == plain.test_dates[1:]  # dates 4..12: the first block is training only
    # Each block trains on the dates before its first date only: 3, 6, 9 dates' tradeable touches.
    n_by_date = heads.head_target(gold, "direction")[0].group_by("date").len().sort("date")["len"].to_list()
    assert fits[:3] == [sum(n_by_date[:3]), sum(n_by_date[:6]), sum(n_by_date[:9])]
    assert len(blocks.y_true) == sum(n_by_date[3:])


def test_a_step_with_too_few_training_rows_is_not_judged() -> None:
    """`min_train_rows`: a walk-forward step is judged only once its training dates hold that many
    rows of the head; the direction head (break/bounce rows only) starts later than tradeable."""
    gold = synthetic_gold(n_dates=8, per_date=30)
    n_dir = heads.head_target(gold, "direction")[0].group_by("date").len().sort("date")["len"].to_list()
    need = sum(n_dir[:5])  # the first five dates' direction rows
    cfg = CFG.model_copy(update={"min_train_rows": need})
    dates = sorted(gold["date"].unique().to_list())
    assert heads.walk_forward(gold, "direction", cfg).test_dates == dates[5:]
    assert heads.walk_forward(gold, "direction", CFG).test_dates == dates[2:]  # min_train_dates 2
    # The rule counts the head's own rows: the tradeable head (every touch) gets there sooner.
    n_all = heads.head_target(gold, "tradeable")[0].group_by("date").len().sort("date")["len"].to_list()
    first = next(i for i in range(len(dates)) if sum(n_all[:i]) >= need)
    assert first < 5 and heads.walk_forward(gold, "tradeable", cfg).test_dates == dates[max(first, 2) :]
    assert not heads.trainable(np.ones(need), cfg) and heads.trainable(np.r_[np.ones(need - 1), 0], cfg)


def test_weighted_auc_equals_scikit_learn_on_the_expanded_resample() -> None:
    """A bootstrap resample given as row multiplicities scores the same AUC as scikit-learn on the
    resample written out row by row, ties included (scores rounded to force them)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(5)
    y = (rng.random(400) < 0.3).astype(int)
    p = np.round(rng.random(400) + 0.3 * y, 1)  # about 14 distinct scores: many ties
    idx = rng.integers(0, 400, (25, 400))
    w = heads.row_counts(idx, 400)
    got = heads.auc_weighted(y, p, w)
    want = [roc_auc_score(y[i], p[i]) for i in idx]
    assert got == pytest.approx(want, abs=1e-12)
    assert np.isnan(heads.auc_weighted(y, p, (1.0 - y)[None, :]))[0]  # one class: NaN, not a number
    assert heads.boot_chunks(1000, 20_000) == [100] * 10 and sum(heads.boot_chunks(7, 3)) == 7


def test_faiss_neighbors_equal_brute_force() -> None:
    gold = synthetic_gold(n_dates=3, per_date=50)
    gold = gold.with_columns(
        pl.when(pl.col("ts_ns") % 7 == 0).then(None).otherwise(pl.col("fuel_hvl")).alias("fuel_hvl")
    )
    idx = retrieval.build_index(gold, FEATURE_COLUMNS)
    q = gold.slice(10, 5)
    got = idx.neighbors(q, k=7)
    xs, qs = idx.vectors(gold).astype(np.float64), idx.vectors(q).astype(np.float64)
    for row, qv in zip(got, qs, strict=True):
        d2 = ((xs - qv) ** 2).sum(axis=1)
        order = np.argsort(d2, kind="stable")[:7]
        assert [h["touch_id"] for h in row] == gold["touch_id"].gather(order).to_list()
        assert np.allclose([h["distance"] for h in row], d2[order], rtol=1e-4, atol=1e-4)
    assert got[0][0]["touch_id"] == q["touch_id"][0] and got[0][0]["distance"] == pytest.approx(0.0, abs=1e-5)
    assert {"outcome", "date", "level_kind"} <= set(got[0][0])


def test_mlflow_runs_compare_and_champion_loads_by_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    gold = synthetic_gold(n_dates=5, per_date=50)
    good = heads.walk_forward(gold, "direction", CFG)
    weak = heads.walk_forward(gold, "direction", CFG.model_copy(update={"n_estimators": 2, "max_depth": 1}))
    ids = []
    for name, r in (("good", good), ("weak", weak)):
        run_id, version = registry.log_run(
            tmp_path, {"variant": name}, {"direction_model_auc": r.metrics["model"]["auc"]}, {"config_hash": name},
            model=r.final_model, register=True,
        )  # fmt: skip
        ids.append((run_id, version))
    assert registry.champion_version(tmp_path) is None  # nothing promoted without the gate
    client = registry.client(tmp_path)
    runs = client.search_runs(
        [client.get_experiment_by_name(registry.EXPERIMENT).experiment_id],
        order_by=["metrics.direction_model_auc DESC"],
    )
    assert [r.info.run_id for r in runs] == [ids[0][0], ids[1][0]]
    assert runs[0].data.metrics["direction_model_auc"] > runs[1].data.metrics["direction_model_auc"]
    registry.promote(tmp_path, ids[0][1])
    assert registry.champion_version(tmp_path) == ids[0][1]
    champ = registry.load_champion(tmp_path)
    x = heads.design_matrix(gold.head(5))
    assert np.allclose(champ.predict_proba(x)[:, 1], good.final_model.predict_proba(x)[:, 1])
    import mlflow

    # Nothing set MLflow's process-global tracking URI: the store was reached through a client.
    assert not mlflow.is_tracking_uri_set()


def test_champion_touch_index_round_trips_through_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The touch index logged beside the model (`retrieval.save_index`) loads back from the champion
    run (`registry.load_champion_index`) and answers as the built one; a run without it gives None;
    a damaged index file set is refused naming the file."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    gold = synthetic_gold(n_dates=4, per_date=40).with_columns(
        pl.when(pl.col("outcome") == "CHOP")
        .then(None)
        .otherwise(pl.col("ts_ns") % 300 / 1.0)
        .alias("time_to_threshold_s")
    )
    r = heads.walk_forward(gold, "direction", CFG)
    built = retrieval.build_index(gold, FEATURE_COLUMNS)
    folder = tmp_path / "idx"
    folder.mkdir()
    arts = retrieval.save_index(built, folder)
    _, bare = registry.log_run(tmp_path, {}, {}, {}, model=r.final_model, register=True)
    registry.promote(tmp_path, bare)
    assert registry.load_champion_index(tmp_path) is None
    _, version = registry.log_run(tmp_path, {}, {}, {}, model=r.final_model, artifacts=arts, register=True)
    registry.promote(tmp_path, version)
    loaded = registry.load_champion_index(tmp_path)
    q = gold.slice(3, 4)
    assert loaded is not None and loaded.neighbors(q, 5) == built.neighbors(q, 5)
    assert "time_to_threshold_s" in loaded.neighbors(q, 1)[0][0]
    (folder / retrieval.INDEX_FILES[1]).unlink()
    with pytest.raises(FileNotFoundError, match="touch_index_touches.parquet: touch index file missing"):
        retrieval.load_index(folder)
