"""The one configuration object, `Config`, with a section per concern (DESIGN §5).

Every number here is a default, not a constant: a run may override any field. `config_hash`
hashes the canonical JSON of the named sections; Dagster code versions combine it with the
package version so a config change marks exactly the assets that read the changed section stale.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Section(BaseModel):
    # Strict types (no "240" for 240, no true for 1) and finite numbers; JSON arrays become tuples.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


Seconds = Annotated[float, Field(gt=0.0, le=3600.0)]
Points = Annotated[float, Field(gt=0.0, le=500.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Score = Annotated[float, Field(ge=0.0, le=100.0)]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _increasing(values: tuple[float, ...], name: str) -> tuple[float, ...]:
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"{name} must be strictly increasing, got {values}")
    return values


class WindowsConfig(_Section):
    """Look-back windows in seconds (each in (0, 3600]): barrier W_b, tape W_t, gamma W_g,
    velocity W_v; kinematics horizons (1 to 5 of them, increasing)."""

    W_b_s: Seconds = 240.0
    W_t_s: Seconds = 60.0
    W_g_s: Seconds = 60.0
    W_v_s: Annotated[float, Field(gt=0.0, le=60.0)] = 3.0
    kinematics_horizons_s: Annotated[tuple[Seconds, ...], Field(min_length=1, max_length=5)] = (
        1.0,
        5.0,
        30.0,
    )

    @field_validator("kinematics_horizons_s")
    @classmethod
    def _horizons(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        return _increasing(v, "kinematics_horizons_s")


class BandsConfig(_Section):
    """Price bands in ES points (each in (0, 500]); TOUCH_BAND below MONITOR_BAND (a touch must be
    able to re-arm); barrier zone 0-20 ticks of `tick_size_pt`."""

    MONITOR_BAND_pt: Points = 5.0
    TOUCH_BAND_pt: Points = 2.0
    BARRIER_ZONE_TICKS: Annotated[int, Field(ge=0, le=20)] = 2
    tick_size_pt: Annotated[float, Field(gt=0.0, le=10.0)] = 0.25
    tape_band_pt: Points = 5.0

    @model_validator(mode="after")
    def _touch_inside_monitor(self) -> BandsConfig:
        if self.TOUCH_BAND_pt >= self.MONITOR_BAND_pt:
            raise ValueError(
                f"TOUCH_BAND_pt ({self.TOUCH_BAND_pt}) must be below MONITOR_BAND_pt ({self.MONITOR_BAND_pt})"
            )
        return self


class SessionConfig(_Section):
    """Session windows in America/New_York wall-clock time (HH:MM), in order:
    premarket_start < rth_open < opening_range_end <= touch_window_end <= rth_close."""

    calendar: Literal["CME_Equity"] = "CME_Equity"
    premarket_start: str = "04:00"
    rth_open: str = "09:30"
    opening_range_end: str = "09:45"
    touch_window_end: str = "13:30"
    rth_close: str = "16:00"

    @model_validator(mode="after")
    def _ordered(self) -> SessionConfig:
        names = ("premarket_start", "rth_open", "opening_range_end", "touch_window_end", "rth_close")
        times = [getattr(self, n) for n in names]
        for n, t in zip(names, times, strict=True):
            if not _HHMM.match(t):
                raise ValueError(f"session.{n}={t!r}: expected HH:MM (24 h)")
        if not (times[0] < times[1] < times[2] <= times[3] <= times[4]):
            raise ValueError(f"session times out of order: {dict(zip(names, times, strict=True))}")
        return self


class LevelsConfig(_Section):
    """Which level kinds to build and their parameters. SMA periods count bars of `bar_minutes`
    (1-30 min), 1 to 4 periods of 2-2000 bars; warm-up 0-20 previous trading dates."""

    bar_minutes: Annotated[int, Field(ge=1, le=30)] = 2
    sma_periods: Annotated[
        tuple[Annotated[int, Field(ge=2, le=2000)], ...], Field(min_length=1, max_length=4)
    ] = (
        200,
        400,
    )
    SMA_WARMUP_DAYS: Annotated[int, Field(ge=0, le=20)] = 3
    enable_prior_day: bool = False
    enable_vwap: bool = False
    enable_round_numbers: bool = False
    enable_gamma_walls: bool = False
    round_number_step_pt: Points = 25.0


class BarrierConfig(_Section):
    """Barrier-engine thresholds: liquidity ratios with 0 < R_vac < R_wall <= 100, and
    F_thresh in contracts (0-100,000)."""

    R_vac: Annotated[float, Field(gt=0.0, le=100.0)] = 0.3
    R_wall: Annotated[float, Field(gt=0.0, le=100.0)] = 1.5
    F_thresh_contracts: Annotated[float, Field(ge=0.0, le=100_000.0)] = 100.0

    @model_validator(mode="after")
    def _ratios(self) -> BarrierConfig:
        if self.R_vac >= self.R_wall:
            raise ValueError(f"R_vac ({self.R_vac}) must be below R_wall ({self.R_wall})")
        return self


class InstrumentConfig(_Section):
    """The future's contract terms: the ES multiplier in USD per point per contract (ES 50; MES 5).
    Read by the tape (sweep notional) and fuel (GEX in USD) engines."""

    es_multiplier_usd_per_pt: Annotated[float, Field(gt=0.0, le=1000.0)] = 50.0


class TapeConfig(_Section):
    """Tape-engine thresholds: sweep notional in USD (>= 0), gap between a sweep's prints in ms
    (0-10,000]."""

    SWEEP_MIN_NOTIONAL_usd: Annotated[float, Field(ge=0.0)] = 500_000.0
    SWEEP_MAX_GAP_MS: Annotated[float, Field(gt=0.0, le=10_000.0)] = 100.0


class FuelConfig(_Section):
    """Options/gamma settings: strikes within FUEL_STRIKE_RANGE_pt of the future (0-500]; the
    |net dealer GEX| in USD per 1% beyond which the effect is AMPLIFY/DAMPEN (>= 0)."""

    FUEL_STRIKE_RANGE_pt: Points = 75.0
    gamma_effect_threshold_usd: Annotated[float, Field(ge=0.0)] = 1.0e8


class ScoreConfig(_Section):
    """Composite break score: weights in [0, 1] (not all zero), thresholds 0-100 with
    REJECT < BREAK, hold time 0-60 s and EWMA half-lives in (0, 60] s."""

    w_L: Fraction = 0.45
    w_H: Fraction = 0.35
    w_T: Fraction = 0.20
    BREAK_threshold: Score = 80.0
    REJECT_threshold: Score = 20.0
    TRIGGER_HOLD_TIME_s: Annotated[float, Field(ge=0.0, le=60.0)] = 3.0
    tau_score_s: Annotated[float, Field(gt=0.0, le=60.0)] = 2.0
    tau_velocity_s: Annotated[float, Field(gt=0.0, le=60.0)] = 1.5
    tau_delta_liq_s: Annotated[float, Field(gt=0.0, le=60.0)] = 3.0

    @model_validator(mode="after")
    def _consistent(self) -> ScoreConfig:
        if self.w_L + self.w_H + self.w_T <= 0:
            raise ValueError("score weights w_L, w_H, w_T are all zero")
        if self.REJECT_threshold >= self.BREAK_threshold:
            raise ValueError(
                f"REJECT_threshold ({self.REJECT_threshold}) must be below BREAK_threshold ({self.BREAK_threshold})"
            )
        return self


ATR_MULTIPLES_DEFAULT = (
    3.0,
    7.5,
    22.5,
)  # 10/25/75 pt at the real bars' median 1-minute ATR (3.3 pt, 55 sessions)


class LabelsConfig(_Section):
    """Competing-risk labels: look-forward in minutes (0-120]; 1 to 5 thresholds in points,
    increasing, each in (0, 500], through (BREAK) or away from (BOUNCE) the level. The first is the
    primary outcome; the `strength` head needs a second."""

    LOOKFORWARD_MINUTES: Annotated[float, Field(gt=0.0, le=120.0)] = 8.0
    thresholds_pt: Annotated[tuple[Points, ...], Field(min_length=1, max_length=5)] = (10.0, 25.0, 75.0)
    # Bar tier (DESIGN §6): thresholds in points, or in multiples of the mean true range of the
    # `atr_bars` one-minute bars before the touch (1-5 increasing multiples in (0, 100]).
    threshold_unit: Literal["points", "atr"] = "points"
    atr_multiples: Annotated[
        tuple[Annotated[float, Field(gt=0.0, le=100.0, allow_inf_nan=False)], ...],
        Field(min_length=1, max_length=5),
    ] = ATR_MULTIPLES_DEFAULT
    atr_bars: Annotated[int, Field(ge=5, le=390)] = 30

    @field_validator("thresholds_pt")
    @classmethod
    def _thresholds(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        return _increasing(v, "thresholds_pt")

    @field_validator("atr_multiples")
    @classmethod
    def _multiples(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        return _increasing(v, "atr_multiples")


class ModelConfig(_Section):
    """XGBoost head and walk-forward settings (trees 1-5000, depth 1-16, learning rate (0, 1],
    at least one training date and row, purge 0-20 dates, at least one refit, bootstrap >= 100, alpha in
    (0, 0.5))."""

    n_estimators: Annotated[int, Field(ge=1, le=5000)] = 200
    max_depth: Annotated[int, Field(ge=1, le=16)] = 4
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    min_train_dates: Annotated[int, Field(ge=1, le=1000)] = 2
    # A walk-forward step is judged only when its training dates hold at least this many rows of
    # the head (and both classes): a model fit on a dozen touches is noise, and its held-out scores
    # made the demo's pooled AUCs swing far below 0.5 (issue 20). Counted per head, so the
    # direction head (break or bounce touches only) starts later than the tradeable head.
    min_train_rows: Annotated[int, Field(ge=1, le=1_000_000)] = 50
    purge_dates: Annotated[int, Field(ge=0, le=20)] = 0
    # Walk-forward refits at most this often: test dates go in blocks of ceil(dates / max_refits)
    # consecutive dates (1 date per block up to max_refits dates; 1,000 dates: blocks of 17, under a
    # month), so years of bar-tier history cost max_refits fits per head, not one per date.
    max_refits: Annotated[int, Field(ge=1, le=100_000)] = 60
    seed: int = 7
    # Promotion gate: the model's held-out AUC must beat each baseline's with the one-sided
    # lower bound (paired bootstrap over held-out touches) of the AUC difference above zero.
    gate_bootstrap: Annotated[int, Field(ge=100, le=100_000)] = 1000
    gate_alpha: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.05


class BacktestConfig(_Section):
    """Costs and rules of the level-trade backtest (issue 22; `research.backtest`). Prices in points,
    fees in USD per contract per side. Defaults: half a tick of spread per side (ES tick 0.25 pt), one
    tick of slippage on stop fills, a retail broker's commission and the CME Globex non-member ES fee
    plus the NFA fee (about $1.40). target_pt / stop_pt default to the first label threshold (the
    primary outcome's 10 pt); the model policy's P(BREAK) threshold is chosen on earlier dates only
    from `model_thresholds` (each in [0.5, 1): trade the break at p >= t, the fade at p <= 1 - t)."""

    half_spread_pt: Annotated[float, Field(ge=0.0, le=10.0)] = 0.125
    stop_slippage_pt: Annotated[float, Field(ge=0.0, le=20.0)] = 0.25
    commission_usd_per_side: Annotated[float, Field(ge=0.0, le=100.0)] = 0.85
    exchange_fees_usd_per_side: Annotated[float, Field(ge=0.0, le=100.0)] = 1.40
    target_pt: Annotated[float | None, Field(gt=0.0, le=500.0)] = None
    stop_pt: Annotated[float | None, Field(gt=0.0, le=500.0)] = None
    model_thresholds: Annotated[tuple[float, ...], Field(min_length=1, max_length=20)] = (
        0.5, 0.55, 0.6, 0.65, 0.7, 0.75,
    )  # fmt: skip
    min_trades_for_threshold: Annotated[int, Field(ge=1, le=10_000)] = 20
    bootstrap: Annotated[int, Field(ge=100, le=100_000)] = 1000

    @field_validator("model_thresholds")
    @classmethod
    def _thresholds(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        bad = [t for t in v if not 0.5 <= t < 1.0]
        if bad:
            raise ValueError(f"model_thresholds must lie in [0.5, 1): {bad}")
        return _increasing(v, "model_thresholds")


class LiveConfig(_Section):
    """Live-service cadence: a payload every SNAP_INTERVAL_MS of event time (10-10,000 ms)."""

    SNAP_INTERVAL_MS: Annotated[int, Field(ge=10, le=10_000)] = 250


class Config(_Section):
    """All settings, one frozen section per concern (DESIGN §5). Each field's docstring states its
    documented range; values outside it raise pydantic's ValidationError naming the field."""

    windows: WindowsConfig = WindowsConfig()
    bands: BandsConfig = BandsConfig()
    session: SessionConfig = SessionConfig()
    levels: LevelsConfig = LevelsConfig()
    barrier: BarrierConfig = BarrierConfig()
    instrument: InstrumentConfig = InstrumentConfig()
    tape: TapeConfig = TapeConfig()
    fuel: FuelConfig = FuelConfig()
    score: ScoreConfig = ScoreConfig()
    labels: LabelsConfig = LabelsConfig()
    model: ModelConfig = ModelConfig()
    backtest: BacktestConfig = BacktestConfig()
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
