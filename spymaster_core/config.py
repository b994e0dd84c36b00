"""The one configuration object, `Config`, with a section per concern (DESIGN §5).

Every number here is a default, not a constant: a run may override any field. `config_hash`
hashes the canonical JSON of the named sections; Dagster code versions combine it with the
package version so a config change marks exactly the assets that read the changed section stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowsConfig(_Section):
    """Look-back windows in seconds: barrier W_b, tape W_t, gamma W_g, velocity W_v."""

    W_b_s: float = 240.0
    W_t_s: float = 60.0
    W_g_s: float = 60.0
    W_v_s: float = 3.0
    kinematics_horizons_s: tuple[float, ...] = (1.0, 5.0, 30.0)


class BandsConfig(_Section):
    """Price bands in ES points; tick size in points."""

    MONITOR_BAND_pt: float = 5.0
    TOUCH_BAND_pt: float = 2.0
    BARRIER_ZONE_TICKS: int = 2
    tick_size_pt: float = 0.25
    tape_band_pt: float = 5.0


class SessionConfig(_Section):
    """Session windows in America/New_York wall-clock time (HH:MM)."""

    calendar: str = "CME_Equity"
    premarket_start: str = "04:00"
    rth_open: str = "09:30"
    opening_range_end: str = "09:45"
    touch_window_end: str = "13:30"
    rth_close: str = "16:00"


class LevelsConfig(_Section):
    """Which level kinds to build and their parameters. SMA periods count 2-minute bars."""

    bar_minutes: int = 2
    sma_periods: tuple[int, ...] = (200, 400)
    SMA_WARMUP_DAYS: int = 3
    enable_prior_day: bool = False
    enable_vwap: bool = False
    enable_round_numbers: bool = False
    enable_gamma_walls: bool = False
    round_number_step_pt: float = 25.0


class BarrierConfig(_Section):
    """Barrier-engine thresholds (liquidity ratios, contracts)."""

    R_vac: float = 0.3
    R_wall: float = 1.5
    F_thresh_contracts: float = 100.0


class TapeConfig(_Section):
    """Tape-engine thresholds; ES multiplier is USD per point per contract."""

    SWEEP_MIN_NOTIONAL_usd: float = 500_000.0
    SWEEP_MAX_GAP_MS: float = 100.0
    es_multiplier_usd_per_pt: float = 50.0


class FuelConfig(_Section):
    """Options/gamma settings."""

    FUEL_STRIKE_RANGE_pt: float = 75.0
    gamma_effect_threshold_usd: float = 1.0e8


class ScoreConfig(_Section):
    """Composite break score weights, thresholds (0-100) and EWMA half-lives in seconds."""

    w_L: float = 0.45
    w_H: float = 0.35
    w_T: float = 0.20
    BREAK_threshold: float = 80.0
    REJECT_threshold: float = 20.0
    TRIGGER_HOLD_TIME_s: float = 3.0
    tau_score_s: float = 2.0
    tau_velocity_s: float = 1.5
    tau_delta_liq_s: float = 3.0


class LabelsConfig(_Section):
    """Competing-risk labels: thresholds in points through (BREAK) or away from (BOUNCE) the level."""

    LOOKFORWARD_MINUTES: float = 8.0
    thresholds_pt: tuple[float, ...] = (10.0, 25.0, 75.0)


class ModelConfig(_Section):
    """XGBoost head and walk-forward settings."""

    n_estimators: int = 200
    max_depth: int = 4
    learning_rate: float = 0.05
    min_train_dates: int = 2
    purge_dates: int = 0
    seed: int = 7
    # Promotion gate: the model's held-out AUC must beat each baseline's with the one-sided
    # lower bound (paired bootstrap over held-out touches) of the AUC difference above zero.
    gate_bootstrap: int = 1000
    gate_alpha: float = 0.05


class LiveConfig(_Section):
    """Live-service cadence."""

    SNAP_INTERVAL_MS: int = 250


class Config(_Section):
    """All settings, one frozen section per concern (DESIGN §5)."""

    windows: WindowsConfig = WindowsConfig()
    bands: BandsConfig = BandsConfig()
    session: SessionConfig = SessionConfig()
    levels: LevelsConfig = LevelsConfig()
    barrier: BarrierConfig = BarrierConfig()
    tape: TapeConfig = TapeConfig()
    fuel: FuelConfig = FuelConfig()
    score: ScoreConfig = ScoreConfig()
    labels: LabelsConfig = LabelsConfig()
    model: ModelConfig = ModelConfig()
    live: LiveConfig = LiveConfig()


DEFAULT_CONFIG = Config()


def config_hash(config: Config, sections: Iterable[str]) -> str:
    """sha256 (hex, first 16 chars) of the canonical JSON of the named sections.

    Raises KeyError naming the section when one does not exist.
    """
    dumped = config.model_dump(mode="json")
    chosen: dict[str, object] = {}
    for name in sorted(set(sections)):
        if name not in dumped:
            raise KeyError(f"unknown config section {name!r}; known: {sorted(dumped)}")
        chosen[name] = dumped[name]
    canonical = json.dumps(chosen, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_config(path: str | None = None) -> Config:
    """`Config` from the JSON file `path` (default: the file named by `SPYMASTER_CONFIG`; partial
    overrides allowed), else the defaults.

    Raises ValueError naming the file when it cannot be read or does not validate.
    """
    import os
    from pathlib import Path

    path = path or os.environ.get("SPYMASTER_CONFIG")
    if not path:
        return DEFAULT_CONFIG
    try:
        return Config.model_validate_json(Path(path).read_text())
    except Exception as exc:
        raise ValueError(f"{path}: invalid Spymaster config ({exc})") from exc
