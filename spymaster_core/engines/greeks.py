"""Black-76 implied volatility and gamma for options on ES futures.

Black (1976), "The pricing of commodity contracts", J. Financial Economics 3: an option on a
future F with strike K, time t (years) and rate r is worth e^{-rt} [F N(d1) - K N(d2)] (call),
d1 = ln(F/K)/s + s/2, d2 = d1 - s, s = sigma sqrt(t) (total volatility).
Gamma (per point of the underlying future) = e^{-rt} n(d1) / (F sigma sqrt(t)), the same for calls
and puts.

Both are compiled (numba) because the fuel engine evaluates a whole 0DTE chain every second and
reprices its gamma over a grid of spots for the gamma flip; vollib (pure Python and numpy) is the
reference they are tested against (tests/test_engines.py: gamma to 1e-12, implied vol to 1e-10).

Implied volatility is solved for a whole chain at once in a compiled (numba) loop: the price is
mapped to its out-of-the-money equivalent by put-call parity (as Jaeckel's Let's-Be-Rational
does), then Newton's method on ln(price) in s, safeguarded by bisection inside the bracket
[IV_MIN, IV_MAX] sqrt(t). For an out-of-the-money option ln(price) is increasing and concave in s
(Jaeckel 2015, "Let's be rational", Wilmott, section 3), so Newton converges from either side of
the root. vollib's pure-Python Let's-Be-Rational costs 26-75 us per option, too slow for the
live core's chain every second (docs/DECISIONS.md).
"""

from __future__ import annotations

import math

import numba
import numpy as np

IV_MIN = 0.01  # below 1% or above 500% annualised, a "solution" is a quote artefact, not a vol
IV_MAX = 5.0
_MAX_ITER = 100
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def black76_gamma(F: np.ndarray | float, K: np.ndarray | float, t_years: np.ndarray | float,
                  sigma: np.ndarray | float, r: float = 0.0) -> np.ndarray:  # fmt: skip
    """Black-76 gamma per point of the underlying future, vectorised over numpy arrays (broadcast),
    the same for calls and puts (`gamma_one` per element). F, K in points, t_years > 0, sigma
    annualised (0.15 = 15%). Raises ValueError when any t_years or sigma is not positive."""
    F, K, t, s = (np.asarray(x, dtype=np.float64) for x in (F, K, t_years, sigma))
    if (t <= 0).any() or (s <= 0).any():
        raise ValueError("black76_gamma needs t_years > 0 and sigma > 0")
    F, K, t, s = np.broadcast_arrays(F, K, t, s)
    out = np.empty(F.shape, np.float64)
    _gamma_kernel(*(np.array(a, copy=True).ravel() for a in (F, K, t, s)), float(r), out.reshape(-1))
    return out


@numba.njit(cache=True, nogil=True)
def gamma_one(F: float, K: float, t: float, sigma: float, r: float) -> float:  # pragma: no cover - compiled
    """Compiled Black-76 gamma of one option: e^{-rt} n(d1) / (F sigma sqrt(t)) (see module)."""
    return math.exp(-r * t) * gamma_undiscounted(math.log(F / K), sigma * math.sqrt(t), F)


@numba.njit(cache=True, nogil=True)
def gamma_undiscounted(ln_f_over_k: float, s: float, F: float) -> float:  # pragma: no cover - compiled
    """Compiled Black-76 gamma at r = 0 from ln(F/K) and total vol s = sigma sqrt(t): n(d1) / (F s),
    d1 = ln(F/K)/s + s/2 (for callers that hoist ln K and s out of a loop over spots)."""
    d1 = ln_f_over_k / s + 0.5 * s
    return _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1) / (F * s)


@numba.njit(cache=True, nogil=True)
def _gamma_kernel(F, K, t, sigma, r, out) -> None:  # type: ignore[no-untyped-def]  # pragma: no cover
    for i in range(F.shape[0]):
        out[i] = gamma_one(F[i], K[i], t[i], sigma[i], r)


def black76_implied_vols(
    price: np.ndarray | float,
    F: np.ndarray | float,
    K: np.ndarray | float,
    t_years: np.ndarray | float,
    is_call: np.ndarray | bool,
    r: float = 0.0,
) -> np.ndarray:
    """Black-76 implied volatilities (annualised) of option prices (points, discounted at r),
    vectorised over numpy arrays (broadcast), NaN where there is none: non-finite inputs, t <= 0,
    F or K <= 0, a price at or below intrinsic value or at or above its upper bound (F for a call,
    K for a put, discounted), or a solution outside [IV_MIN, IV_MAX]. See the module docstring
    for the method; agrees with vollib's Let's-Be-Rational to ~1e-12 relative (tests)."""
    p, f, k, t = (np.asarray(x, dtype=np.float64) for x in (price, F, K, t_years))
    c = np.asarray(is_call, dtype=np.bool_)
    p, f, k, t, c = np.broadcast_arrays(p, f, k, t, c)
    with np.errstate(over="ignore", invalid="ignore"):
        undiscounted = p * np.exp(r * t)
    out = np.empty(p.shape, np.float64)
    # Copies: broadcast views may repeat memory (stride 0) and are not writeable.
    _iv_kernel(*(np.array(a, copy=True).ravel() for a in (undiscounted, f, k, t, c)), out.reshape(-1))
    return out


