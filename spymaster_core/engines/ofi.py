"""Order-flow imbalance (OFI) from MBP-10 book updates.

Best level: Cont, Kukanov & Stoikov (2014), "The price impact of order book events", J. Financial
Econometrics 12(1), eq. (2): for book update n with best bid (P^B, q^B) and best ask (P^A, q^A),

    e_n = 1{P^B_n >= P^B_{n-1}} q^B_n - 1{P^B_n <= P^B_{n-1}} q^B_{n-1}
        - 1{P^A_n <= P^A_{n-1}} q^A_n + 1{P^A_n >= P^A_{n-1}} q^A_{n-1}.

Multi-level: Xu, Gould & Howison (2019), "Multi-level order-flow imbalance in a limit order book",
the same expression at each of the 10 levels, summed. Integrated OFI over a window is the sum of
e_n over updates in it, normalised by the window's mean depth (contracts) so that days of
different depth compare. Positive OFI = net buying pressure (price tends to rise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


def ofi_events(bid_px: np.ndarray, bid_sz: np.ndarray, ask_px: np.ndarray, ask_sz: np.ndarray) -> np.ndarray:
    """Best-level OFI e_n per book update (contracts), the first 0; numpy arrays in (n,) or (n, L)
    for L levels (then one column per level). Prices in points, sizes in contracts. A side whose
    price is NaN (empty level) on either update contributes 0 for that update.
    Raises ValueError when the four arrays differ in shape."""
    arrays = [np.asarray(x, dtype=np.float64) for x in (bid_px, bid_sz, ask_px, ask_sz)]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(f"ofi_events: arrays differ in shape {[a.shape for a in arrays]}")
    bp, bq, ap, aq = arrays
    out = np.zeros(bp.shape, dtype=np.float64)
    if len(bp) < 2:
        return out
    bp0, bp1, bq0, bq1 = bp[:-1], bp[1:], bq[:-1], bq[1:]
    ap0, ap1, aq0, aq1 = ap[:-1], ap[1:], aq[:-1], aq[1:]
    with np.errstate(invalid="ignore"):
        bid = np.where(bp1 >= bp0, bq1, 0.0) - np.where(bp1 <= bp0, bq0, 0.0)
        ask = -np.where(ap1 <= ap0, aq1, 0.0) + np.where(ap1 >= ap0, aq0, 0.0)
    bid[np.isnan(bp0) | np.isnan(bp1)] = 0.0
    ask[np.isnan(ap0) | np.isnan(ap1)] = 0.0
    out[1:] = bid + ask
    return out


def ofi_increments(
    prev: np.ndarray | None, bid_px: np.ndarray, bid_sz: np.ndarray, ask_px: np.ndarray, ask_sz: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per MBP-10 update (incremental): best-level OFI e_n, 10-level OFI (sum over levels), best
    depth (bid_sz_00 + ask_sz_00) / 2 and mean 10-level depth mean(bid_sz + ask_sz) / 2, all in
    contracts. `prev`: the (4, 10) book (bid_px, bid_sz, ask_px, ask_sz) before the first update,
    or None at the start of the day (its e_n is 0). Book arrays (n, 10): points, contracts.
    The same numbers as `ofi_events` on the book with `prev` prepended, in one compiled pass
    (sizes are whole contracts, so the level sums are exact in any order)."""
    n = len(bid_px)
    out = np.empty((4, n))
    has_prev = prev is not None
    _ofi_kernel(
        np.ascontiguousarray(prev if has_prev else np.full((4, bid_px.shape[1]), np.nan), np.float64),
        has_prev,
        *(np.ascontiguousarray(a, np.float64) for a in (bid_px, bid_sz, ask_px, ask_sz)),
        out,
    )
    return out[0], out[1], out[2], out[3]


@numba.njit(cache=True, nogil=True)
def _level_e(bp0: float, bq0: float, ap0: float, aq0: float, bp1: float, bq1: float, ap1: float,
             aq1: float) -> float:  # fmt: skip  # pragma: no cover - compiled
    e = 0.0
    if bp0 == bp0 and bp1 == bp1:
        e += (bq1 if bp1 >= bp0 else 0.0) - (bq0 if bp1 <= bp0 else 0.0)
    if ap0 == ap0 and ap1 == ap1:
        e += -(aq1 if ap1 <= ap0 else 0.0) + (aq0 if ap1 >= ap0 else 0.0)
    return e


