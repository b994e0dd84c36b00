"""Kinematics of price relative to a level (DESIGN §7).

All quantities are in the level frame: `distance_pt` > 0 on the approach side (above a SUPPORT,
below a RESISTANCE); velocity < 0 means moving toward (and through) the level. Units: points,
points/s, points/s^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Kinematics:
    """Distance (pt), velocity (pt/s) per horizon, acceleration (pt/s^2) between the two shortest,
    and jerk (pt/s^3) from the last three 1 s price changes, all in the level frame."""

    distance_pt: float
    velocity_pt_s: dict[float, float]
    acceleration_pt_s2: float
    jerk_pt_s3: float = 0.0


def frame_sign(direction: str) -> float:
    """+1 for SUPPORT (price above the level), -1 for RESISTANCE."""
    return 1.0 if direction == "SUPPORT" else -1.0


def price_at(ts: np.ndarray, price: np.ndarray, t_ns: int) -> float:
    """Last traded price strictly before t_ns (NaN if none)."""
    i = int(ts.searchsorted(t_ns, side="left")) - 1
    return float(price[i]) if i >= 0 else float("nan")


def kinematics(
    ts: np.ndarray, price: np.ndarray, t_ns: int, level: float, direction: str, horizons_s: tuple[float, ...]
) -> Kinematics:
    """Kinematics at t_ns from trades strictly before it.

    ts: int64 ns sorted; price: points. Velocity over horizon h = (p(t) - p(t-h)) / h in the level frame.
    """
    sgn = frame_sign(direction)
    p_now = price_at(ts, price, t_ns)
    vel: dict[float, float] = {}
    for h in horizons_s:
        p_then = price_at(ts, price, t_ns - int(h * 1e9))
        vel[h] = sgn * (p_now - p_then) / h if np.isfinite(p_then) else 0.0
    hs = sorted(horizons_s)
    if len(hs) >= 2:
        h1, h2 = hs[0], hs[1]
        p_mid = price_at(ts, price, t_ns - int(h1 * 1e9))
        p_then = price_at(ts, price, t_ns - int((h1 + h2) * 1e9))
        v_prev = sgn * (p_mid - p_then) / h2 if np.isfinite(p_then) and np.isfinite(p_mid) else 0.0
        acc = (vel[h1] - v_prev) / ((h1 + h2) / 2)
    else:
        acc = 0.0
    # Jerk: second difference of the last three 1 s velocities (prices at t, t-1, t-2, t-3 s).
    p = [price_at(ts, price, t_ns - k * 1_000_000_000) for k in range(4)]
    if all(np.isfinite(x) for x in p):
        v0, v1, v2 = p[0] - p[1], p[1] - p[2], p[2] - p[3]
        jerk = sgn * (v0 - 2 * v1 + v2)
    else:
        jerk = 0.0
    return Kinematics(sgn * (p_now - level), vel, acc, jerk)
