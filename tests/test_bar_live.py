"""Live with a bar-tier champion (issue 19, item 6): the live core builds 1-minute bars from the trades
it is fed and scores from bar features equal to the batch bar tier's on a replayed date."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from spymaster_core.config import DEFAULT_CONFIG as CFG
from spymaster_core.engines import streams as replay
from spymaster_core.research import bar_features, bar_study, bar_touches, bars, features
from spymaster_core.research.bar_stream import BarStream
from spymaster_live.core import Scorer, SignalCore, with_model


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)  # type: ignore[arg-type]
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-12)


def _batch(sim_day) -> tuple[pl.DataFrame, pl.DataFrame]:  # noqa: ANN001
    """The batch bar tier of the simulated date from the bars of its trades: touches and features."""
    d = sim_day
    b = bars.one_minute_bars(d.trades, d.front_month, "sim")
    lv, _ = bar_study.date_levels({d.date: b}, d.date, CFG)
    tc = bar_touches.detect_bar_touches(b, lv, d.date, CFG)
    return tc, bar_features.bar_touch_features(b, tc, lv, d.date, CFG, [])


@pytest.mark.slow
def test_live_bar_features_equal_batch_bar_features_on_a_replayed_date(sim_day) -> None:
    """Every event of the date goes through `SignalCore.on_event` in time order; at each batch bar
    touch t (a bar start) the bar features the core's payload reads at t (before the touch bar has
    closed) equal the batch row of that touch, column by column; and the payloads' levels carry them."""
    d = sim_day
    tc, batch = _batch(d)
    assert tc.height >= 10, "the simulated day should have bar touches"
    stream = BarStream(d.date, CFG, {}, d.front_month)
    core = SignalCore(d.date, CFG, d.levels, d.touches, d.options, d.front_month, bar_stream=stream)
    events = replay.merged_events(features.mbp10_batches(d.mbp10_files), d.trades, d.options)
    pending = next(events, None)
    payload_checks = 0
    live: dict[str, dict] = {}
    for r in tc.sort("ts_ns").iter_rows(named=True):
        t = int(r["ts_ns"])
        while pending is not None and pending.ts_event_ns < t:
            p = core.on_event(pending)
            if p is not None:  # a payload's levels carry the stream's rows of that minute
                rows = stream.rows_at(p["ts_ns"])
                for lv in p["levels"]:
                    if lv["id"] in rows:
                        got, want = lv["bar_features"], rows[lv["id"]]
                        assert all(_same(got[k], want[k]) for k in bar_features.NUMERIC)
                        payload_checks += 1
            pending = next(events, None)
        row = stream.rows_at(t).get(r["level_id"])
        assert row is not None, f"level {r['level_id']} unknown to the live core at {t}"
        assert row["direction"] == r["direction"] and row["level_price"] == r["level_price"]
        live[r["touch_id"]] = row
    assert payload_checks > 1000
    mismatches = [
        (b["touch_id"], k, b[k], live[b["touch_id"]][k])
        for b in batch.iter_rows(named=True)
        for k in [*bar_features.NUMERIC, "level_kind", "engines_missing_reason"]
        if not (
            b[k] == live[b["touch_id"]][k] if isinstance(b[k], str) else _same(b[k], live[b["touch_id"]][k])
        )
    ]
    assert not mismatches, mismatches[:5]
    # The features are not degenerate: velocities and volatilities vary across the touches.
    assert batch["velocity_5m_pt_per_min"].drop_nulls().n_unique() > 5
    assert batch["realized_vol_30m_pt"].drop_nulls().std() > 0


def test_bar_scorer_scores_the_payloads_bar_features_like_training(sim_day) -> None:
    """A bar-tier champion (`resolution` 1m) reads each level's `bar_features`: its P(BREAK) equals the
    model's prediction on the same rows through the training matrix; levels without bar features
    (VWAP: trade path only) keep model: null."""
    import xgboost as xgb

    _tc, batch = _batch(sim_day)
    x, _ = bar_features.model_matrix(batch)
    y = (np.nan_to_num(x[:, 0]) > 0).astype(int)  # any 0/1 target: the test is about the plumbing
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    scorer = Scorer(model, "7", bar_touches.RESOLUTION)
    rows = batch.head(3).to_dicts()
    payload = {
        "levels": [
            {"id": "a", "bar_features": {k: rows[0][k] for k in bar_features.NUMERIC}, "model": None},
            {"id": "VWAP", "bar_features": None, "model": None},
            {"id": "b", "bar_features": {k: rows[2][k] for k in bar_features.NUMERIC}, "model": None},
        ]
    }
    out = with_model(payload, scorer)
    want = model.predict_proba(bar_features.model_matrix(batch[[0, 2]])[0])[:, 1]
    assert [out["levels"][i]["model"]["p_break"] for i in (0, 2)] == pytest.approx(want.tolist())
    assert out["levels"][1]["model"] is None and out["model_version"] == "7"


@pytest.mark.slow
def test_spymaster_live_scores_from_bars_when_the_champion_is_a_bar_model(sim_day, tmp_path) -> None:
    """`bars study --models --promote` registers the bar direction model and, past the gate, makes it
    the champion; the live service then loads it as a bar scorer, builds bars from the replayed
    trades, and every written signal of a level the bar tier knows carries its P(BREAK), equal to the
    model on the level's bar features; a gate failure promotes nothing."""
    import asyncio

    import xgboost as xgb

    from ml import bar_models
    from spymaster_live import bus
    from spymaster_live.service import LiveOptions, LiveService, load_scorer

    _tc, batch = _batch(sim_day)
    x, _ = bar_features.model_matrix(batch)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, (np.nan_to_num(x[:, 0]) > 0).astype(int))
    res: dict = {"direction": {"n_test": 40, "model_auc": 0.6, "gate_passed": False, "final_model": model}}
    _run, v1, promoted = bar_models.log_study(tmp_path, res, {"source": "test"}, promote=True)
    assert v1 == "1" and not promoted and load_scorer(tmp_path) is None
    res["direction"]["gate_passed"] = True
    _run, v2, promoted = bar_models.log_study(tmp_path, res, {"source": "test"}, promote=True)
    scorer = load_scorer(tmp_path)
    assert promoted and scorer is not None and scorer.bars and scorer.version == v2 == "2"

    opts = LiveOptions(
        date=sim_day.date, landing=tmp_path / "landing", lake_root=tmp_path / "lake", data_dir=tmp_path,
        speed=0.0, port=bus.free_port(), use_model=True, exit_when_replayed=True, start_et="10:30",
        end_et="10:36",
    )  # fmt: skip
    svc = LiveService(opts, CFG, sim_day)
    asyncio.run(svc.run())
    assert svc.scorer is not None and svc.scorer.bars
    files = list((tmp_path / "lake" / "gold" / "streaming" / "signals").rglob("part-*.parquet"))
    sig = pl.read_parquet(files)
    import orjson

    levels = [orjson.loads(j) for j in sig["level_json"].drop_nulls()]
    with_bars = [lv for lv in levels if lv.get("bar_features")]
    assert len(with_bars) > 100, "levels near price in the window carry bar features"
    assert all(lv["model"]["version"] == "2" for lv in with_bars)
    frame = pl.DataFrame([lv["bar_features"] for lv in with_bars], infer_schema_length=None)
    want = model.predict_proba(bar_features.model_matrix(frame)[0])[:, 1]
    assert [lv["model"]["p_break"] for lv in with_bars] == pytest.approx(want.tolist(), rel=1e-6)
    assert all(lv["model"] is None for lv in levels if not lv.get("bar_features"))
