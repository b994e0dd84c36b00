"""The one feature row shared by training and serving (DESIGN §2, §7).

Silver features (`research.features.touch_features`) and the live payloads (`EngineState.snapshot`)
are built by `feature_row`; the model's input matrix for training (`ml.heads`) and for serving (the
live scorer) by `model_matrix`. Column names depend only on `windows.kinematics_horizons_s`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import polars as pl

from spymaster_core.schemas import number_token, token_number

OFI_HORIZONS_S = (1.0, 10.0, 60.0)  # integration horizons of OFI in seconds (DESIGN §7)
MODEL_EXTRA_COLUMNS = ("prior_touches", "is_support")  # model inputs beside the engine features
_VELOCITY = re.compile(r"^velocity_([0-9p]+)s_pt_s$")


@functools.cache  # called per level per payload: the names are made once
def velocity_column(horizon_s: float) -> str:
    """`velocity_5s_pt_s` for 5 s (`velocity_0p5s_pt_s` for 0.5 s): price velocity toward the level."""
    return f"velocity_{number_token(horizon_s)}s_pt_s"


@functools.cache
def ofi_column(kind: str, horizon_s: float) -> str:
    """`ofi_best_norm_10s`: OFI of `kind` (best, best_norm, multi, multi_norm) integrated over the horizon."""
    return f"ofi_{kind}_{number_token(horizon_s)}s"


def kinematics_horizons_of(columns: Iterable[str]) -> tuple[float, ...]:
    """The kinematics horizons (s) whose velocity columns appear in `columns`, increasing: the inverse
    of `velocity_column`, so a frame of features says which horizons built it."""
    found = [token_number(m.group(1)) for c in columns if (m := _VELOCITY.match(c))]
    return tuple(sorted(found))


def feature_columns(kinematics_horizons_s: Sequence[float]) -> list[str]:
    """The numeric feature columns (float64; null where undefined: fuel without options, no wall, no
    runway), in order. The velocity columns follow `windows.kinematics_horizons_s` (default
    velocity_1s/5s/30s_pt_s); OFI's horizons are fixed (`OFI_HORIZONS_S`)."""
    return [
        "distance_pt",
        *(velocity_column(h) for h in kinematics_horizons_s),
        "acceleration_pt_s2",
        "jerk_pt_s3",
        "tape_buy_volume",
        "tape_sell_volume",
        "tape_imbalance",
        "tape_imbalance_through",
        "tape_n_trades",
        "tape_velocity_pt_s",
        "tape_sweep_detected",
        "tape_sweep_notional_usd",
        "tape_sweep_num_prints",
        "tape_sweep_window_ms",
        "barrier_added",
        "barrier_canceled",
        "barrier_filled",
        "barrier_delta_liq",
        "barrier_replenishment_ratio",
        "barrier_churn",
        "barrier_depth_in_zone",
        "barrier_baseline_depth",
        "barrier_defending_size",
        "barrier_confidence",
        *(ofi_column(k, h) for k in ("best", "best_norm", "multi", "multi_norm") for h in OFI_HORIZONS_S),
        "fuel_net_dealer_gamma_usd",
        "fuel_net_dealer_gamma_window_usd",
        "fuel_net_dealer_gamma_oi_usd",
        "fuel_call_wall",
        "fuel_call_wall_gex_usd",
        "fuel_put_wall",
        "fuel_put_wall_gex_usd",
        "fuel_hvl",
        "fuel_n_options",
        "fuel_n_iv_skipped",
        "score_liquidity",
        "score_hedge",
        "score_tape",
        "break_score_raw",
        "break_score_smooth",
        "runway_next_level_price",
        "runway_distance_pt",
        "barrier_defending_price",
    ]


STRING_COLUMNS = [
    "barrier_state",
    "tape_sweep_direction",
    "fuel_effect",
    "fuel_missing_reason",
    "signal",
    "confidence",
    "runway_direction",
    "runway_next_level_id",
    "runway_quality",
]
"""Categorical engine outputs (strings; `fuel_missing_reason` null when fuel is available)."""


# Ranges the `features_in_range` asset check enforces (inclusive).
RANGES: dict[str, tuple[float, float]] = {
    "tape_imbalance": (-1.0, 1.0),
    "tape_imbalance_through": (-1.0, 1.0),
    "barrier_confidence": (0.0, 1.0),
    "score_liquidity": (0.0, 100.0),
    "score_hedge": (0.0, 100.0),
    "score_tape": (0.0, 100.0),
    "break_score_raw": (0.0, 100.0),
    "break_score_smooth": (0.0, 100.0),
    "tape_buy_volume": (0.0, float("inf")),
    "tape_sell_volume": (0.0, float("inf")),
    "barrier_added": (0.0, float("inf")),
    "barrier_canceled": (0.0, float("inf")),
    "barrier_filled": (0.0, float("inf")),
}


FEATURE_GROUPS = ("kinematics", "tape", "barrier", "ofi", "fuel", "context")
"""The physics a model input belongs to, for grouped permutation importance (`ml.diagnostics`)."""


def feature_group(column: str) -> str:
    """The `FEATURE_GROUPS` member of a model column: kinematics (distance, velocity, acceleration,
    jerk), tape (`tape_*`, `score_tape`), barrier (`barrier_*`, `score_liquidity`), ofi (`ofi_*`),
    fuel (`fuel_*`, `score_hedge`), context (everything else: the composite `break_score_*`,
    `runway_*`, `prior_touches`, `is_support`). A composite of several physics sits in context, so
    permuting one physics group leaves its share of the composite in place."""
    if column == "distance_pt" or column.startswith(("velocity_", "acceleration_", "jerk_")):
        return "kinematics"
    if column.startswith("tape_") or column == "score_tape":
        return "tape"
    if column.startswith("barrier_") or column == "score_liquidity":
        return "barrier"
    if column.startswith("ofi_"):
        return "ofi"
    if column.startswith("fuel_") or column == "score_hedge":
        return "fuel"
    return "context"