@numba.njit(cache=True, nogil=True)
def _ofi_kernel(prev, has_prev, bp, bq, ap, aq, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    n, depth = bp.shape
    for i in range(n):
        best = 0.0
        multi = 0.0
        if i > 0 or has_prev:
            for j in range(depth):
                if i == 0:
                    e = _level_e(
                        prev[0, j], prev[1, j], prev[2, j], prev[3, j], bp[0, j], bq[0, j], ap[0, j], aq[0, j]
                    )
                else:
                    e = _level_e(bp[i - 1, j], bq[i - 1, j], ap[i - 1, j], aq[i - 1, j], bp[i, j], bq[i, j],
                                 ap[i, j], aq[i, j])  # fmt: skip
                if j == 0:
                    best = e
                multi += e
        tot = 0.0
        for j in range(depth):
            tot += bq[i, j] + aq[i, j]
        out[0, i] = best
        out[1, i] = multi
        out[2, i] = (bq[i, 0] + aq[i, 0]) / 2.0
        out[3, i] = tot / depth / 2.0


@dataclass(frozen=True)
class OfiMetrics:
    """Integrated OFI over each horizon (seconds -> value): best level and 10-level, raw (contracts)
    and normalised by the window's mean depth (dimensionless)."""

    best: dict[float, float]
    best_norm: dict[float, float]
    multi: dict[float, float]
    multi_norm: dict[float, float]


def integrate_ofi(
    ts_ns: np.ndarray,
    e_best: np.ndarray,
    e_multi: np.ndarray,
    depth_best: np.ndarray,
    depth_multi: np.ndarray,
    t_ns: int,
    horizons_s: tuple[float, ...],
) -> OfiMetrics:
    """Integrated OFI over [t - h, t) for each horizon h, from per-update arrays sorted by ts_ns:
    `e_best` (best-level e_n), `e_multi` (sum over levels of e^m_n), `depth_best` (bid_sz_00 +
    ask_sz_00)/2 and `depth_multi` (mean over the 10 levels of (bid_sz + ask_sz)/2) at each update.
    A window with no update gives 0. Sums are taken in one compiled pass (e_n and best depths are
    whole or half contracts: exact; the 10-level mean depth may differ from numpy's pairwise sum
    in the last bit)."""
    hi = int(ts_ns.searchsorted(t_ns, side="left"))
    los = np.array([int(ts_ns.searchsorted(t_ns - int(round(h * 1e9)), side="left")) for h in horizons_s])
    sums = _window_sums(e_best, e_multi, depth_best, depth_multi, los, hi)
    best, best_n, multi, multi_n = {}, {}, {}, {}
    for k, h in enumerate(horizons_s):
        lo = int(los[k])
        if hi <= lo:
            best[h] = best_n[h] = multi[h] = multi_n[h] = 0.0
            continue
        sb, sm = float(sums[k, 0]), float(sums[k, 1])
        db, dm = float(sums[k, 2]) / (hi - lo), float(sums[k, 3]) / (hi - lo)
        best[h], multi[h] = sb, sm
        best_n[h] = sb / db if db > 0 else 0.0
        multi_n[h] = sm / dm if dm > 0 else 0.0
    return OfiMetrics(best, best_n, multi, multi_n)


@numba.njit(cache=True, nogil=True)
def _window_sums(e_best, e_multi, depth_best, depth_multi, los, hi):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Sums of the four per-update columns over [los[k], hi) for each k: shape (len(los), 4)."""
    out = np.zeros((los.shape[0], 4))
    for k in range(los.shape[0]):
        for i in range(los[k], hi):
            out[k, 0] += e_best[i]
            out[k, 1] += e_multi[i]
            out[k, 2] += depth_best[i]
            out[k, 3] += depth_multi[i]
    return out
