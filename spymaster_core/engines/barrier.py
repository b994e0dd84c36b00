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
    lo, hi = flow_window(flow_ts, t_ns, cfg)
    added, canceled, filled = _zone_flow(flow_side, flow_price, flow_added, flow_canceled, flow_filled, lo, hi,
                                         side, level, zone_half_width(cfg))  # fmt: skip
    return barrier_from_sums(added, canceled, filled, book_px, book_sz, baseline_depth, level, cfg)


def zone_half_width(cfg: Config) -> float:
    """Half width of the zone around a level: BARRIER_ZONE_TICKS ticks (points, + 1e-9)."""
    return cfg.bands.BARRIER_ZONE_TICKS * cfg.bands.tick_size_pt + 1e-9


def flow_window(flow_ts: np.ndarray, t_ns: int, cfg: Config) -> tuple[int, int]:
    """Row range [lo, hi) of the flow rows in [t - W_b, t)."""
    lo = int(flow_ts.searchsorted(t_ns - int(round(cfg.windows.W_b_s * 1e9)), side="left"))
    return lo, int(flow_ts.searchsorted(t_ns, side="left"))


def barrier_from_sums(added: float, canceled: float, filled: float, book_px: np.ndarray, book_sz: np.ndarray,
                      baseline_depth: float, level: float, cfg: Config) -> BarrierMetrics:  # fmt: skip
    """`barrier_metrics` from the window's zone sums (contracts) on the defending side."""
    depth, j = _zone_book(book_px, book_sz, level, zone_half_width(cfg))
    dpx, dsz = (float(book_px[j]), float(book_sz[j])) if j >= 0 else (float("nan"), 0.0)
    state, delta, r = classify(added, canceled, filled, depth, baseline_depth, cfg)
    churn = added + canceled + filled
    conf = min(1.0, churn / (10.0 * cfg.barrier.F_thresh_contracts))
    return BarrierMetrics(
        state, added, canceled, filled, delta, r, churn, depth, baseline_depth, dpx, dsz, conf
    )


class ZoneFlowSums:
    """The zone sums of `barrier_metrics` for windows that slide: the sums of the previous query
    of the same (level, side) are moved to the new row range by adding the rows that entered and
    subtracting those that left, instead of rescanning the W_b window (tens of thousands of rows).
    Amounts are whole contracts, so the result is exactly the full scan's. Rows are addressed
    absolutely (`base` = rows dropped before the arrays' first row) so eviction does not move them.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[float, int], tuple[int, int, float, float, float]] = {}

    def sums(self, side_arr: np.ndarray, price: np.ndarray, added: np.ndarray, canceled: np.ndarray,
             filled: np.ndarray, base: int, lo: int, hi: int, side: int, level: float,
             half: float) -> tuple[float, float, float]:  # fmt: skip
        """(added, canceled, filled) over rows [lo, hi) of `side` within `half` of `level`."""
        key = (round(level, 9), side)
        prev = self._last.get(key)
        cols = (side_arr, price, added, canceled, filled)
        if prev is None or prev[0] < base or (abs(lo + base - prev[0]) + abs(hi + base - prev[1])) > hi - lo:
            a, c, f = _zone_flow(*cols, lo, hi, side, level, half)
        else:
            a, c, f = prev[2], prev[3], prev[4]
            for x, y in ((hi, prev[1] - base), (prev[0] - base, lo)):
                if x != y:  # rows [min, max) entered (x > y: add) or left (subtract) at this end
                    da, dc, df = _zone_flow(*cols, min(x, y), max(x, y), side, level, half)
                    sign = 1.0 if x > y else -1.0
                    a, c, f = a + sign * da, c + sign * dc, f + sign * df
        if len(self._last) > 4096:
            self._last.clear()
        self._last[key] = (lo + base, hi + base, a, c, f)
        return a, c, f


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
