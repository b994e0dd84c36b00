"""The simulator's ground truth and the oracle the model study measures against (issue 20)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ml import sim_study
from spymaster_core import calendar
from spymaster_core.sim.session import read_truth, simulate_session

DATE = "2026-11-16"


def test_truth_is_written_beside_the_files_and_equals_what_was_planted(tmp_path: Path) -> None:
    sim = simulate_session(DATE, 5, tmp_path, scale="small")
    truth = read_truth(tmp_path, DATE)
    assert truth is not None and truth.height == len(sim.planted) >= 1
    t0 = calendar.et_ns(DATE, "04:00")
    assert truth["ts_ns"].to_list() == [t0 + s * 10**9 for s, *_ in sim.planted]
    assert truth["outcome"].to_list() == [o for _, _, o, _ in sim.planted]
    assert set(truth["regime"]) <= {"vacuum", "wall", "pin"} and set(truth["short_gamma"]) == {
        sim.short_gamma
    }
    assert read_truth(tmp_path, "2026-11-17") is None


def test_planted_score_matches_touches_by_side_level_and_time() -> None:
    t = calendar.et_ns(DATE, "10:00")
    truth = pl.DataFrame(
        {
            "ts_ns": [t + 30 * 10**9, t + 3600 * 10**9, t + 7200 * 10**9],
            "level_price": [4100.0, 4120.0, 4090.0],
            "outcome": ["BREAK", "BOUNCE", "CHOP"],
            "direction": ["SUPPORT", "RESISTANCE", "SUPPORT"],
        }
    )
    touches = pl.DataFrame(
        {
            "touch_id": ["a", "b", "c", "d", "e"],
            "ts_ns": [t, t + 3590 * 10**9, t + 7200 * 10**9, t, t + 3000 * 10**9],
            "level_price": [4100.25, 4120.0, 4090.0, 4100.0, 4120.0],
            "direction": ["SUPPORT", "RESISTANCE", "SUPPORT", "RESISTANCE", "RESISTANCE"],
        }
    )
    s = sim_study.planted_score(touches, truth)
    got = dict(zip(s["touch_id"], s["oracle_p_break"], strict=True))
    # a: a tick from the BREAK's level, 30 s before it; b: the BOUNCE; c: a planted CHOP; d: wrong
    # side; e: ten minutes before the BOUNCE (outside the match window).
    assert got == {"a": 1.0, "b": 0.0, "c": 0.5, "d": 0.5, "e": 0.5}
    assert s.filter(pl.col("touch_id") == "d")["planted_outcome"][0] is None
    none = sim_study.planted_score(touches, None)
    assert none["oracle_p_break"].to_list() == [0.5] * 5


def test_recovery() -> None:
    assert sim_study.recovery(0.65, 0.8) == pytest.approx(0.5)
    assert sim_study.recovery(0.7, 0.5) is None and sim_study.recovery(None, 0.9) is None
    assert sim_study.recovery(0.6, 0.515) is None  # an oracle this close to chance knows nothing
