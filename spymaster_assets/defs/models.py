"""Model assets: the four break/bounce heads trained walk-forward on gold_training, logged to
MLflow with both baselines, and the `champion` alias, set only behind a blocking asset check."""

import importlib.util
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import polars as pl

from spymaster_assets.resources import LakeResource
from spymaster_assets.versioning import code_version, current_config, version_metadata
from spymaster_core.config import config_hash
from spymaster_core.engines.feature_row import feature_columns, kinematics_horizons_of
from spymaster_core.io import lake as lake_io

if TYPE_CHECKING:
    from ml.heads import HeadResult

# ml (xgboost, MLflow, matplotlib, faiss) is imported inside the assets that use it: every run
# worker and multiprocess step loads this code location, and those imports cost ~2.5 s there.


def _flat_metrics(results: "dict[str, HeadResult]") -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for h, r in results.items():
        out[f"{h}_n_test"] = float(len(r.y_true))
        for who, m in r.metrics.items():
            for k, v in m.items():
                out[f"{h}_{who}_{k}"] = v
    return out


def _diagnostic_metrics(
    results: "dict[str, HeadResult]", importance: dict[str, dict[str, dict[str, float]]]
) -> dict[str, float | None]:
    """Per head: the checks of `ml.diagnostics.head_report` (`<head>_auc_stratified`,
    `<head>_auc_date_p10` ..., `<head>_perm_z`, `<head>_perm_p_low` ...) and the grouped permutation
    importance (`<head>_importance_<group>`: held-out AUC drop)."""
    from ml import diagnostics

    out: dict[str, float | None] = {}
    for h, r in results.items():
        for k, v in diagnostics.head_report(r).items():
            if k not in ("n_test", "auc"):
                out[f"{h}_{k}"] = None if v is None else float(v)
        for g, v in importance.get(h, {}).items():
            out[f"{h}_importance_{g}"] = v["auc_drop"]
    return out


def _sequence_baseline(
    context: dg.AssetExecutionContext, lake: LakeResource, gold: pl.DataFrame
) -> dict[str, float | None]:
    """Direction metrics of the PatchTST sequence baseline (`ml.seq`) when the `seq` extra
    (torch) is installed: `direction_seq_auc`, `_brier`, `_log_loss`, `_n_test`; {} otherwise."""
    if importlib.util.find_spec("torch") is None:
        context.log.info("sequence baseline skipped: torch not installed (pip install '.[seq]')")
        return {}
    from ml import seq

    bars = lake_io.read_table(lake.path, "bars_2m")
    if bars is None:
        return {}
    res = seq.walk_forward_seq(gold, bars, current_config().model)
    return {
        "direction_seq_n_test": float(len(res.y_true)),
        **{f"direction_seq_{k}": v for k, v in res.metrics.items()},
    }


def _gold_data_version(root: lake_io.LakePath) -> str:
    """sha256 (16 hex) over the gold_training partition files (relative path, then bytes), in path order."""
    files = lake_io.glob(lake_io.join(root, lake_io.TABLE_DIRS["gold_training"]), "date=*/*.parquet")
    return lake_io.digest_files(files, root=root)[:16]


