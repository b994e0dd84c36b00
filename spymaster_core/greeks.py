"""Black-76 implied volatility and gamma for options on ES futures, through `vollib`.

Black (1976), "The pricing of commodity contracts", J. Financial Economics 3: an option on a
future F with strike K, time t (years) and rate r is worth e^{-rt} [F N(d1) - K N(d2)] (call).
Gamma (per point of the underlying future) = e^{-rt} n(d1) / (F sigma sqrt(t)).
Implied volatility uses vollib's Let's-Be-Rational solver (Jaeckel 2015).
"""

from __future__ import annotations

import math

import numpy as np
from vollib.black.greeks.analytical import gamma as _vollib_gamma
from vollib.black.implied_volatility import implied_volatility as _vollib_iv

IV_MIN = 0.01  # below 1% or above 500% annualised, a "solution" is a quote artefact, not a vol
IV_MAX = 5.0


def black76_gamma(F: np.ndarray | float, K: np.ndarray | float, t_years: np.ndarray | float,
                  sigma: np.ndarray | float, r: float = 0.0) -> np.ndarray:  # fmt: skip
    """Black-76 gamma per point of the underlying future, vectorised over numpy arrays (broadcast).

    F, K in points, t_years > 0, sigma annualised (0.15 = 15%). Calls vollib's analytical Black
    gamma (`vollib.black.greeks.analytical.gamma`), which is the same for calls and puts.
    Raises ValueError when any t_years or sigma is not positive.
    """
    F, K, t, s = (np.asarray(x, dtype=np.float64) for x in (F, K, t_years, sigma))
    if (t <= 0).any() or (s <= 0).any():
        raise ValueError("black76_gamma needs t_years > 0 and sigma > 0")
    F, K, t, s = np.broadcast_arrays(F, K, t, s)
    return np.asarray(_vollib_gamma("c", F, K, t, r, s), dtype=np.float64)


def black76_implied_vol(
    price: float, F: float, K: float, t_years: float, is_call: bool, r: float = 0.0
) -> float:
    """Black-76 implied volatility of one option price (points), or NaN when there is none:
    non-finite inputs, t <= 0, a price at or below intrinsic value or at or above its upper bound
    (F for a call, K for a put, discounted), or a solution outside [IV_MIN, IV_MAX]."""
    if not all(math.isfinite(x) for x in (price, F, K, t_years)) or t_years <= 0 or F <= 0 or K <= 0:
        return math.nan
    disc = math.exp(-r * t_years)
    intrinsic = disc * max(F - K, 0.0) if is_call else disc * max(K - F, 0.0)
    upper = disc * (F if is_call else K)
    if not (intrinsic < price < upper):
        return math.nan
    iv = float(_vollib_iv(price, F, K, r, t_years, "c" if is_call else "p"))
    return iv if IV_MIN <= iv <= IV_MAX else math.nan
