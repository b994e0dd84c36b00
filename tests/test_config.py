"""Config values outside their documented ranges are refused with the field named; a JSON file that
does not validate is refused with the file named."""

from __future__ import annotations

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
        Config.model_validate(override)


def test_defaults_and_partial_overrides_validate(tmp_path: Path) -> None:
    assert Config.model_validate({}) == DEFAULT_CONFIG
    f = tmp_path / "c.json"
    f.write_text('{"labels": {"thresholds_pt": [5, 12.5]}}')
    cfg = load_config(str(f))
    assert cfg.labels.thresholds_pt == (5.0, 12.5) and cfg.bands == DEFAULT_CONFIG.bands
    f.write_text('{"labels": {"thresholds_pt": [5, 5]}}')
    with pytest.raises(ValueError, match="c.json: invalid Spymaster config"):
        load_config(str(f))
