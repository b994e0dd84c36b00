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

from dataclasses import dataclass

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
    if len(ts_ns) < 2:
        return 0.0
    x = (ts_ns - ts_ns[0]).astype(np.float64) / 1e9
    xm = x.mean()
    sxx = float(((x - xm) ** 2).sum())
    if sxx <= 0:
        return 0.0
    return float(((x - xm) * (price - price.mean())).sum() / sxx)


def detect_sweep(
    ts_ns: np.ndarray, price: np.ndarray, size: np.ndarray, aggressor: np.ndarray, cfg: Config
) -> Sweep:
    """The latest sweep among trades (sorted by time; aggressor +1 buy / -1 sell / 0 unknown)."""
    n = len(ts_ns)
    if n == 0:
        return NO_SWEEP
    gap_ns = int(round(cfg.tape.SWEEP_MAX_GAP_MS * 1e6))
    mult = cfg.tape.es_multiplier_usd_per_pt
    # A new run starts where the aggressor changes, is unknown, or the gap is too long.
    brk = np.ones(n, dtype=bool)
    brk[1:] = (aggressor[1:] != aggressor[:-1]) | (np.diff(ts_ns) > gap_ns)
    starts = np.flatnonzero(brk)
    ends = np.append(starts[1:], n)
    # Per run (vectorised): notional, and whether it printed at two or more prices.
    notional = np.add.reduceat(price * size, starts) * mult
    changed = np.zeros(n, dtype=np.int64)
    changed[1:] = price[1:] != price[:-1]
    changed[starts] = 0
    multi_price = np.add.reduceat(changed, starts) > 0
    ok = (aggressor[starts] != 0) & (ends - starts >= 2) & multi_price
    ok &= notional >= cfg.tape.SWEEP_MIN_NOTIONAL_usd
    hits = np.flatnonzero(ok)
    if len(hits):
        j = int(hits[-1])
        s, e = int(starts[j]), int(ends[j])
        return Sweep(
            True,
            "UP" if aggressor[s] > 0 else "DOWN",
            float(notional[j]),
            e - s,
            float(ts_ns[e - 1] - ts_ns[s]) / 1e6,
            len(np.unique(price[s:e])),
            int(ts_ns[e - 1]),
        )
    return NO_SWEEP


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
    lo = int(np.searchsorted(ts, t_ns - int(round(cfg.windows.W_t_s * 1e9)), side="left"))
    hi = int(np.searchsorted(ts, t_ns, side="left"))
    p, s, a, t = price[lo:hi], size[lo:hi], aggressor[lo:hi], ts[lo:hi]
    near = np.abs(p - level) <= cfg.bands.tape_band_pt
    buy = float(s[near & (a > 0)].sum())
    sell = float(s[near & (a < 0)].sum())
    tot = buy + sell
    imb = (buy - sell) / tot if tot > 0 else 0.0
    through = -imb if direction == "SUPPORT" else imb
    vlo = int(np.searchsorted(ts, t_ns - int(round(cfg.windows.W_v_s * 1e9)), side="left"))
    vel = ols_velocity(ts[vlo:hi], price[vlo:hi])
    sweep = detect_sweep(t[near], p[near], s[near], a[near], cfg)
    return TapeMetrics(buy, sell, imb, through, int(near.sum()), vel, sweep)
