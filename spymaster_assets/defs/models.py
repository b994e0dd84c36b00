"""Model assets: the four break/bounce heads trained walk-forward on gold_training, logged to
MLflow with both baselines, and the `champion` alias, set only behind a blocking asset check."""

import hashlib
import tempfile
from pathlib import Path

import dagster as dg
import faiss
import polars as pl

from ml import heads, plots, registry, retrieval
from spymaster_assets.resources import LakeResource
from spymaster_assets.versioning import CONFIG, code_version, version_metadata
from spymaster_core.config import config_hash
from spymaster_core.features import FEATURE_COLUMNS


def _flat_metrics(results: dict[str, heads.HeadResult]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for h, r in results.items():
        out[f"{h}_n_test"] = float(len(r.y_true))
        for who, m in r.metrics.items():
            for k, v in m.items():
                out[f"{h}_{who}_{k}"] = v
    return out


@dg.asset(
    group_name="models",
    code_version=code_version("model", "labels"),
    deps=[dg.AssetKey("gold_training")],
    check_specs=[dg.AssetCheckSpec("beats_baselines", asset="break_bounce_model", blocking=True)],
)
def break_bounce_model(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Heads tradeable / direction / strength / fast (XGBoost, isotonic calibration), walk-forward
    by date, each beside the level-kind base rate and a logistic baseline on the same held-out
    dates; one MLflow run with params, metrics, config hash, Gold data version, reliability and
    importance PNGs and a FAISS index of past touches; the direction model is registered.
    Check `beats_baselines` (blocking): the direction model's held-out AUC beats both baselines."""
    path = lake.path / "gold" / "training" / "gold_training.parquet"
    gold = pl.read_parquet(path)
    results = {h: heads.walk_forward(gold, h, CONFIG.model) for h in heads.HEADS}
    direction = results["direction"]
    data_version = hashlib.sha256(path.read_bytes()).hexdigest()[:16]  # the exact Gold file trained on
    metrics = _flat_metrics(results)
    with tempfile.TemporaryDirectory() as tmp:
        arts = []
        for h, r in results.items():
            if len(r.y_true):
                arts.append(plots.reliability_png(r, Path(tmp) / f"{h}_reliability.png"))
            if r.importance:
                arts.append(plots.importance_png(r, Path(tmp) / f"{h}_importance.png"))
        if gold.height:
            index = retrieval.build_index(gold, FEATURE_COLUMNS)
            faiss.write_index(index.index, str(Path(tmp) / "touch_index.faiss"))
            arts.append(Path(tmp) / "touch_index.faiss")
        run_id, version = registry.log_run(
            lake.data_dir,
            params={
                "heads": ",".join(heads.HEADS),
                **CONFIG.model.model_dump(),
                "test_dates": ",".join(direction.test_dates),
            },
            metrics={**metrics, "n_touches": gold.height},
            tags={"config_hash": config_hash(CONFIG, ["model", "labels"]), "data_version": data_version},
            model=direction.final_model,
            artifacts=arts,
            register=direction.final_model is not None,
        )
    passed = direction.beats_baselines()
    aucs = {who: m["auc"] for who, m in direction.metrics.items()}
    context.log.info(
        f"direction held-out AUC {aucs}; beats baselines: {passed}; run {run_id} version {version}"
    )
    return dg.MaterializeResult(
        metadata={
            **{k: v for k, v in metrics.items() if v is not None},
            "n_touches": gold.height,
            "mlflow_run_id": run_id,
            "model_version": version or "",
            "beats_baselines": passed,
            "gold_data_version": data_version,
            "test_dates": direction.test_dates,
            **version_metadata("model", "labels"),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="beats_baselines", passed=passed, metadata={k: v or 0.0 for k, v in aucs.items()}
            )
        ],
    )


@dg.asset(group_name="models", deps=[break_bounce_model])
def champion_model(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Points the MLflow `champion` alias at the direction model the latest break_bounce_model run
    registered. Runs only after the blocking `beats_baselines` check passed in the same run, and
    refuses (raises) if that materialization says the candidate did not beat both baselines."""
    ev = context.instance.get_latest_materialization_event(dg.AssetKey("break_bounce_model"))
    if ev is None or ev.asset_materialization is None:
        raise ValueError("break_bounce_model has not been materialized")
    md = {k: v.value for k, v in ev.asset_materialization.metadata.items()}
    if not md.get("beats_baselines") or not md.get("model_version"):
        raise ValueError(f"candidate run {md.get('mlflow_run_id')} did not beat both baselines: not promoted")
    registry.promote(lake.data_dir, str(md["model_version"]))
    return dg.MaterializeResult(
        metadata={"champion_version": str(md["model_version"]), "mlflow_run_id": md["mlflow_run_id"]}
    )


assets = [break_bounce_model, champion_model]
