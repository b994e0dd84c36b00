"""MLflow tracking, registry and the `champion` alias (local sqlite store by default, DESIGN §8)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import mlflow
import polars as pl
from mlflow import MlflowClient

EXPERIMENT = "break_bounce"
MODEL_NAME = "break_bounce_direction"
CHAMPION = "champion"


def tracking_uri(data_dir: Path) -> str:
    """`MLFLOW_TRACKING_URI` if set, else sqlite:///<data_dir>/mlflow/mlflow.db."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    (data_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data_dir / 'mlflow' / 'mlflow.db').resolve()}"


def _experiment(data_dir: Path) -> None:
    mlflow.set_tracking_uri(tracking_uri(data_dir))
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        artifacts = (data_dir / "mlflow" / "artifacts").resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri())
    mlflow.set_experiment(EXPERIMENT)


def log_run(
    data_dir: Path,
    params: dict,
    metrics: dict,
    tags: dict,
    model=None,  # noqa: ANN001
    artifacts: list[Path] | None = None,
    register: bool = False,
) -> tuple[str, str | None]:
    """Log one training run: params, finite metrics, tags, artifact files and the XGBoost model
    (registered as MODEL_NAME when `register`). Returns (run id, registered version or None)."""
    _experiment(data_dir)
    version = None
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        mlflow.set_tags(tags)
        for f in artifacts or []:
            mlflow.log_artifact(str(f))
        if model is not None:
            info = mlflow.xgboost.log_model(
                model, name="model", registered_model_name=MODEL_NAME if register else None
            )
            version = (
                str(info.registered_model_version) if register and info.registered_model_version else None
            )
        return run.info.run_id, version


def promote(data_dir: Path, version: str) -> None:
    """Point the `champion` alias of MODEL_NAME at `version` (call only after the gate passed)."""
    mlflow.set_tracking_uri(tracking_uri(data_dir))
    MlflowClient().set_registered_model_alias(MODEL_NAME, CHAMPION, version)


def champion_version(data_dir: Path) -> str | None:
    """The version the `champion` alias points at, or None when there is none."""
    mlflow.set_tracking_uri(tracking_uri(data_dir))
    try:
        return str(MlflowClient().get_model_version_by_alias(MODEL_NAME, CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        return None


def load_champion(data_dir: Path):  # noqa: ANN201
    """The champion XGBoost model (`models:/<name>@champion`); raises MlflowException if none."""
    mlflow.set_tracking_uri(tracking_uri(data_dir))
    return mlflow.xgboost.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")


COMPARE_METRICS = (
    "direction_model_auc",
    "direction_base_rate_auc",
    "direction_logistic_auc",
    "direction_seq_auc",
    "direction_model_brier",
    "direction_n_test",
    "n_touches",
)


def compare_runs(data_dir: Path, max_runs: int = 50) -> pl.DataFrame:
    """The latest `max_runs` training runs (MlflowClient.search_runs, newest first): run_id,
    start time (UTC), data_version and config_hash tags, COMPARE_METRICS (null when a run did not
    log one) and `champion` (True for the run whose registered model the alias points at)."""
    mlflow.set_tracking_uri(tracking_uri(data_dir))
    client = MlflowClient()
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return pl.DataFrame()
    champ = champion_version(data_dir)
    champ_run = client.get_model_version(MODEL_NAME, champ).run_id if champ else None
    rows = []
    for r in client.search_runs(
        [exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=max_runs
    ):
        rows.append(
            {
                "run_id": r.info.run_id,
                "start_utc": dt.datetime.fromtimestamp(r.info.start_time / 1000, dt.UTC).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "data_version": r.data.tags.get("data_version"),
                "config_hash": r.data.tags.get("config_hash"),
                **{m: r.data.metrics.get(m) for m in COMPARE_METRICS},
                "champion": r.info.run_id == champ_run,
            }
        )
    return pl.DataFrame(rows)
