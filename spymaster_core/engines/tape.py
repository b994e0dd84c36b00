"""Tape engine (DESIGN §7): aggressive volume, velocity and sweeps near a level.

Over trades in [t - W_t, t) within `tape_band_pt` of the level: buy and sell volume by aggressor
(contracts), imbalance = (buy - sell) / (buy + sell) in [-1, 1] (0 without volume), and its level
frame version `imbalance_through` (+1 = all flow pushing through the level: selling into a
SUPPORT, buying into a RESISTANCE). Velocity: OLS slope of trade price on time over [t - W_v, t)
(points/s, market frame), 0 with fewer than two distinct times. Sweep: a run of same-aggressor
prints with gaps <= SWEEP_MAX_GAP_MS that trades at >= 2 distinct prices with notional (price x
size x 50 USD) >= SWEEP_MIN_NOTIONAL; the latest such run in the window is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from spymaster_core.config import Config


@dataclass(frozen=True)
class Sweep:
    """A detected sweep: direction UP (buyers) / DOWN (sellers) / NONE, notional USD, prints,
    span in ms, distinct prices, and the time of its last print (ns; 0 when none)."""

    detected: bool
    direction: str
    notional_usd: float
    num_prints: int
    window_ms: float
    num_prices: int
    last_ts_ns: int


NO_SWEEP = Sweep(False, "NONE", 0.0, 0, 0.0, 0, 0)


@dataclass(frozen=True)
class TapeMetrics:
    """Buy/sell aggressive volume (contracts), imbalance in [-1, 1], its level-frame version, trade
    count, velocity (points/s) and the latest sweep."""

    buy_volume: float
    sell_volume: float
    imbalance: float
    imbalance_through: float
    n_trades: int
    velocity_pt_s: float
    sweep: Sweep


def ols_velocity(ts_ns: np.ndarray, price: np.ndarray) -> float:
    """OLS slope of price (points) on time (s); 0 with fewer than two distinct times."""
    return float(_ols_slope(np.ascontiguousarray(ts_ns, np.int64), np.ascontiguousarray(price, np.float64)))


@numba.njit(cache=True, nogil=True)
def _ols_slope(ts, price):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    n = ts.shape[0]
    if n < 2:
        return 0.0
    xm = 0.0
    pm = 0.0
    for i in range(n):
        xm += (ts[i] - ts[0]) / 1e9
        pm += price[i]
    xm /= n
    pm /= n
    sxx = 0.0
    sxy = 0.0
    for i in range(n):
        dx = (ts[i] - ts[0]) / 1e9 - xm
        sxx += dx * dx
        sxy += dx * (price[i] - pm)
    return sxy / sxx if sxx > 0 else 0.0


def detect_sweep(
    ts_ns: np.ndarray, price: np.ndarray, size: np.ndarray, aggressor: np.ndarray, cfg: Config
) -> Sweep:
    """The latest sweep among trades (sorted by time; aggressor +1 buy / -1 sell / 0 unknown)."""
    return _sweep(ts_ns, price, size, aggressor, 0, len(ts_ns), 0.0, math.inf, cfg)


def _sweep(ts: np.ndarray, price: np.ndarray, size: np.ndarray, aggressor: np.ndarray, lo: int, hi: int,
           level: float, band: float, cfg: Config) -> Sweep:  # fmt: skip
    """The latest sweep among the trades in [lo, hi) within `band` points of `level`."""
    gap_ns = int(round(cfg.tape.SWEEP_MAX_GAP_MS * 1e6))
    found, s, e, n, notional = _latest_sweep_kernel(ts, price, size, aggressor, lo, hi, level, band, gap_ns,
                                                    cfg.tape.SWEEP_MIN_NOTIONAL_usd,
                                                    cfg.instrument.es_multiplier_usd_per_pt)  # fmt: skip
    if not found:
        return NO_SWEEP
    return Sweep(
        True,
        "UP" if aggressor[e] > 0 else "DOWN",
        float(notional),
        int(n),
        float(ts[e] - ts[s]) / 1e6,
        int(_distinct_near(price, s, e + 1, level, band)),
        int(ts[e]),
    )


@numba.njit(cache=True, nogil=True)
def _distinct_near(price, lo, hi, level, band):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Number of distinct prices among trades [lo, hi) within band of level (a sweep's run)."""
    seen = np.empty(hi - lo)
    n = 0
    for i in range(lo, hi):
        p = price[i]
        if abs(p - level) > band:
            continue
        new = True
        for k in range(n):
            if seen[k] == p:
                new = False
                break
        if new:
            seen[n] = p
            n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _latest_sweep_kernel(ts, price, size, agg, lo, hi, level, band, gap_ns, min_notional, mult):  # type: ignore[no-untyped-def]  # fmt: skip  # pragma: no cover
    """Scan back from hi for runs of same-aggressor prints (only those within band of level) with
    gaps <= gap_ns; the first run (the latest) that qualifies as a sweep: (found, first index,
    last index, prints, notional USD). Notionals are sums of quarter-point prices times whole
    contracts: exact in any order."""
    i = hi - 1
    while i >= lo:
        if abs(price[i] - level) > band:
            i -= 1
            continue
        a = agg[i]
        s = i
        n = 1
        multi = False
        notional = price[i] * size[i]
        j = i - 1
        while j >= lo:
            if abs(price[j] - level) > band:
                j -= 1
                continue
            if agg[j] != a or ts[s] - ts[j] > gap_ns:
                break
            if price[j] != price[s]:
                multi = True
            notional += price[j] * size[j]
            n += 1
            s = j
            j -= 1
        notional *= mult
        if a != 0 and n >= 2 and multi and notional >= min_notional:
            return True, s, i, n, notional
        i = j
    return False, -1, -1, 0, 0.0


@numba.njit(cache=True, nogil=True)
def _near_volume(price, size, agg, lo, hi, level, band):  # type: ignore[no-untyped-def]  # pragma: no cover
    """(buy, sell, count) over trades in [lo, hi) within band of level: whole contracts, exact."""
    buy = 0.0
    sell = 0.0
    n = 0
    for i in range(lo, hi):
        if abs(price[i] - level) <= band:
            n += 1
            if agg[i] > 0:
                buy += size[i]
            elif agg[i] < 0:
                sell += size[i]
    return buy, sell, n


def tape_metrics(
    ts: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    aggressor: np.ndarray,
    t_ns: int,
    level: float,
    direction: str,
    cfg: Config,
) -> TapeMetrics:
    """Tape metrics from trades strictly before t_ns (ts sorted int64 ns; price points; size
    contracts; aggressor +1/-1/0)."""
    lo = int(ts.searchsorted(t_ns - int(round(cfg.windows.W_t_s * 1e9)), side="left"))
    hi = int(ts.searchsorted(t_ns, side="left"))
    band = cfg.bands.tape_band_pt
    buy, sell, n_near = _near_volume(price, size, aggressor, lo, hi, level, band)
    tot = buy + sell
    imb = (buy - sell) / tot if tot > 0 else 0.0
    through = -imb if direction == "SUPPORT" else imb
    vlo = int(ts.searchsorted(t_ns - int(round(cfg.windows.W_v_s * 1e9)), side="left"))
    vel = ols_velocity(ts[vlo:hi], price[vlo:hi])
    sweep = _sweep(ts, price, size, aggressor, lo, hi, level, band, cfg)
    return TapeMetrics(buy, sell, imb, through, int(n_near), vel, sweep)