MODEL_SECTIONS = ("model", "labels")  # the config sections the model assets read
_MODEL_CODE_VERSION = code_version(*MODEL_SECTIONS)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "break_bounce_model",
            group_name="models",
            code_version=_MODEL_CODE_VERSION,
            deps=[dg.AssetKey("gold_training"), dg.AssetKey("silver_bars_2m")],  # every partition
        ),
        dg.AssetSpec(
            "model_predictions",
            group_name="models",
            code_version=_MODEL_CODE_VERSION,
            deps=[dg.AssetKey("gold_training")],
            description="Pooled walk-forward held-out predictions of every head and baseline, "
            "one file per MLflow run (`lake.predictions_path`: gold/evaluation/predictions/<run_id>.parquet).",
        ),
    ],
    can_subset=False,
)
def break_bounce_model(context: dg.AssetExecutionContext, lake: LakeResource) -> Iterator[object]:
    """Heads tradeable / direction / strength / fast (XGBoost, isotonic calibration), walk-forward
    by date, each beside the level-kind base rate and a logistic baseline on the same held-out
    dates; one MLflow run with params, metrics (with each head's per-date AUC spread, same-date AUC,
    within-date label-permutation check and grouped permutation importance: `ml.diagnostics`),
    config hash, Gold data version, reliability, gain-importance and grouped-importance PNGs and a FAISS index of past touches; the direction model is registered.
    The pooled held-out predictions are the asset `model_predictions` (read by the dbt mart
    gold_model_eval); it is not behind the gate, so a losing candidate's scores are still compared.
    The gate is the separate blocking check `beats_baselines` (its own step, so it blocks
    champion_model and nothing else). Raises ValueError when gold_training has no partition yet."""
    from ml import diagnostics, heads, plots, registry, retrieval

    gold = lake_io.read_table(lake.path, "gold_training")
    if gold is None:
        raise ValueError(f"no gold_training partitions under {lake.path}: materialize gold_daily_marts first")
    cfg = current_config()
    results = {h: heads.walk_forward(gold, h, cfg.model) for h in heads.HEADS}
    direction = results["direction"]
    data_version = _gold_data_version(lake.path)  # the exact Gold files trained on
    importance = {h: diagnostics.grouped_permutation_importance(r) for h, r in results.items()}
    metrics = _flat_metrics(results) | _diagnostic_metrics(results, importance)
    metrics |= _sequence_baseline(context, lake, gold)
    with tempfile.TemporaryDirectory() as tmp:
        arts = []
        if any(importance.values()):
            arts.append(plots.grouped_importance_png(importance, Path(tmp) / "grouped_importance.png"))
        for h, r in results.items():
            if len(r.y_true):
                arts.append(plots.reliability_png(r, Path(tmp) / f"{h}_reliability.png"))
            if r.importance:
                arts.append(plots.importance_png(r, Path(tmp) / f"{h}_importance.png"))
        if gold.height:
            # The engine features Gold holds (the horizons that built them), as the design matrix uses.
            index = retrieval.build_index(gold, feature_columns(kinematics_horizons_of(gold.columns)))
            arts += retrieval.save_index(index, Path(tmp))
        run_id, version = registry.log_run(
            lake.data_dir,
            params={
                "heads": ",".join(heads.HEADS),
                **cfg.model.model_dump(),
                "test_dates": ",".join(direction.test_dates),
            },
            metrics={**metrics, "n_touches": gold.height},
            tags={"config_hash": config_hash(cfg, MODEL_SECTIONS), "data_version": data_version},
            model=direction.final_model,
            artifacts=arts,
            register=direction.final_model is not None,
        )
    preds = heads.predictions_frame(results, run_id)
    preds_path = lake_io.write_file(lake_io.predictions_path(lake.path, run_id), preds)
    passed = direction.beats_baselines(cfg.model)
    aucs = {who: m["auc"] for who, m in direction.metrics.items()}
    context.log.info(
        f"direction held-out AUC {aucs}; beats baselines: {passed}; run {run_id} version {version}"
    )
    yield dg.MaterializeResult(
        asset_key="model_predictions",
        metadata={"rows": preds.height, "path": str(preds_path), "mlflow_run_id": run_id},
    )
    yield dg.MaterializeResult(
        asset_key="break_bounce_model",
        metadata={
            **{k: v for k, v in metrics.items() if v is not None},
            "n_touches": gold.height,
            "mlflow_run_id": run_id,
            "model_version": version or "",
            "beats_baselines": passed,
            "gold_data_version": data_version,
            "test_dates": direction.test_dates,
            **version_metadata(*MODEL_SECTIONS),
        },
    )


@dg.asset_check(asset="break_bounce_model", blocking=True)
def beats_baselines(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
    """The model gate: re-scores the latest candidate's held-out direction predictions (the file
    model_predictions wrote for its MLflow run) with `ml.heads.gate`: the model's AUC must exceed
    both baselines' (level-kind rate, logistic) on the same touches, with the paired-bootstrap
    lower bound of each difference above zero. Blocking: a failure stops
    champion_model in the same run. Raises ValueError when the candidate or its file is missing."""
    from ml import heads

    ev = context.instance.get_latest_materialization_event(dg.AssetKey("break_bounce_model"))
    if ev is None or ev.asset_materialization is None:
        raise ValueError("break_bounce_model has not been materialized")
    run_id = str(ev.asset_materialization.metadata["mlflow_run_id"].value)
    path = lake_io.predictions_path(lake.path, run_id)
    if not lake_io.exists(path):
        raise ValueError(f"held-out predictions of candidate run {run_id} missing: {path}")
    result = heads.gate_predictions(lake_io.read_parquet(path), "direction", current_config().model)
    return dg.AssetCheckResult(
        passed=bool(result.pop("passed")),
        metadata={
            "mlflow_run_id": run_id,
            **{k: float("nan") if v is None else v for k, v in result.items()},
        },
    )


@dg.asset(group_name="models", deps=[dg.AssetKey("break_bounce_model")])
def champion_model(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Points the MLflow `champion` alias at the direction model the latest break_bounce_model run
    registered. In a run with the blocking `beats_baselines` check it runs only if the check
    passed; on its own it still refuses (raises) when the candidate's materialization says it did
    not beat both baselines."""
    from ml import registry

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
checks = [beats_baselines]
