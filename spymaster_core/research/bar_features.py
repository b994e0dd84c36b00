"""Causal features of a touch at bar resolution (DESIGN §6 "Bar resolution"; issue 19).

A touch at bar start t sees only the 1-minute bars that closed at or before t (bars starting before
t). Columns (points, minutes; null where undefined):
- `distance_pt`: last close minus the level (signed: > 0 above);
- `velocity_{1,5,15}m_pt_per_min`: close change over the last k minutes / k (bars k minutes back by
  clock; null across a gap); `accel_pt_per_min2`: velocity_1m - velocity_5m;
- `realized_vol_{30,60}m_pt`: std of 1-minute close changes over the last 30/60 bars;
  `range_{30,60}m_pt`: high - low over them;
- `volume_vs_prior_15m`: volume of the last 15 minutes over the mean of the same clock minutes on
  the prior sessions given (null without volume or history);
- `minutes_since_open`, `level_age_min` (since the level was first known), `prior_touches`,
  `is_support`;
- `overnight_position`: where the last close sits in the range of the session's bars before the
  RTH open (0 = its low, 1 = its high); `gap_from_prior_close_pt`: the RTH open minus the prior
  session's last RTH close;
- `nearest_other_level_pt`: distance from this level to the nearest other level known at t.
Barrier, tape and fuel need the book, trades and options: `engines_missing_reason` = `bars only`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core.calendar import MINUTE_NS
from spymaster_core.config import Config

VELOCITY_MINUTES = (1, 5, 15)
VOL_WINDOWS = (30, 60)
VOLUME_MINUTES = 15
PRIOR_SESSIONS = 3  # earlier trading dates the features read (previous close, volume profile)
NUMERIC = [
    "distance_pt",
    *(f"velocity_{k}m_pt_per_min" for k in VELOCITY_MINUTES),
    "accel_pt_per_min2",
    *(f"realized_vol_{w}m_pt" for w in VOL_WINDOWS),
    *(f"range_{w}m_pt" for w in VOL_WINDOWS),
    "volume_vs_prior_15m",
    "minutes_since_open",
    "level_age_min",
    "overnight_position",
    "gap_from_prior_close_pt",
    "nearest_other_level_pt",
    "prior_touches",
    "is_support",
]
"""The bar model's input columns, in order (floats; null -> NaN for XGBoost)."""


