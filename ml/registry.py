"""MLflow tracking for model runs (local sqlite store by default, DESIGN §8)."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow

EXPERIMENT = "break_bounce"


def tracking_uri(data_dir: Path) -> str:
    """`MLFLOW_TRACKING_URI` if set, else sqlite:///<data_dir>/mlflow/mlflow.db."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    (data_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data_dir / 'mlflow' / 'mlflow.db').resolve()}"


def log_run(data_dir: Path, params: dict, metrics: dict, tags: dict, model=None) -> str:
    """Log one training run (params, finite metrics, tags, optional XGBoost model); return the run id."""
    mlflow.set_tracking_uri(tracking_uri(data_dir))
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        artifacts = (data_dir / "mlflow" / "artifacts").resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri())
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        mlflow.set_tags(tags)
        if model is not None:
            mlflow.xgboost.log_model(model, name="model")
        return run.info.run_id
