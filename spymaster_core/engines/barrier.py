"""Barrier engine (DESIGN §7): is the defending liquidity at a level being pulled, refilled,
eaten or holding?

Defending side: bids for a SUPPORT (price above the level), asks for a RESISTANCE. Zone: level
+/- BARRIER_ZONE_TICKS ticks. Over W_b before t, the flow rows (`book_flow`) on the defending
side in the zone sum to added, canceled, filled (contracts); delta_liq = added - canceled -
filled; R = added / (canceled + filled + eps). States, first match wins:
  VACUUM      R < R_vac and canceled > filled and delta_liq < -F_thresh (liquidity pulled)
  WALL        R > R_wall and delta_liq > F_thresh (liquidity refilled faster than it goes)
  ABSORPTION  filled > canceled and R >= 1 (eaten but replenished)
  CONSUMED    filled > canceled and R < 1 and delta_liq < -F_thresh (eaten faster than refilled)
  WEAK        depth in zone < half the session median of the defending side's depth over the
              same number of best levels (1 s samples since the session start)
  NEUTRAL     otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from spymaster_core.config import Config

STATES = ("VACUUM", "WALL", "ABSORPTION", "CONSUMED", "WEAK", "NEUTRAL")
EPS = 1e-9


@dataclass(frozen=True)
class BarrierMetrics:
    """Barrier accounting over W_b (contracts), the state, the defending quote in the zone
    (nearest the level: price points, size contracts; NaN/0 when none), churn = added + canceled +
    filled, depth_in_zone (contracts, latest book), baseline depth (session median, contracts) and
    confidence in [0, 1] (activity relative to F_thresh)."""

    state: str
    added: float
    canceled: float
    filled: float
    delta_liq: float
    replenishment_ratio: float
    churn: float
    depth_in_zone: float
    baseline_depth: float
    defending_price: float
    defending_size: float
    confidence: float


def classify(
    added: float,
    canceled: float,
    filled: float,
    depth_in_zone: float,
    baseline_depth: float,
    cfg: Config,
) -> tuple[str, float, float]:
    """(state, delta_liq, R) from the window's sums (see module docstring for the rules)."""
    b = cfg.barrier
    delta = added - canceled - filled
    r = added / (canceled + filled + EPS)
    if r < b.R_vac and canceled > filled and delta < -b.F_thresh_contracts:
        return "VACUUM", delta, r
    if r > b.R_wall and delta > b.F_thresh_contracts:
        return "WALL", delta, r
    if filled > canceled and r >= 1.0:
        return "ABSORPTION", delta, r
    if filled > canceled and r < 1.0 and delta < -b.F_thresh_contracts:
        return "CONSUMED", delta, r
    if baseline_depth > 0 and depth_in_zone < 0.5 * baseline_depth:
        return "WEAK", delta, r
    return "NEUTRAL", delta, r


def barrier_metrics(
    flow_ts: np.ndarray,
    flow_price: np.ndarray,
    flow_side: np.ndarray,
    flow_added: np.ndarray,
    flow_canceled: np.ndarray,
    flow_filled: np.ndarray,
    book_px: np.ndarray,
    book_sz: np.ndarray,
    baseline_depth: float,
    t_ns: int,
    level: float,
    direction: str,
    cfg: Config,
) -> BarrierMetrics:
    """Barrier metrics at t_ns for a level. flow_*: flow rows sorted by ts (`FlowRows` columns);
    rows in [t - W_b, t) are used. book_px, book_sz: the defending side's 10 levels (points,
    contracts) of the last book state before t. baseline_depth: session median depth of the
    defending side's best 2*BARRIER_ZONE_TICKS+1 levels (contracts)."""
    side = 1 if direction == "SUPPORT" else -1
    half = cfg.bands.BARRIER_ZONE_TICKS * cfg.bands.tick_size_pt + 1e-9
    lo = int(flow_ts.searchsorted(t_ns - int(round(cfg.windows.W_b_s * 1e9)), side="left"))
    hi = int(flow_ts.searchsorted(t_ns, side="left"))
    added, canceled, filled = _zone_flow(flow_side, flow_price, flow_added, flow_canceled, flow_filled, lo, hi,
                                         side, level, half)  # fmt: skip
    depth, j = _zone_book(book_px, book_sz, level, half)
    dpx, dsz = (float(book_px[j]), float(book_sz[j])) if j >= 0 else (float("nan"), 0.0)
    state, delta, r = classify(added, canceled, filled, depth, baseline_depth, cfg)
    churn = added + canceled + filled
    conf = min(1.0, churn / (10.0 * cfg.barrier.F_thresh_contracts))
    return BarrierMetrics(
        state, added, canceled, filled, delta, r, churn, depth, baseline_depth, dpx, dsz, conf
    )


def baseline_depth(sample_sz: np.ndarray, zone_levels: int) -> float:
    """Session median (contracts) of the sum of the best `zone_levels` sizes over 1 s book
    samples `sample_sz` (m, 10) of one side; 0 when there is no sample."""
    if len(sample_sz) == 0:
        return 0.0
    return float(np.median(sample_sz[:, :zone_levels].sum(axis=1)))


@numba.njit(cache=True, nogil=True)
def _zone_flow(side_arr, price, added, canceled, filled, lo, hi, side, level, half):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Sums of added, canceled, filled (contracts) over flow rows [lo, hi) of `side` within half
    of level. Whole contracts: exact in any order."""
    a = 0.0
    c = 0.0
    f = 0.0
    for i in range(lo, hi):
        if side_arr[i] == side and abs(price[i] - level) <= half:
            a += added[i]
            c += canceled[i]
            f += filled[i]
    return a, c, f


@numba.njit(cache=True, nogil=True)
def _zone_book(px, sz, level, half):  # type: ignore[no-untyped-def]  # pragma: no cover
    """(size in the zone, index of the zone price nearest the level or -1) of one book side."""
    depth = 0.0
    best = -1
    best_d = np.inf
    for j in range(px.shape[0]):
        d = abs(px[j] - level)
        if d <= half:  # False for an empty (NaN) level
            depth += sz[j]
            if d < best_d:
                best_d = d
                best = j
    return depth, best
