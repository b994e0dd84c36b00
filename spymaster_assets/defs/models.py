"""Model assets: the break/bounce direction head trained on gold_training, logged to MLflow."""

import hashlib

import dagster as dg
import polars as pl

from ml import heads, registry
from spymaster_assets.resources import LakeResource
from spymaster_assets.versioning import CONFIG, code_version, version_metadata
from spymaster_core.config import config_hash


@dg.asset(group_name="models", code_version=code_version("model"), deps=[dg.AssetKey("gold_training")])
def break_bounce_model(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """XGBoost P(BREAK) head, walk-forward by date; AUC beside the level-kind base-rate baseline."""
    path = lake.path / "gold" / "training" / "gold_training.parquet"
    gold = pl.read_parquet(path)
    res = heads.walk_forward_direction(gold, CONFIG.model)
    data_version = hashlib.sha256(path.read_bytes()).hexdigest()[:16]  # the exact Gold file trained on
    metrics = {
        "auc_model": res.auc_model,
        "auc_base_rate": res.auc_base_rate,
        "n_touches": res.n_touches,
        "n_labelled": res.n_labelled,
        "n_test": len(res.y_true),
    }
    run_id = registry.log_run(
        lake.data_dir,
        params={"head": "direction", **CONFIG.model.model_dump(), "test_dates": ",".join(res.test_dates)},
        metrics=metrics,
        tags={"config_hash": config_hash(CONFIG, ["model"]), "data_version": data_version},
        model=res.final_model,
    )
    context.log.info(f"direction AUC model={res.auc_model} base_rate={res.auc_base_rate} run={run_id}")
    return dg.MaterializeResult(
        metadata={
            **{k: v for k, v in metrics.items() if v is not None},
            "mlflow_run_id": run_id,
            "gold_data_version": data_version,
            "test_dates": res.test_dates,
            **version_metadata("model"),
        }
    )


assets = [break_bounce_model]
