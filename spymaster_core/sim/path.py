"""Simulated ES price path at one-second steps with planted level reactions (simulator v1,
calibrated to real ES: `spymaster realism` prints every statistic beside the real one).

**Volatility** (`volatility`): per-second steps whose scale is the RTH level (7.2 ticks per minute
at ES ~4,100, the real samples' mean price: 1.8 pt, 4.4 bp) times a daily level
(lognormal), a minute-level log-volatility AR(1) (so 1-minute returns are a scale mixture with real
ES's excess kurtosis of about 10) and the intraday activity profile (open burst, midday lull, close
ramp; real open and close 30-minute buckets 1.57x and 1.28x midday), plus rare news jumps.

**Levels a trader watches** (pre-market high/low from 09:30, opening-range high/low from 09:45) are
tracked as the day unfolds. The first time price comes within MONITOR_BAND (5 pt) of one after being
away, the simulator draws what the level will do: BREAK (P_BREAK), BOUNCE (P_BOUNCE), CHOP (P_PIN,
the level absorbs: price is pulled back toward it for 8 minutes), or nothing. Price is never pulled
*into* a level: only approaches that reach the touch band by themselves become planted reactions
(`planted`), so touches per session and the outcome mix (real ES: 17 touches, 63% chop, 26% bounce,
10% break at 10 pt) come out near the real ones. After a BREAK/BOUNCE touch a drift of
RESOLVE_DRIFT_TICKS_PER_S (1.5 pt per minute) carries price through or away for 5 minutes,
against noise of about 1.9 pt per minute: at 10 pt a planted bounce comes true about half the
time, a planted break about 3 times in 10 (it starts a point or two short of the level). A planted
CHOP (the commonest draw) stays chop 87% of the time. Regimes planted on
the approach, for the engines to find:

- **Tape**: before a break the aggressive flow leans through the level, before a bounce against it.
- **Vacuum**: during the approach to a planted break, resting size on the defending side (bids
  under a SUPPORT, asks over a RESISTANCE) within 2 ticks of the level is cancelled, not refilled
  (`liquidity[s] = -1`).
- **Wall**: during the approach to a planted bounce, that size is added and refilled (`+1`).
- **Dealer gamma**: each day is short-gamma with probability 0.35 (`short_gamma`): customers buy
  the near-the-money 0DTE options (dealers short gamma, AMPLIFY) and price volatility is 1.25x;
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
FLOW_TILT = 0.22

# Calibrated to the real ES 1-minute bars in ../shared/real (`spymaster realism` prints both sides).
RTH_SIGMA_TICKS_PER_MIN = (
    7.2  # RTH 1-minute std at ES ~4,100: 1.8 pt, 4.4 bp (real: 1.97 pt, 4.5 bp incl. jumps)
)
DAY_VOL_SD = 0.40  # log-sd of the day's volatility level (real daily RTH ranges: p90/median 2.2)
MINUTE_VOL_SD = 0.50  # log-sd of the minute-level volatility (excess kurtosis of 1-min returns 10)
MINUTE_VOL_HALFLIFE_MIN = 20.0
JUMP_P_PER_S = 0.3 / 23400  # about 0.3 news jumps per RTH session
JUMP_SD_MIN = 4.0  # a jump's std in units of the minute's volatility
PREMARKET_ACTIVITY = 0.45  # 04:00-09:30 activity relative to midday (real pre-market range 57 bp)
OPEN_BURST, CLOSE_RAMP = 2.0, 1.6  # real open/close 30-min volatility 1.57x / 1.28x midday
RTH_MEAN_ACTIVITY = 1.35  # mean of the RTH activity profile (normalises the seasonal)
SHORT_GAMMA_DAY_P, SHORT_GAMMA_VOL = 0.35, 1.25
P_BREAK, P_BOUNCE, P_PIN = 0.08, 0.22, 0.68  # planted outcome per approach to a level (else none)
PIN_PULL_PER_S = 0.01  # a pinned level pulls price back by 1% of the distance per second
PIN_S = 480
MICRO_SD_MIN, MICRO_HALFLIFE_S = 0.15, 20.0  # overshoot: real 1-min bar range / return std 1.7
RESOLVE_DRIFT_TICKS_PER_S = 0.10  # 1.5 pt per minute through / away after a planted touch


@dataclass
class PricePath:
    """Per-second arrays over the session (index 0 = 04:00 ET).

    `bid_ticks`: best bid in ticks (price = ticks * 0.25); the ask is one tick above.
    `p_buy`: probability that an aggressive trade in that second is a buy.
    `intensity`: relative activity (U-shaped), scales trade and quote counts.
    `planted`: list of (second, level_price, outcome BREAK|BOUNCE|CHOP, direction) per planted reaction.
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
    act = np.full(n_seconds, PREMARKET_ACTIVITY)
    rth = (t >= rth_open_s) & (t < rth_close_s)
    since_open = (t - rth_open_s) / 60.0
    to_close = (rth_close_s - t) / 60.0
    act[rth] = 1.0 + OPEN_BURST * np.exp(-since_open[rth] / 25.0) + CLOSE_RAMP * np.exp(-to_close[rth] / 25.0)
    return act


