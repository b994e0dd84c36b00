"""Batch and live compute the same features: replaying a simulated day event by event through
`EngineState.update` (the live core's path) gives, at every touch, every Silver feature equal to
1e-9 relative (strings exactly)."""

from __future__ import annotations

import math

import numpy as np

from spymaster_core.config import DEFAULT_CONFIG as CFG
from spymaster_core.engines import feature_row
from spymaster_core.engines import streams as replay
from spymaster_core.research import features


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-12) or a == b


def test_event_by_event_replay_equals_silver_features(sim_day, monkeypatch) -> None:
    from spymaster_core.engines import state as state_mod

    # Flush the live buffers every 3 events, so the kernels' carried state (previous book, pending
    # fills, OFI's previous update, 1 s samples) crosses a call boundary everywhere.
    monkeypatch.setattr(state_mod, "FLUSH_EVENTS", 3)
    d = sim_day
    assert d.touches.height >= 5, "the simulated day should have touches"
    batch = features.touch_features(
        features.mbp10_batches(d.mbp10_files), d.trades, d.touches, d.levels, d.date, CFG, d.options
    )

    st = features.build_state(d.date, CFG, d.options)
    events = replay.merged_events(
        features.mbp10_batches(d.mbp10_files, batch_rows=10_000), d.trades, d.options
    )
    pending = next(events, None)
    fed = 0
    live_rows = []
    for r in d.touches.sort("ts_ns", "level_id").iter_rows(named=True):
        t = int(r["ts_ns"])
        while pending is not None and pending.ts_event_ns < t:
            st.update(pending)
            fed += 1
            pending = next(events, None)
        others = [(i, p) for i, p in features.levels_known_at(d.levels, t) if i != r["level_id"]]
        live_rows.append(
            {
                "touch_id": r["touch_id"],
                **st.level_features(t, float(r["level_price"]), r["direction"], others),
            }
        )
    # snapshot(ts) (the live core's call) reports the touched level with those same features.
    known = features.levels_known_at(d.levels, t)
    snap = st.snapshot(t, [(i, "K", p) for i, p in known])
    mine = [lv for lv in snap["levels"] if lv["id"] == r["level_id"]]
    assert len(mine) == 1 and snap["bid"] < snap["ask"]
    if mine[0]["direction"] == r["direction"]:
        assert all(
            _close(mine[0][c], live_rows[-1][c])
            for c in feature_row.feature_columns(CFG.windows.kinematics_horizons_s)
            + feature_row.STRING_COLUMNS
        )
    assert all(abs(lv["price"] - snap["spot"]) <= CFG.bands.MONITOR_BAND_pt for lv in snap["levels"])
    assert fed > 50_000  # the live path really consumed the session up to the last touch, one by one

    cols = feature_row.feature_columns(CFG.windows.kinematics_horizons_s) + feature_row.STRING_COLUMNS
    # The row builder and the column list are one feature set: no column without a value, no
    # value without a column (both live in engines/feature_row.py).
    assert sorted(live_rows[0]) == sorted(["touch_id", *cols]) and len(cols) == len(set(cols))
    mismatches = []
    for b, lv in zip(batch.iter_rows(named=True), live_rows, strict=True):
        assert b["touch_id"] == lv["touch_id"]
        mismatches += [(b["touch_id"], c, b[c], lv[c]) for c in cols if not _close(b[c], lv[c])]
    assert not mismatches, mismatches[:10]
    # The comparison is not vacuous: the engines produced varied, non-trivial values.
    assert batch["barrier_churn"].sum() > 0 and batch["fuel_net_dealer_gamma_usd"].drop_nulls().len() > 0
    assert np.unique(batch["break_score_smooth"].to_numpy()).size > 1