def black76_chain(
    bid: np.ndarray, ask: np.ndarray, F: float, K: np.ndarray, t_years: np.ndarray, is_call: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(implied vol, gamma per point) of each option of a chain from its quote mid (points), r = 0:
    one compiled pass, the same numbers as `black76_implied_vols` then `black76_gamma`. Both are
    NaN for an option without a two-sided quote (bid > 0, ask >= bid) or without an implied vol.
    Arrays are 1-D of one length; t_years > 0."""
    n = len(K)
    iv, gamma = np.empty(n), np.empty(n)
    _chain_kernel(*(np.ascontiguousarray(a, np.float64) for a in (bid, ask, K, t_years)),
                  np.ascontiguousarray(is_call, np.bool_), float(F), iv, gamma)  # fmt: skip
    return iv, gamma


def black76_implied_vol(
    price: float, F: float, K: float, t_years: float, is_call: bool, r: float = 0.0
) -> float:
    """One option's Black-76 implied volatility: `black76_implied_vols` for scalars (NaN when none)."""
    return float(black76_implied_vols(price, F, K, t_years, is_call, r)[()])


@numba.njit(cache=True, nogil=True)
def _ncdf(x: float) -> float:  # pragma: no cover - compiled
    return 0.5 * math.erfc(-x * _INV_SQRT2)


@numba.njit(cache=True, nogil=True)
def _otm_price(x: float, F: float, K: float, s: float, call: bool) -> float:  # pragma: no cover
    """Undiscounted Black price at total vol s > 0 (x = ln(F/K))."""
    d1 = x / s + 0.5 * s
    d2 = d1 - s
    if call:
        return F * _ncdf(d1) - K * _ncdf(d2)
    return K * _ncdf(-d2) - F * _ncdf(-d1)


@numba.njit(cache=True, nogil=True)
def _log_gap(
    x: float, F: float, K: float, s: float, call: bool, ln_target: float
) -> float:  # pragma: no cover
    v = _otm_price(x, F, K, s, call)
    return (math.log(v) if v > 0.0 else -math.inf) - ln_target


@numba.njit(cache=True, nogil=True)
def _implied_vol_one(p: float, F: float, K: float, t: float, call: bool) -> float:  # pragma: no cover
    if not (math.isfinite(p) and math.isfinite(F) and math.isfinite(K) and math.isfinite(t)):
        return math.nan
    if t <= 0.0 or F <= 0.0 or K <= 0.0:
        return math.nan
    intrinsic = max(F - K, 0.0) if call else max(K - F, 0.0)
    upper = F if call else K
    if not (intrinsic < p < upper):
        return math.nan
    if intrinsic > 0.0:  # in the money: solve the out-of-the-money twin (put-call parity)
        p -= intrinsic
        call = not call
    x = math.log(F / K)
    ln_target = math.log(p)
    rt = math.sqrt(t)
    lo, hi = IV_MIN * rt, IV_MAX * rt
    g_lo = _log_gap(x, F, K, lo, call, ln_target)
    g_hi = _log_gap(x, F, K, hi, call, ln_target)
    if g_lo > 0.0 or g_hi < 0.0:  # the solution lies outside [IV_MIN, IV_MAX]
        return math.nan
    if g_lo == 0.0:
        return IV_MIN
    if g_hi == 0.0:
        return IV_MAX
    # Start at the inflection point of the price in s (sqrt(2|x|)); at the money, from
    # Brenner-Subrahmanyam's p ~ F s / sqrt(2 pi).
    s = math.sqrt(2.0 * abs(x)) if x != 0.0 else p / (F * _INV_SQRT_2PI)
    if not (lo < s < hi):
        s = 0.5 * (lo + hi)
    for _ in range(_MAX_ITER):
        d1 = x / s + 0.5 * s
        v = _otm_price(x, F, K, s, call)
        g = (math.log(v) if v > 0.0 else -math.inf) - ln_target
        if g == 0.0:
            return s / rt
        if g > 0.0:
            hi = s
        else:
            lo = s
        vega = F * _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)  # d price / d s
        step = -g * v / vega if v > 0.0 and vega > 0.0 else math.nan
        s_new = s + step
        if not (lo < s_new < hi):  # Newton left the bracket (or failed): bisect
            s_new = 0.5 * (lo + hi)
        if abs(s_new - s) <= 4e-16 * s:
            return s_new / rt
        s = s_new
    return math.nan


@numba.njit(cache=True, nogil=True)
def _iv_kernel(price, F, K, t, call, out) -> None:  # type: ignore[no-untyped-def]  # pragma: no cover
    for i in range(price.shape[0]):
        out[i] = _implied_vol_one(price[i], F[i], K[i], t[i], call[i])


@numba.njit(cache=True, nogil=True)
def _chain_kernel(bid, ask, K, t, call, F, iv, gamma) -> None:  # type: ignore[no-untyped-def]  # pragma: no cover
    for i in range(K.shape[0]):
        v = math.nan
        if bid[i] > 0.0 and ask[i] >= bid[i]:
            v = _implied_vol_one((bid[i] + ask[i]) / 2, F, K[i], t[i], call[i])
        iv[i] = v
        gamma[i] = gamma_one(F, K[i], t[i], v, 0.0) if v == v else math.nan
