"""Tape engine (DESIGN §7): aggressive volume near a level over W_t.

Imbalance = (buy - sell) / (buy + sell) in [-1, 1] over trades in [t - W_t, t) within
`tape_band_pt` of the level; `imbalance_through` re-signs it in the level frame (+1 = all flow
pushing through the level: selling into a SUPPORT, buying into a RESISTANCE).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TapeMetrics:
    """Buy/sell aggressive volume (contracts), imbalance in [-1, 1], its level-frame version, trade count."""

    buy_volume: float
    sell_volume: float
    imbalance: float
    imbalance_through: float
    n_trades: int


def tape_metrics(
    ts: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    aggressor: np.ndarray,
    t_ns: int,
    level: float,
    direction: str,
    window_s: float,
    band_pt: float,
) -> TapeMetrics:
    """Tape metrics from trades strictly before t_ns (ts sorted int64 ns; aggressor +1/-1/0)."""
    lo = np.searchsorted(ts, t_ns - int(window_s * 1e9), side="left")
    hi = np.searchsorted(ts, t_ns, side="left")
    p, s, a = price[lo:hi], size[lo:hi], aggressor[lo:hi]
    near = np.abs(p - level) <= band_pt
    buy = float(s[near & (a > 0)].sum())
    sell = float(s[near & (a < 0)].sum())
    tot = buy + sell
    imb = (buy - sell) / tot if tot > 0 else 0.0
    through = -imb if direction == "SUPPORT" else imb
    return TapeMetrics(buy, sell, imb, through, int(near.sum()))
