"""Config values outside their documented ranges are refused with the field named; a JSON file that
does not validate is refused with the file named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from spymaster_core.config import DEFAULT_CONFIG, Config, load_config


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"labels": {"thresholds_pt": [25, 10]}}, "thresholds_pt"),
        ({"labels": {"thresholds_pt": []}}, "thresholds_pt"),
        ({"labels": {"thresholds_pt": [0, 10]}}, "thresholds_pt"),
        ({"bands": {"TOUCH_BAND_pt": 6.0}}, "TOUCH_BAND_pt"),
        ({"barrier": {"R_vac": 2.0, "R_wall": 1.5}}, "R_vac"),
        ({"session": {"rth_open": "9:30"}}, "rth_open"),
        ({"session": {"opening_range_end": "09:00"}}, "out of order"),
        ({"score": {"REJECT_threshold": 90}}, "REJECT_threshold"),
        ({"windows": {"W_b_s": 0}}, "W_b_s"),
        ({"live": {"SNAP_INTERVAL_MS": 1}}, "SNAP_INTERVAL_MS"),
        ({"instrument": {"es_multiplier_usd_per_pt": -50}}, "es_multiplier_usd_per_pt"),
        ({"tape": {"es_multiplier_usd_per_pt": 50}}, "es_multiplier_usd_per_pt"),  # moved to instrument
    ],
)
def test_out_of_range_values_are_refused(override: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Config.model_validate_json(json.dumps(override))


# The probe family of issue 18: 25 bad values a user could write in a config file. Before strict
# types and ranges, 14 of them were accepted silently.
BAD_VALUES = [
    ("windows", "W_b_s", -1), ("windows", "W_b_s", 0), ("windows", "W_t_s", "NaN"), ("windows", "W_g_s", "inf"),
    ("windows", "W_b_s", "240"), ("windows", "kinematics_horizons_s", []), ("bands", "BARRIER_ZONE_TICKS", True),
    ("bands", "BARRIER_ZONE_TICKS", 2.5), ("bands", "MONITOR_BAND_pt", -5), ("session", "rth_open", "25:99"),
    ("session", "calendar", "NYSE"), ("session", "touch_window_end", 1330), ("levels", "sma_periods", []),
    ("levels", "SMA_WARMUP_DAYS", -1), ("levels", "enable_vwap", "yes"), ("barrier", "R_wall", 0),
    ("tape", "SWEEP_MAX_GAP_MS", "inf"), ("tape", "SWEEP_MIN_NOTIONAL_usd", "1e999"), ("fuel", "FUEL_STRIKE_RANGE_pt", 0),
    ("score", "w_L", -0.5), ("score", "BREAK_threshold", 150), ("labels", "thresholds_pt", []),
    ("labels", "LOOKFORWARD_MINUTES", 0), ("model", "n_estimators", True), ("live", "SNAP_INTERVAL_MS", 0),
]  # fmt: skip


def test_config_probe_every_bad_value_is_refused_with_its_field(tmp_path: Path) -> None:
    accepted = []
    for section, name, value in BAD_VALUES:
        text = json.dumps({section: {name: value}})
        if value in ("NaN", "inf", "1e999"):  # JSON numbers Python would write as NaN/Infinity
            text = text.replace(f'"{value}"', {"NaN": "NaN", "inf": "Infinity", "1e999": "1e999"}[value])
        f = tmp_path / "c.json"
        f.write_text(text)
        try:
            load_config(str(f))
            accepted.append((section, name, value))
        except ValueError as exc:
            assert "c.json" in str(exc) and name in str(exc), (section, name, str(exc)[:300])
    print(f"PROBE config bad_values={len(BAD_VALUES)} accepted_silently={len(accepted)}")
    assert accepted == []


def test_defaults_and_partial_overrides_validate(tmp_path: Path) -> None:
    assert Config.model_validate_json("{}") == DEFAULT_CONFIG
    f = tmp_path / "c.json"
    f.write_text('{"labels": {"thresholds_pt": [5, 12.5]}}')
    cfg = load_config(str(f))
    assert cfg.labels.thresholds_pt == (5.0, 12.5) and cfg.bands == DEFAULT_CONFIG.bands
    f.write_text('{"labels": {"thresholds_pt": [5, 5]}}')
    with pytest.raises(ValueError, match="c.json: invalid Spymaster config"):
        load_config(str(f))
