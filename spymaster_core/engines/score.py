"""Composite break score, smoothing, triggers, confidence and runway (DESIGN §7).

Components, each 0-100 toward a BREAK of the level:
  S_L (liquidity) by barrier state: VACUUM 100, CONSUMED 85, WEAK 70, NEUTRAL 50, ABSORPTION 30,
      WALL 0.
  S_H (hedging) by fuel effect: AMPLIFY 100, NEUTRAL 50, DAMPEN 0; a gamma wall on the level's
      strike (within the barrier zone) pulls it 25 toward holding.
  S_T (tape): 100 when a sweep through the level ended within the last W_v seconds, else
      50 * (1 + 0.6 * imbalance_through + 0.4 * tanh(velocity toward the level / 0.5 pt/s)).
S = w_L S_L + w_H S_H + w_T S_T; without fuel the other two weights are renormalised.
Smoothing: EWMA with alpha = 1 - exp(-ln2 dt / tau_score) over the raw scores on the
SNAP_INTERVAL_MS grid; batch and live both start it SMOOTH_SPAN_S before t, where the weight
left on older scores is below 0.1%, so the two paths agree exactly.
Signal: BREAK when the smoothed score stayed > BREAK_threshold over TRIGGER_HOLD_TIME; REJECT when
< REJECT_threshold within TOUCH_BAND; CONTESTED between 35 and 65 with churn >= 10 F_thresh;
else NEUTRAL. Confidence: HIGH when the barrier's confidence >= 0.7 and the three components lean
the same way, MEDIUM when >= 0.4, else LOW.
Runway: the next level beyond this one in the break direction; OBSTRUCTED when a gamma wall or a
visible book level of >= 3x the median visible size lies between, else CLEAR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spymaster_core.config import Config
from spymaster_core.engines.barrier import BarrierMetrics
from spymaster_core.engines.fuel import FuelMetrics
from spymaster_core.engines.tape import TapeMetrics

SMOOTH_SPAN_S = 20.0
S_L_BY_STATE = {
    "VACUUM": 100.0,
    "CONSUMED": 85.0,
    "WEAK": 70.0,
    "NEUTRAL": 50.0,
    "ABSORPTION": 30.0,
    "WALL": 0.0,
}
S_H_BY_EFFECT = {"AMPLIFY": 100.0, "NEUTRAL": 50.0, "DAMPEN": 0.0}


@dataclass(frozen=True)
class Components:
    """S_L, S_H (NaN without fuel), S_T, each 0-100, and the raw composite S."""

    liquidity: float
    hedge: float
    tape: float
    raw: float


def components(
    barrier: BarrierMetrics,
    tape: TapeMetrics,
    fuel: FuelMetrics,
    level: float,
    direction: str,
    t_ns: int,
    cfg: Config,
) -> Components:
    """The three components and the raw composite score at one time (see module docstring)."""
    s_l = S_L_BY_STATE[barrier.state]
    if fuel.missing:
        s_h = math.nan
    else:
        s_h = S_H_BY_EFFECT[fuel.effect]
        zone = cfg.bands.BARRIER_ZONE_TICKS * cfg.bands.tick_size_pt + 1e-9
        wall = fuel.put_wall if direction == "SUPPORT" else fuel.call_wall
        if wall is not None and abs(wall.strike - level) <= zone:
            s_h = max(0.0, s_h - 25.0)
    break_dir = "DOWN" if direction == "SUPPORT" else "UP"
    toward = -tape.velocity_pt_s if direction == "SUPPORT" else tape.velocity_pt_s
    recent = t_ns - tape.sweep.last_ts_ns <= int(round(cfg.windows.W_v_s * 1e9))
    if tape.sweep.detected and tape.sweep.direction == break_dir and recent:
        s_t = 100.0
    else:
        s_t = 50.0 * (1.0 + 0.6 * tape.imbalance_through + 0.4 * math.tanh(toward / 0.5))
    sc = cfg.score
    if math.isnan(s_h):
        raw = (sc.w_L * s_l + sc.w_T * s_t) / (sc.w_L + sc.w_T)
    else:
        raw = sc.w_L * s_l + sc.w_H * s_h + sc.w_T * s_t
    return Components(s_l, s_h, s_t, raw)


def snap_grid(t_ns: int, cfg: Config) -> np.ndarray:
    """Grid times (ns, multiples of SNAP_INTERVAL_MS) in (t - SMOOTH_SPAN_S, t), oldest first."""
    step = cfg.live.SNAP_INTERVAL_MS * 1_000_000
    first = (t_ns - int(SMOOTH_SPAN_S * 1e9)) // step + 1
    last = (t_ns - 1) // step
    return np.arange(first, last + 1, dtype=np.int64) * step


def ewma(times_ns: np.ndarray, values: np.ndarray, tau_s: float) -> np.ndarray:
    """EWMA of irregularly spaced values: s_0 = v_0, s_i = s_{i-1} + alpha_i (v_i - s_{i-1}) with
    alpha_i = 1 - exp(-ln2 * dt_i / tau) (half-life tau seconds). Returns every s_i.

    Evaluated in closed form, vectorised: with decay D_i = exp(-ln2 (t_i - t_0) / tau),
    s_i = D_i v_0 + sum_{k=1..i} (D_i / D_{k-1} - D_i / D_k) v_k, computed relative to the newest
    time so no factor exceeds 1 (no overflow however long the window is relative to tau)."""
    n = len(values)
    if n == 0:
        return np.empty(0)
    v = np.asarray(values, dtype=np.float64)
    t = (np.asarray(times_ns, dtype=np.int64) - int(times_ns[-1])) / 1e9  # <= 0, newest = 0
    w = np.exp(math.log(2.0) * t / tau_s)  # weight of time t_k seen from the newest time, in (0, 1]
    if w[0] == 0.0:  # window longer than ~1000 half-lives: the weights underflow, recurse instead
        return _ewma_recursive(t, v, tau_s)
    # s_i * w_i = w_0 v_0 + sum_{k<=i} (w_k - w_{k-1}) v_k; w_i > 0 so dividing is safe.
    inc = np.empty(n)
    inc[0] = w[0] * v[0]
    inc[1:] = (w[1:] - w[:-1]) * v[1:]
    return np.cumsum(inc) / w


def _ewma_recursive(t_s: np.ndarray, v: np.ndarray, tau_s: float) -> np.ndarray:
    out = np.empty(len(v))
    s = out[0] = float(v[0])
    for i in range(1, len(v)):
        s += (1.0 - math.exp(-math.log(2.0) * (t_s[i] - t_s[i - 1]) / tau_s)) * (float(v[i]) - s)
        out[i] = s
    return out


def signal(smoothed: np.ndarray, times_ns: np.ndarray, distance_pt: float, churn: float, cfg: Config) -> str:
    """BREAK / REJECT / CONTESTED / NEUTRAL from the smoothed scores up to now (last = now)."""
    sc = cfg.score
    now = float(smoothed[-1])
    hold = times_ns >= times_ns[-1] - int(round(sc.TRIGGER_HOLD_TIME_s * 1e9))
    if now > sc.BREAK_threshold and bool((smoothed[hold] > sc.BREAK_threshold).all()):
        return "BREAK"
    if now < sc.REJECT_threshold and abs(distance_pt) <= cfg.bands.TOUCH_BAND_pt:
        return "REJECT"
    if 35.0 <= now <= 65.0 and churn >= 10.0 * cfg.barrier.F_thresh_contracts:
        return "CONTESTED"
    return "NEUTRAL"


def confidence(c: Components, barrier: BarrierMetrics) -> str:
    """HIGH / MEDIUM / LOW (see module docstring)."""
    parts = [x for x in (c.liquidity, c.hedge, c.tape) if not math.isnan(x)]
    agree = all(x > 50 for x in parts) or all(x < 50 for x in parts)
    if barrier.confidence >= 0.7 and agree:
        return "HIGH"
    return "MEDIUM" if barrier.confidence >= 0.4 else "LOW"


@dataclass(frozen=True)
class Runway:
    """Break direction (UP/DOWN), the next level beyond (id, price; '' / NaN when none), the
    distance to it (points) and CLEAR / OBSTRUCTED / NONE."""

    direction: str
    next_level_id: str
    next_level_price: float
    distance_pt: float
    quality: str


def runway(
    level: float,
    direction: str,
    other_levels: list[tuple[str, float]],
    fuel: FuelMetrics,
    far_px: np.ndarray,
    far_sz: np.ndarray,
) -> Runway:
    """Runway past the level. other_levels: (id, price) of the other levels known now; far_px,
    far_sz: the visible book side a break runs into (bids below a SUPPORT, asks above a
    RESISTANCE), points and contracts."""
    down = direction == "SUPPORT"
    beyond = [(i, p) for i, p in other_levels if (p < level if down else p > level)]
    d = "DOWN" if down else "UP"
    if not beyond:
        return Runway(d, "", math.nan, math.nan, "NONE")
    nid, npx = max(beyond, key=lambda x: x[1]) if down else min(beyond, key=lambda x: x[1])
    lo, hi = min(level, npx), max(level, npx)
    walls = [w.strike for w in (fuel.call_wall, fuel.put_wall) if w is not None]
    blocked = any(lo < k < hi for k in walls)
    ok = np.isfinite(far_px) & (far_sz > 0)
    if ok.sum() >= 3:
        between = ok & (far_px > lo) & (far_px < hi)
        blocked = blocked or bool((far_sz[between] >= 3 * np.median(far_sz[ok])).any())
    return Runway(d, nid, float(npx), abs(npx - level), "OBSTRUCTED" if blocked else "CLEAR")
