"""The promotion gate through Dagster: break_bounce_model + model_predictions, the blocking
`beats_baselines` check (its own step) and champion_model, on constructed Gold partitions."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from ml import heads, registry
from spymaster_core.io import lake
from tests.test_ml import synthetic_gold

SELECTION = ("break_bounce_model", "model_predictions", "champion_model")


def _write_gold(root: Path, gold: pl.DataFrame) -> None:
    for (date,), part in gold.partition_by("date", as_dict=True).items():
        lake.write_partition(root, "gold_training", str(date), part)


def _run(defs: dg.Definitions) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        instance=dg.DagsterInstance.ephemeral(),
        resources=defs.resources,
        selection=dg.AssetSelection.assets(*SELECTION),
        raise_on_error=False,
    )


def test_gate_promotes_a_winner_and_blocks_a_loser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "lake"
    monkeypatch.setenv("SPYMASTER_LAKE", str(root))
    monkeypatch.setenv("SPYMASTER_DATA", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from spymaster_assets.definitions import defs

    gold = synthetic_gold()
    _write_gold(root, gold)
    res = _run(defs)
    gate = [c for c in res.get_asset_check_evaluations() if c.check_name == "beats_baselines"]
    assert len(gate) == 1 and gate[0].passed
    promoted = registry.champion_version(tmp_path)
    assert promoted is not None
    model_md = {
        e.asset_key.path[-1]: e.materialization.metadata for e in res.get_asset_materialization_events()
    }
    assert str(model_md["champion_model"]["champion_version"].value) == promoted
    run_id = model_md["break_bounce_model"]["mlflow_run_id"].value
    preds = pl.read_parquet(root / "gold" / "evaluation" / "predictions" / f"{run_id}.parquet")
    assert set(preds["head"]) == set(heads.HEADS) and set(preds["predictor"]) == set(heads.PREDICTORS)
    # The live service loads that champion from MLflow by alias and scores payload rows (built as
    # the live core builds them) exactly as the training design matrix is scored.
    from spymaster_core.config import DEFAULT_CONFIG
    from spymaster_core.engines.feature_row import feature_columns

    FEATURE_COLUMNS = feature_columns(DEFAULT_CONFIG.windows.kinematics_horizons_s)
    from spymaster_live.service import load_scorer

    scorer = load_scorer(tmp_path)
    assert scorer is not None and scorer.version == promoted
    sample = gold.head(20)
    rows = [
        {
            **{c: r[c] for c in FEATURE_COLUMNS},
            "prior_touches": r["prior_touches"],
            "direction": r["direction"],
        }
        for r in sample.iter_rows(named=True)
    ]
    want = registry.load_champion(tmp_path).predict_proba(heads.design_matrix(sample))[:, 1]
    np.testing.assert_allclose(scorer.predict(rows), want, rtol=1e-6)

    # Outcomes shuffled within each date: no signal. The candidate is logged and its predictions
    # written (model_predictions is outside the gate), the check fails, champion stays where it was.
    noise = gold.with_columns(pl.col("outcome").shuffle(seed=5).over("date"))
    _write_gold(root, noise)
    res = _run(defs)
    gate = [c for c in res.get_asset_check_evaluations() if c.check_name == "beats_baselines"]
    assert len(gate) == 1 and not gate[0].passed
    done = {e.asset_key.path[-1] for e in res.get_asset_materialization_events()}
    assert done == {"break_bounce_model", "model_predictions"}
    assert registry.champion_version(tmp_path) == promoted


def test_gate_fails_with_a_reason_when_there_is_nothing_to_judge() -> None:
    """A candidate without held-out direction predictions (a lake of a few dates, or dates without
    both BREAK and BOUNCE) fails the gate and says why; it does not crash the check."""
    import polars as pl

    from ml import heads
    from spymaster_core.config import DEFAULT_CONFIG

    preds = pl.DataFrame(
        {
            "head": ["tradeable"] * 2,
            "predictor": ["model"] * 2,
            "touch_id": ["a", "b"],
            "y_true": [0, 1],
            "p": [0.2, 0.7],
        }
    )
    out = heads.gate_predictions(preds, "direction", DEFAULT_CONFIG.model)
    assert out["passed"] is False and "no held-out direction predictions" in out["reason"]
