"""Competing-risk touch labels (DESIGN §6).

From the touch, within LOOKFORWARD_MINUTES, which threshold is reached first: through the level
(BREAK: below it for SUPPORT, above it for RESISTANCE) or away from it (BOUNCE), measured from
the level price in points, for each of `labels.thresholds_pt` (default 10, 25, 75). The primary `outcome` uses the first
threshold; CHOP when neither side is reached. Uses trades strictly after the touch.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from spymaster_core import schemas as S
from spymaster_core.config import Config


def label_one(
    ts: np.ndarray,
    price: np.ndarray,
    t_touch: int,
    level: float,
    direction: str,
    thresholds: tuple[float, ...],
    lookforward_ns: int,
) -> dict:
    """Label one touch from the trade path (`ts` ns sorted, `price` points).

    Returns outcome per threshold, time to the first threshold (s), strength (highest threshold
    reached on the primary outcome's side, 0 for CHOP), max excursion through/away (points) and
    whether the data covers the whole look-forward.
    """
    lo = np.searchsorted(ts, t_touch, side="right")
    hi = np.searchsorted(ts, t_touch + lookforward_ns, side="right")
    p, t = price[lo:hi], ts[lo:hi]
    through = (level - p) if direction == "SUPPORT" else (p - level)  # > 0 beyond the level
    out: dict = {}
    firsts: list[tuple[str, float | None]] = []
    for thr in thresholds:
        hit_b = np.flatnonzero(through >= thr)
        hit_u = np.flatnonzero(-through >= thr)
        ib = hit_b[0] if len(hit_b) else None
        iu = hit_u[0] if len(hit_u) else None
        if ib is None and iu is None:
            res, when = "CHOP", None
        elif iu is None or (ib is not None and ib < iu):
            res, when = "BREAK", (t[ib] - t_touch) / 1e9
        else:
            res, when = "BOUNCE", (t[iu] - t_touch) / 1e9
        out[S.outcome_column(thr)] = res
        firsts.append((res, when))
    primary, when = firsts[0]
    strength = 0.0
    for thr, (res, _) in zip(thresholds, firsts, strict=True):
        if primary != "CHOP" and res == primary:
            strength = float(thr)
    out.update(
        outcome=primary,
        time_to_threshold_s=when,
        strength_pt=strength,
        max_through_pt=float(max(through.max(), 0.0)) if len(p) else 0.0,
        max_away_pt=float(max((-through).max(), 0.0)) if len(p) else 0.0,
        lookforward_complete=bool(len(ts) and ts[-1] >= t_touch + lookforward_ns),
    )
    return out


def label_touches(trades: pl.DataFrame, touches: pl.DataFrame, cfg: Config) -> pl.DataFrame:
    """`silver.labels.v1` rows (`schemas.labels_schema(cfg.labels.thresholds_pt)`), one per touch.
    trades: `ts_event_ns`, `price` of the date."""
    empty = pl.from_arrow(S.labels_schema(cfg.labels.thresholds_pt).arrow.empty_table())
    if touches.is_empty():
        return empty
    tr = trades.sort("ts_event_ns")
    ts, px = tr["ts_event_ns"].to_numpy(), tr["price"].to_numpy()
    lf = int(cfg.labels.LOOKFORWARD_MINUTES * 60 * 1e9)
    rows = []
    for r in touches.iter_rows(named=True):
        lab = label_one(ts, px, r["ts_ns"], r["level_price"], r["direction"], cfg.labels.thresholds_pt, lf)
        rows.append({"touch_id": r["touch_id"], **lab})
    df = pl.DataFrame(rows)
    return df.select([pl.col(c).cast(t) for c, t in empty.schema.items()])
