"""MLflow tracking, registry and the `champion` alias (local sqlite store by default, DESIGN §8)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import mlflow
import mlflow.xgboost
import polars as pl
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from spymaster_core.research import bar_touches

EXPERIMENT = "break_bounce"
BAR_EXPERIMENT = "break_bounce_bars"  # the bar tier's runs, beside the tick tier's for comparison
MODEL_NAME = "break_bounce_direction"
BAR_RESOLUTION = bar_touches.RESOLUTION  # run tag `resolution` of a bar-tier model (scores bar features)
CHAMPION = "champion"


def tracking_uri(data_dir: Path) -> str:
    """`MLFLOW_TRACKING_URI` if set, else sqlite:///<data_dir>/mlflow/mlflow.db."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    (data_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data_dir / 'mlflow' / 'mlflow.db').resolve()}"


def client(data_dir: Path) -> MlflowClient:
    """An `MlflowClient` on the project's tracking and registry store (`tracking_uri`). Every call here
    goes through one, so nothing sets MLflow's process-global tracking URI."""
    uri = tracking_uri(data_dir)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment_id(c: MlflowClient, data_dir: Path, name: str = EXPERIMENT) -> str:
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    artifacts = (data_dir / "mlflow" / "artifacts").resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    return c.create_experiment(name, artifact_location=artifacts.as_uri())


def log_run(
    data_dir: Path,
    params: dict,
    metrics: dict,
    tags: dict,
    model=None,  # noqa: ANN001
    artifacts: list[Path] | None = None,
    register: bool = False,
    experiment: str = EXPERIMENT,
) -> tuple[str, str | None]:
    """Log one training run: params, finite metrics, tags, artifact files and the XGBoost model
    (saved in MLflow's xgboost flavour under the run's `model/` artifacts, and registered as
    MODEL_NAME when `register`) in `experiment` (the tick tier's by default; the bar tier logs to
    BAR_EXPERIMENT). Returns (run id, registered version or None). The run is marked
    FAILED, and the error re-raised, when any step fails."""
    c = client(data_dir)
    run_id = c.create_run(_experiment_id(c, data_dir, experiment)).info.run_id
    try:
        c.log_batch(
            run_id,
            metrics=[
                Metric(k, float(v), int(time.time() * 1000), 0) for k, v in metrics.items() if v is not None
            ],
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )
        for f in artifacts or []:
            c.log_artifact(run_id, str(f))
        version = None
        if model is not None:
            with tempfile.TemporaryDirectory() as tmp:
                mlflow.xgboost.save_model(model, str(Path(tmp) / "model"))
                c.log_artifacts(run_id, str(Path(tmp) / "model"), "model")
            if register:
                try:
                    c.create_registered_model(MODEL_NAME)
                except mlflow.exceptions.MlflowException as exc:
                    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                version = str(
                    c.create_model_version(MODEL_NAME, f"runs:/{run_id}/model", run_id=run_id).version
                )
    except BaseException:
        c.set_terminated(run_id, "FAILED")
        raise
    c.set_terminated(run_id, "FINISHED")
    return run_id, version


def promote(data_dir: Path, version: str) -> None:
    """Point the `champion` alias of MODEL_NAME at `version` (call only after the gate passed)."""
    client(data_dir).set_registered_model_alias(MODEL_NAME, CHAMPION, version)


def champion_version(data_dir: Path) -> str | None:
    """The version the `champion` alias points at, or None when there is none."""
    try:
        return str(client(data_dir).get_model_version_by_alias(MODEL_NAME, CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        return None


def champion_resolution(data_dir: Path) -> str:
    """The champion run's `resolution` tag: BAR_RESOLUTION for a bar-tier model, else `trade` (tick-tier
    runs carry no tag). Raises MlflowException when no champion is promoted."""
    c = client(data_dir)
    mv = c.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    return str(c.get_run(mv.run_id).data.tags.get("resolution", "trade"))


def load_champion(data_dir: Path):  # noqa: ANN201
    """The champion XGBoost model (`models:/<name>@champion`), downloaded through the project's
    client; raises MlflowException if none is promoted."""
    c = client(data_dir)
    mv = c.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    with tempfile.TemporaryDirectory() as tmp:
        local = c.download_artifacts(mv.run_id, "model", tmp)
        return mlflow.xgboost.load_model(local)


def load_champion_index(data_dir: Path):  # noqa: ANN201
    """The champion run's touch index (`ml.retrieval.load_index` of its INDEX_FILES artifacts), or
    None when the run has none (trained before they were logged, or on no touches). Raises
    MlflowException when no champion is promoted."""
    from ml import retrieval

    c = client(data_dir)
    mv = c.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    names = {Path(f.path).name for f in c.list_artifacts(mv.run_id)}
    if not set(retrieval.INDEX_FILES) <= names:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        for n in retrieval.INDEX_FILES:
            c.download_artifacts(mv.run_id, n, tmp)
        return retrieval.load_index(Path(tmp))


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
    c = client(data_dir)
    exp = c.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return pl.DataFrame()
    champ = champion_version(data_dir)
    champ_run = c.get_model_version(MODEL_NAME, champ).run_id if champ else None
    rows = []
    for r in c.search_runs(
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