def model_columns(kinematics_horizons_s: Sequence[float]) -> list[str]:
    """The model's input columns: the numeric features, then `prior_touches` and `is_support`."""
    return [*feature_columns(kinematics_horizons_s), *MODEL_EXTRA_COLUMNS]


def model_matrix(rows: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(float32 matrix, its columns) of the model's inputs for `rows`: touches in Gold (training) or
    the levels of a live payload (serving), with the numeric features, `prior_touches` and
    `direction` (is_support = 1.0 for SUPPORT). Nulls become NaN (XGBoost's missing value). The
    feature columns are those of the horizons found in `rows`. Raises polars' ColumnNotFoundError
    naming a missing column."""
    cols = model_columns(kinematics_horizons_of(rows.columns))
    df = rows.with_columns(
        is_support=(pl.col("direction") == "SUPPORT").cast(pl.Float64),
        prior_touches=pl.col("prior_touches").cast(pl.Float64),
    )
    return df.select(pl.col(c).cast(pl.Float64) for c in cols).to_numpy().astype(np.float32), cols


def _none_if_nan(x: float | None) -> float | None:
    """Feature value for Parquet/JSON: NaN (undefined) -> None (null)."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def feature_row(kin: Any, tape: Any, bar: Any, ofi: Any, fuel: Any, comp: Any, smooth: float, sig: str,
                conf: str, run: Any) -> dict[str, Any]:  # fmt: skip
    """One flat feature row from the engines' outputs at one time and level: `feature_columns(...)`
    then `STRING_COLUMNS` (names as in the seed Gold schema: `barrier_state`, `tape_imbalance`,
    `fuel_effect` ...). Fuel numbers are None (null) when fuel is missing. Silver features and the
    live payloads both come from here."""
    row: dict[str, Any] = {"distance_pt": kin.distance_pt}
    for h, v in kin.velocity_pt_s.items():
        row[velocity_column(h)] = v
    row |= {
        "acceleration_pt_s2": kin.acceleration_pt_s2,
        "jerk_pt_s3": kin.jerk_pt_s3,
        "tape_buy_volume": tape.buy_volume,
        "tape_sell_volume": tape.sell_volume,
        "tape_imbalance": tape.imbalance,
        "tape_imbalance_through": tape.imbalance_through,
        "tape_n_trades": float(tape.n_trades),
        "tape_velocity_pt_s": tape.velocity_pt_s,
        "tape_sweep_detected": float(tape.sweep.detected),
        "tape_sweep_notional_usd": tape.sweep.notional_usd,
        "tape_sweep_num_prints": float(tape.sweep.num_prints),
        "tape_sweep_window_ms": tape.sweep.window_ms,
        "barrier_added": bar.added,
        "barrier_canceled": bar.canceled,
        "barrier_filled": bar.filled,
        "barrier_delta_liq": bar.delta_liq,
        "barrier_replenishment_ratio": bar.replenishment_ratio,
        "barrier_churn": bar.churn,
        "barrier_depth_in_zone": bar.depth_in_zone,
        "barrier_baseline_depth": bar.baseline_depth,
        "barrier_defending_size": bar.defending_size,
        "barrier_confidence": bar.confidence,
    }
    for name, d in (
        ("best", ofi.best),
        ("best_norm", ofi.best_norm),
        ("multi", ofi.multi),
        ("multi_norm", ofi.multi_norm),
    ):
        for h, v in d.items():
            row[ofi_column(name, h)] = v
    cw, pw = fuel.call_wall, fuel.put_wall
    row |= {
        "fuel_net_dealer_gamma_usd": _none_if_nan(fuel.net_dealer_gamma_usd),
        "fuel_net_dealer_gamma_window_usd": _none_if_nan(fuel.net_dealer_gamma_window_usd),
        "fuel_net_dealer_gamma_oi_usd": _none_if_nan(fuel.net_dealer_gamma_oi_usd),
        "fuel_call_wall": _none_if_nan(cw.strike) if cw else None,
        "fuel_call_wall_gex_usd": _none_if_nan(cw.gex_usd) if cw else None,
        "fuel_put_wall": _none_if_nan(pw.strike) if pw else None,
        "fuel_put_wall_gex_usd": _none_if_nan(pw.gex_usd) if pw else None,
        "fuel_hvl": _none_if_nan(fuel.hvl),
        "fuel_n_options": float(fuel.n_options),
        "fuel_n_iv_skipped": float(fuel.n_iv_skipped),
        "score_liquidity": comp.liquidity,
        "score_hedge": _none_if_nan(comp.hedge),
        "score_tape": comp.tape,
        "break_score_raw": comp.raw,
        "break_score_smooth": smooth,
        "runway_next_level_price": _none_if_nan(run.next_level_price),
        "runway_distance_pt": _none_if_nan(run.distance_pt),
        # strings
        "barrier_state": bar.state,
        "barrier_defending_price": _none_if_nan(bar.defending_price),
        "tape_sweep_direction": tape.sweep.direction,
        "fuel_effect": fuel.effect,
        "fuel_missing_reason": fuel.missing or None,
        "signal": sig,
        "confidence": conf,
        "runway_direction": run.direction,
        "runway_next_level_id": run.next_level_id or None,
        "runway_quality": run.quality,
    }
    return row