def model_matrix(rows: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(float32 matrix, names) of a bar model's inputs: the NUMERIC columns of `rows` in order
    (null -> NaN, which XGBoost treats as missing). Training (`ml.bar_models`) and the live scorer
    both call this."""
    x = rows.select(pl.col(NUMERIC).cast(pl.Float64)).to_numpy().astype(np.float32)
    return x, list(NUMERIC)


def _clock_close(ts: np.ndarray, close: np.ndarray, at_ns: int) -> float:
    """Close of the bar starting exactly at `at_ns` (NaN when that minute has no bar)."""
    i = int(np.searchsorted(ts, at_ns))
    return float(close[i]) if i < len(ts) and ts[i] == at_ns else float("nan")


def bar_touch_features(
    bars_1m: pl.DataFrame,
    touches: pl.DataFrame,
    levels: pl.DataFrame,
    date: str,
    cfg: Config,
    prior_sessions: list[pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """One row per touch: `touch_id`, `date`, `level_kind`, the NUMERIC columns and
    `engines_missing_reason` (module docstring). bars_1m: the date's `futures.ohlcv_1m.v1` rows;
    touches: its bar-resolution `silver.touches.v2`; levels: its `silver.levels.v1`;
    prior_sessions: earlier dates' 1-minute bars, oldest first (`prior_dates`: the previous close comes
    only from the previous trading date; the volume profile from all given)."""
    b = bars_1m.sort("bar_start_ns")
    ts = b["bar_start_ns"].to_numpy()
    o, h, lo, c = (b[k].to_numpy().astype(np.float64) for k in ("open", "high", "low", "close"))
    vol = b["volume"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    rth0 = calendar.et_ns(date, cfg.session.rth_open)
    on = ts < rth0
    on_hi, on_lo = (float(h[on].max()), float(lo[on].min())) if on.any() else (np.nan, np.nan)
    first_rth = int(np.searchsorted(ts, rth0))
    rth_open_px = float(o[first_rth]) if first_rth < len(ts) else np.nan
    prior = [p for p in (prior_sessions or []) if not p.is_empty()]
    prev_close = np.nan
    last = prior[-1].sort("bar_start_ns") if prior else None
    pd_ = calendar.trading_date_of(int(last["bar_start_ns"][-1])).isoformat() if last is not None else None
    if last is not None and pd_ == prior_dates(date)[-1]:  # the previous trading date's bars, no older
        p0, p1 = calendar.et_ns(pd_, cfg.session.rth_open), calendar.et_ns(pd_, cfg.session.rth_close)
        rth_prev = last.filter((pl.col("bar_start_ns") >= p0) & (pl.col("bar_start_ns") < p1))
        prev_close = float(rth_prev["close"][-1]) if rth_prev.height else np.nan
    # Per level its (valid_from_ns, price) in time order; per prior session (RTH open ns, bar starts,
    # volumes): arrays made once, looked up per touch.
    series = {
        str(lid): (g["valid_from_ns"].to_numpy(), g["price"].to_numpy())
        for (lid,), g in levels.sort("valid_from_ns").group_by("level_id", maintain_order=True)
    }
    profiles = [_volume_profile(p, cfg.session.rth_open) for p in prior]
    first_seen = dict(levels.group_by("level_id").agg(pl.col("valid_from_ns").min()).iter_rows())
    rows = []
    for r in touches.sort("ts_ns").iter_rows(named=True):
        t = int(r["ts_ns"])
        n = int(np.searchsorted(ts, t))  # bars [0, n) closed at or before t
        row: dict = {"touch_id": r["touch_id"], "date": date, "level_kind": r["level_kind"]}
        last_close = c[n - 1] if n else np.nan
        row["distance_pt"] = last_close - r["level_price"]
        vel = {}
        for k in VELOCITY_MINUTES:
            back = _clock_close(ts[:n], c[:n], t - (k + 1) * MINUTE_NS)
            vel[k] = (last_close - back) / k if n and ts[n - 1] == t - MINUTE_NS else np.nan
            row[f"velocity_{k}m_pt_per_min"] = vel[k]
        row["accel_pt_per_min2"] = vel[1] - vel[5]
        for w in VOL_WINDOWS:
            seg = slice(max(0, n - w), n)
            diffs = np.diff(c[max(0, n - w - 1) : n])
            row[f"realized_vol_{w}m_pt"] = float(diffs.std()) if len(diffs) >= 2 else np.nan
            row[f"range_{w}m_pt"] = float(h[seg].max() - lo[seg].min()) if n else np.nan
        row["volume_vs_prior_15m"] = _volume_ratio(ts[:n], vol[:n], t, t - rth0, profiles)
        row["minutes_since_open"] = (t - rth0) / MINUTE_NS
        row["level_age_min"] = (t - first_seen[r["level_id"]]) / MINUTE_NS
        row["overnight_position"] = (last_close - on_lo) / (on_hi - on_lo) if on_hi > on_lo else np.nan
        row["gap_from_prior_close_pt"] = rth_open_px - prev_close
        latest = [
            float(px[i - 1])
            for lid, (vf, px) in series.items()
            if lid != r["level_id"] and (i := int(np.searchsorted(vf, t, side="right"))) > 0
        ]
        row["nearest_other_level_pt"] = (
            float(np.abs(np.array(latest) - r["level_price"]).min()) if latest else np.nan
        )
        row["prior_touches"] = float(r["prior_touches"])
        row["is_support"] = 1.0 if r["direction"] == "SUPPORT" else 0.0
        rows.append(row)
    schema = {
        "touch_id": pl.String,
        "date": pl.String,
        "level_kind": pl.String,
        **dict.fromkeys(NUMERIC, pl.Float64),
    }
    if not rows:
        return pl.DataFrame(schema=schema).with_columns(engines_missing_reason=pl.lit(None, pl.String))
    out = pl.DataFrame(rows, schema=schema).with_columns(pl.col(NUMERIC).fill_nan(None))
    return out.with_columns(engines_missing_reason=pl.lit("bars only"))


def prior_dates(date: str, n: int = PRIOR_SESSIONS) -> list[str]:
    """The `n` trading dates before `date`, oldest first: the sessions the features may read."""
    return [d.isoformat() for d in calendar.previous_trading_dates(date, n)]


def _volume_profile(session: pl.DataFrame, rth_open: str) -> tuple[int, np.ndarray, np.ndarray] | None:
    """(RTH open ns, bar starts, volumes) of a prior session; None when it has no volume."""
    if session["volume"].null_count():
        return None
    b = session.sort("bar_start_ns")
    pdate = calendar.trading_date_of(int(b["bar_start_ns"][-1])).isoformat()
    return (
        calendar.et_ns(pdate, rth_open),
        b["bar_start_ns"].to_numpy(),
        b["volume"].to_numpy().astype(np.float64),
    )


def _volume_ratio(
    ts: np.ndarray,
    vol: np.ndarray,
    t: int,
    offset_ns: int,
    profiles: list[tuple[int, np.ndarray, np.ndarray] | None],
) -> float:
    """Volume of the last VOLUME_MINUTES minutes before t over the mean volume of the same clock
    minutes (`offset_ns` after each session's RTH open) on the prior sessions; NaN when undefined."""
    lo = int(np.searchsorted(ts, t - VOLUME_MINUTES * MINUTE_NS))
    now = vol[lo:]
    if not profiles or not len(now) or np.isnan(now).any():
        return np.nan
    past = []
    for prof in profiles:
        if prof is None:
            continue
        open_ns, pts, pvol = prof
        end = open_ns + offset_ns
        i0, i1 = np.searchsorted(pts, end - VOLUME_MINUTES * MINUTE_NS), np.searchsorted(pts, end)
        if i1 > i0:
            past.append(float(pvol[i0:i1].sum()))
    mean = float(np.mean(past)) if past else 0.0
    return float(now.sum()) / mean if mean > 0 else np.nan
