"""Simulated ES price path at one-second steps with planted level reactions (simulator v0).

The path is a tick-valued random walk whose volatility follows the intraday U-shape. Levels a
trader watches (pre-market high/low from 09:30, opening-range high/low from 09:45) are tracked as
the day unfolds; when price approaches one from more than MONITOR_BAND away, the simulator draws
the outcome (BREAK or BOUNCE with equal odds), drifts price into the level, and then drifts it
through (break) or away (bounce). Before a break the aggressive flow leans in the approach
direction; before a bounce it leans against it. Planted regimes, for the engines to find:

- **Tape**: before a break the aggressive flow leans through the level, before a bounce against it.
- **Vacuum**: during the approach to a planted break, resting size on the defending side (bids
  under a SUPPORT, asks over a RESISTANCE) within 2 ticks of the level is cancelled, not refilled
  (`liquidity[s] = -1`).
- **Wall**: during the approach to a planted bounce, that size is added and refilled (`+1`).
- **Dealer gamma**: each day is short-gamma with probability 0.35 (`short_gamma`): customers buy
  the near-the-money 0DTE options (dealers short gamma, AMPLIFY) and price volatility is 1.4x;
  otherwise customers sell them (dealers long gamma, DAMPEN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TICK = 0.25
APPROACH_ARM_TICKS = 20  # MONITOR_BAND 5 pt
TOUCH_TICKS = 8  # TOUCH_BAND 2 pt
RESOLVE_S = 300
APPROACH_TIMEOUT_S = 420
DRIFT_TICKS_PER_S = 0.16
FLOW_TILT = 0.22


@dataclass
class PricePath:
    """Per-second arrays over the session (index 0 = 04:00 ET).

    `bid_ticks`: best bid in ticks (price = ticks * 0.25); the ask is one tick above.
    `p_buy`: probability that an aggressive trade in that second is a buy.
    `intensity`: relative activity (U-shaped), scales trade and quote counts.
    `planted`: list of (second, level_price, outcome, direction) for each planted reaction.
    `liquidity`: per second -1 (vacuum), +1 (wall) or 0; `defend_tick`: the level in ticks and
    `defend_bid`: True when the defending side is the bid (SUPPORT), both valid where liquidity != 0.
    `short_gamma`: the day's dealer-gamma regime.
    """

    bid_ticks: np.ndarray
    p_buy: np.ndarray
    intensity: np.ndarray
    planted: list[tuple[int, float, str, str]]
    liquidity: np.ndarray
    defend_tick: np.ndarray
    defend_bid: np.ndarray
    short_gamma: bool


def u_shape(n_seconds: int, rth_open_s: int, rth_close_s: int) -> np.ndarray:
    """Relative activity per second: low pre-market, spike at the RTH open, midday lull, close ramp."""
    t = np.arange(n_seconds, dtype=np.float64)
    act = np.full(n_seconds, 0.3)
    rth = (t >= rth_open_s) & (t < rth_close_s)
    since_open = (t - rth_open_s) / 60.0
    to_close = (rth_close_s - t) / 60.0
    act[rth] = 1.0 + 3.0 * np.exp(-since_open[rth] / 25.0) + 1.5 * np.exp(-to_close[rth] / 25.0)
    return act


def simulate_path(
    rng: np.random.Generator,
    start_price: float,
    n_seconds: int,
    rth_open_s: int,
    or_end_s: int,
    rth_close_s: int,
) -> PricePath:
    """Generate the per-second path; see the module docstring for the planted regimes."""
    intensity = u_shape(n_seconds, rth_open_s, rth_close_s)
    short_gamma = bool(rng.random() < 0.35)
    sigma = (1.4 if short_gamma else 1.0) * 0.8 * np.sqrt(intensity)  # ticks per second
    liquidity = np.zeros(n_seconds, dtype=np.int8)
    defend_tick = np.zeros(n_seconds, dtype=np.int64)
    defend_bid = np.zeros(n_seconds, dtype=bool)
    noise = rng.standard_normal(n_seconds) * sigma
    bid = np.empty(n_seconds, dtype=np.int64)
    p_buy = np.full(n_seconds, 0.5)
    x = start_price / TICK
    levels: dict[str, float] = {}
    armed: dict[str, bool] = {}
    pm_hi = pm_lo = or_hi = or_lo = None
    regime: dict | None = None
    planted: list[tuple[int, float, str]] = []
    for s in range(n_seconds):
        drift = 0.0
        if s == rth_open_s and pm_hi is not None:
            levels["PM_HIGH"], levels["PM_LOW"] = pm_hi, pm_lo
        if s == or_end_s and or_hi is not None:
            levels["OR_HIGH"], levels["OR_LOW"] = or_hi, or_lo
        for name, lvl in levels.items():
            if abs(x - lvl) > APPROACH_ARM_TICKS:
                armed[name] = True
        if regime is None and levels and rth_open_s <= s < rth_close_s - 600:
            name = min(levels, key=lambda k: abs(x - levels[k]))
            lvl = levels[name]
            if armed.get(name, True) and abs(x - lvl) <= APPROACH_ARM_TICKS:
                outcome = "BREAK" if rng.random() < 0.5 else "BOUNCE"
                regime = {
                    "name": name,
                    "level": lvl,
                    "outcome": outcome,
                    "phase": "approach",
                    "t0": s,
                    "from_above": x > lvl,
                }
                armed[name] = False
        if regime is not None:
            toward = -1.0 if regime["from_above"] else 1.0  # direction of travel into the level
            if regime["phase"] == "approach":
                drift = toward * DRIFT_TICKS_PER_S * 1.5
                lean = toward if regime["outcome"] == "BREAK" else -toward
                p_buy[s] = 0.5 + FLOW_TILT * lean
                liquidity[s] = -1 if regime["outcome"] == "BREAK" else 1
                defend_tick[s] = int(round(regime["level"]))
                defend_bid[s] = regime["from_above"]
                if abs(x - regime["level"]) <= TOUCH_TICKS / 2:
                    regime["phase"], regime["t0"] = "resolve", s
                    planted.append(
                        (
                            s,
                            regime["level"] * TICK,
                            regime["outcome"],
                            "SUPPORT" if regime["from_above"] else "RESISTANCE",
                        )
                    )
                elif s - regime["t0"] > APPROACH_TIMEOUT_S:
                    regime = None
            else:
                sign = toward if regime["outcome"] == "BREAK" else -toward
                drift = sign * DRIFT_TICKS_PER_S
                p_buy[s] = 0.5 + 0.5 * FLOW_TILT * sign
                if s - regime["t0"] > RESOLVE_S:
                    regime = None
        x += drift + noise[s]
        b = int(np.floor(x))
        bid[s] = b
        if s < rth_open_s:
            pm_hi = b if pm_hi is None else max(pm_hi, b)
            pm_lo = b if pm_lo is None else min(pm_lo, b)
        elif s < or_end_s:
            or_hi = b if or_hi is None else max(or_hi, b)
            or_lo = b if or_lo is None else min(or_lo, b)
    return PricePath(
        bid_ticks=bid,
        p_buy=p_buy,
        intensity=intensity,
        planted=planted,
        liquidity=liquidity,
        defend_tick=defend_tick,
        defend_bid=defend_bid,
        short_gamma=short_gamma,
    )
