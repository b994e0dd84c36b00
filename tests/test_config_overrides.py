"""Every config section overridden at once, inside its documented range, runs end to end: a
simulated date (with one warm-up date) through Bronze, Silver and the Gold dbt marts.

Before, non-default label thresholds raised ColumnNotFoundError (the labels schema, dbt's
gold_training and the strength head hard-coded outcome_10/25/75) and the fuel engine ignored the
configured contract multiplier."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from spymaster_assets.defs.gold import GOLD_DAILY_MODELS, GOLD_SUMMARY_MODELS
from spymaster_core.config import Config
from spymaster_core.io import lake
from spymaster_core.sim import simulate_session

DATES = ["2026-11-17", "2026-11-18"]
OVERRIDES = {
    "windows": {"W_b_s": 120, "W_t_s": 30, "W_g_s": 120, "W_v_s": 2, "kinematics_horizons_s": [2, 10]},
    "bands": {"MONITOR_BAND_pt": 4, "TOUCH_BAND_pt": 1.5, "BARRIER_ZONE_TICKS": 3, "tape_band_pt": 4},
    "session": {"premarket_start": "05:00", "opening_range_end": "10:00", "touch_window_end": "14:00"},
    "levels": {
        "bar_minutes": 5,
        "sma_periods": [50, 120],
        "SMA_WARMUP_DAYS": 1,
        "enable_prior_day": True,
        "enable_vwap": True,
        "enable_round_numbers": True,
        "enable_gamma_walls": True,
        "round_number_step_pt": 10,
    },
    "barrier": {"R_vac": 0.5, "R_wall": 2.0, "F_thresh_contracts": 50},
    "instrument": {"es_multiplier_usd_per_pt": 5},
    "tape": {"SWEEP_MIN_NOTIONAL_usd": 100_000, "SWEEP_MAX_GAP_MS": 200},
    "fuel": {"FUEL_STRIKE_RANGE_pt": 50, "gamma_effect_threshold_usd": 1e7},
    "score": {
        "w_L": 0.5,
        "w_H": 0.25,
        "w_T": 0.25,
        "BREAK_threshold": 70,
        "REJECT_threshold": 30,
        "TRIGGER_HOLD_TIME_s": 1,
        "tau_score_s": 1,
        "tau_velocity_s": 1,
        "tau_delta_liq_s": 1,
    },  # fmt: skip
    "labels": {"LOOKFORWARD_MINUTES": 10, "thresholds_pt": [5, 12.5, 40]},
    "model": {
        "n_estimators": 20,
        "max_depth": 2,
        "learning_rate": 0.2,
        "min_train_dates": 1,
        "purge_dates": 1,
    },
    "backtest": {"half_spread_pt": 0.25, "commission_usd_per_side": 2.0, "target_pt": 8, "stop_pt": 6},
    "live": {"SNAP_INTERVAL_MS": 500},
}


@pytest.mark.slow
def test_every_section_overridden_runs_through_gold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_file = tmp_path / "config.json"
    cfg_file.write_text(json.dumps(OVERRIDES))
    assert set(OVERRIDES) == set(Config.model_fields)  # every section is overridden
    root = tmp_path / "lake"
    monkeypatch.setenv("SPYMASTER_CONFIG", str(cfg_file))
    monkeypatch.setenv("SPYMASTER_LAKE", str(root))
    monkeypatch.setenv("SPYMASTER_DUCKDB", str(tmp_path / "spymaster.duckdb"))
    monkeypatch.setenv("SPYMASTER_DATA", str(tmp_path))
    from spymaster_assets.definitions import defs

    for d in DATES:
        simulate_session(d, 4, root / "landing", scale="small")
    graph = defs.resolve_asset_graph()
    daily = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name in ("bronze", "silver")]
    instance = dg.DagsterInstance.ephemeral()
    for d in DATES:
        res = dg.materialize(
            list(defs.assets), partition_key=d, instance=instance, resources=defs.resources,
            selection=dg.AssetSelection.assets(*daily),
        )  # fmt: skip
        assert res.success
    for models in (GOLD_DAILY_MODELS, GOLD_SUMMARY_MODELS):
        res = dg.materialize(
            list(defs.assets), instance=instance, resources=defs.resources,
            selection=dg.AssetSelection.assets(*models),
            tags={"dagster/asset_partition_range_start": DATES[0], "dagster/asset_partition_range_end": DATES[-1]}
            if models is GOLD_DAILY_MODELS else {},
        )  # fmt: skip
        assert res.success

    d = DATES[-1]
    kinds = set(lake.read_partition(root, "levels", d)["kind"])
    assert {"SMA_50", "SMA_120", "VWAP"} <= kinds and not kinds & {"SMA_200", "SMA_400"}
    labels = lake.read_partition(root, "labels", d)
    assert {"outcome_5", "outcome_12p5", "outcome_40"} <= set(labels.columns)
    assert "outcome_10" not in labels.columns
    feats = lake.read_partition(root, "features", d)
    assert {"velocity_2s_pt_s", "velocity_10s_pt_s"} <= set(feats.columns)
    gold = lake.read_table(root, "gold_training")
    n_touches = sum(lake.read_partition(root, "touches", x).height for x in DATES)
    assert gold.height == n_touches > 0
    assert {"outcome_5", "outcome_12p5", "outcome_40", "velocity_2s_pt_s"} <= set(gold.columns)
    # Touches only inside the configured touch window (09:30-14:00 ET).
    ts_et = gold["ts_ns"].cast(pl.Datetime("ns", "UTC")).dt.convert_time_zone("America/New_York")
    assert ts_et.dt.strftime("%H:%M").is_between("09:30", "14:00", closed="left").all()