def volatility(rng: np.random.Generator, intensity: np.ndarray, short_gamma: bool) -> np.ndarray:
    """Per-second volatility in ticks: RTH_SIGMA_TICKS_PER_MIN scaled by the day's level (lognormal,
    DAY_VOL_SD), a minute-level log-volatility AR(1) (MINUTE_VOL_SD, half-life MINUTE_VOL_HALFLIFE_MIN;
    constant inside a minute, so 1-minute returns are a scale mixture of normals: the fat tails of
    real 1-minute returns come from volatility clustering) and the intraday activity (sqrt of
    `intensity`, normalised to the RTH mean); short-gamma days 1.25x."""
    n_min = -(-len(intensity) // 60)
    phi = 0.5 ** (1.0 / MINUTE_VOL_HALFLIFE_MIN)
    eps = rng.standard_normal(n_min) * MINUTE_VOL_SD * np.sqrt(1 - phi * phi)
    ou = np.empty(n_min)
    ou[0] = rng.standard_normal() * MINUTE_VOL_SD
    for m in range(1, n_min):
        ou[m] = phi * ou[m - 1] + eps[m]
    day = rng.standard_normal() * DAY_VOL_SD
    # Lognormal factors have mean exp(sd^2 / 2): divide it out so the average variance stays put.
    level = np.exp(day + ou - (DAY_VOL_SD**2 + MINUTE_VOL_SD**2))
    per_min = np.repeat(level, 60)[: len(intensity)]
    seasonal = np.sqrt(intensity / RTH_MEAN_ACTIVITY)
    gamma = SHORT_GAMMA_VOL if short_gamma else 1.0
    return gamma * RTH_SIGMA_TICKS_PER_MIN / np.sqrt(60.0) * seasonal * per_min


def microstructure_noise(rng: np.random.Generator, sigma: np.ndarray) -> np.ndarray:
    """A mean-reverting overshoot added to the quoted price (ticks): AR(1) per second with a
    MICRO_HALFLIFE_S half-life and a stationary sd of MICRO_SD_MIN times the minute volatility. It
    widens 1-minute bars' high-low range (real ES bars range 1.7x their close-to-close std) while
    leaving returns over minutes nearly unchanged; levels, touches and outcomes see it."""
    phi = 0.5 ** (1.0 / MICRO_HALFLIFE_S)
    sd = MICRO_SD_MIN * sigma * np.sqrt(60.0)
    eps = rng.standard_normal(len(sigma)) * sd * np.sqrt(1 - phi * phi)
    out = np.empty(len(sigma))
    acc = 0.0
    for i, e in enumerate(eps.tolist()):
        acc = phi * acc + e
        out[i] = acc
    return out


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
    short_gamma = bool(rng.random() < SHORT_GAMMA_DAY_P)
    sigma = volatility(rng, intensity, short_gamma)
    liquidity = np.zeros(n_seconds, dtype=np.int8)
    defend_tick = np.zeros(n_seconds, dtype=np.int64)
    defend_bid = np.zeros(n_seconds, dtype=bool)
    noise = rng.standard_normal(n_seconds) * sigma
    jumps = rng.random(n_seconds) < JUMP_P_PER_S
    noise[jumps] += rng.standard_normal(int(jumps.sum())) * JUMP_SD_MIN * sigma[jumps] * np.sqrt(60.0)
    micro = microstructure_noise(rng, sigma)
    bid = np.empty(n_seconds, dtype=np.int64)
    p_buy = np.full(n_seconds, 0.5)
    x = start_price / TICK
    levels: dict[str, float] = {}
    armed: dict[str, bool] = {}
    pm_hi = pm_lo = or_hi = or_lo = None
    regime: dict | None = None
    planted: list[tuple[int, float, str, str]] = []
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
                armed[name] = False
                u = rng.random()
                outcome = (
                    "BREAK" if u < P_BREAK else "BOUNCE" if u < P_BREAK + P_BOUNCE
                    else "CHOP" if u < P_BREAK + P_BOUNCE + P_PIN else None
                )  # fmt: skip
                if outcome is not None:
                    regime = {"name": name, "level": lvl, "outcome": outcome, "phase": "approach",
                              "t0": s, "from_above": x > lvl}  # fmt: skip
        if regime is not None:
            toward = -1.0 if regime["from_above"] else 1.0  # direction of travel into the level
            if regime["phase"] == "approach" and regime["outcome"] != "CHOP":
                lean = toward if regime["outcome"] == "BREAK" else -toward
                p_buy[s] = 0.5 + FLOW_TILT * lean
                liquidity[s] = -1 if regime["outcome"] == "BREAK" else 1
                defend_tick[s] = int(round(regime["level"]))
                defend_bid[s] = regime["from_above"]
            if regime["phase"] == "approach":
                if abs(x - regime["level"]) <= TOUCH_TICKS / 2:
                    regime["phase"], regime["t0"] = "resolve", s
                    direction = "SUPPORT" if regime["from_above"] else "RESISTANCE"
                    planted.append((s, regime["level"] * TICK, regime["outcome"], direction))
                elif s - regime["t0"] > APPROACH_TIMEOUT_S or abs(x - regime["level"]) > APPROACH_ARM_TICKS:
                    regime = None  # price left without touching: nothing planted
            elif regime["outcome"] == "CHOP":  # the level absorbs: price pinned around it
                drift = PIN_PULL_PER_S * (regime["level"] - x)
                if s - regime["t0"] > PIN_S:
                    regime = None
            else:
                sign = toward if regime["outcome"] == "BREAK" else -toward
                drift = sign * RESOLVE_DRIFT_TICKS_PER_S
                p_buy[s] = 0.5 + 0.5 * FLOW_TILT * sign
                if s - regime["t0"] > RESOLVE_S:
                    regime = None
        x += drift + noise[s]
        b = int(np.floor(x + micro[s]))
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
