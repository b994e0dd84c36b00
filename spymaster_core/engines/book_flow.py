"""Liquidity flow per price from consecutive MBP-10 book states (the barrier engine's input).

Between consecutive MBP-10 records the size at each price of each side changes by dq. DESIGN §7:
increases are *added*; decreases matched to trades at that price are *filled*; the rest are
*canceled*. In DBN MBP-10 a trade arrives as an `action='T'` record that leaves depth unchanged,
followed by the `C`/`M` record(s) of the same matching event (same ts_event) that remove the
size; so a trade's size is "pending" at its price and fills the next decreases there carrying the
same ts_event. Only prices that both states can see are compared: a price that merely scrolls
out of (or into) the visible 10 levels because the book moved is not a change.

`BookFlow` is incremental: `process` takes any number of records and carries the previous book
and pending fills to the next call, so feeding a day in one call or one record at a time gives
the same flow rows (the parity of batch and live rests on this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from spymaster_core.schemas import BOOK_DEPTH

DEPTH = BOOK_DEPTH
_PENDING = 64
_T = ord("T")
_F = ord("F")


@dataclass
class FlowRows:
    """Flow rows, one per (record, side, price) with a size change: `ts_ns` int64, `price` float64
    points, `side` int8 (+1 bid, -1 ask), `added`, `canceled`, `filled` float64 contracts."""

    ts_ns: np.ndarray
    price: np.ndarray
    side: np.ndarray
    added: np.ndarray
    canceled: np.ndarray
    filled: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ns)


class BookFlow:
    """Incremental added/canceled/filled accounting over MBP-10 records (see module docstring)."""

    def __init__(self) -> None:
        self.prev = np.full((4, DEPTH), np.nan)  # bid_px, bid_sz, ask_px, ask_sz of the last record
        self.has_prev = np.zeros(1, np.bool_)
        self.pending_px = np.full(_PENDING, np.nan)
        self.pending_qty = np.zeros(_PENDING)
        self.pending_ts = np.full(1, -1, np.int64)

    def process(
        self,
        ts_ns: np.ndarray,
        action: np.ndarray,
        price: np.ndarray,
        size: np.ndarray,
        bid_px: np.ndarray,
        bid_sz: np.ndarray,
        ask_px: np.ndarray,
        ask_sz: np.ndarray,
    ) -> FlowRows:
        """Flow rows of records sorted by (ts_event, sequence). ts_ns int64 (n,); action uint8 ASCII
        (n,); price points (n,) (NaN if none); size contracts (n,); book arrays (n, 10) with NaN
        prices for empty levels and sizes in contracts."""
        n = len(ts_ns)
        args = (
            np.ascontiguousarray(ts_ns, np.int64),
            np.ascontiguousarray(action, np.uint8),
            np.ascontiguousarray(price, np.float64),
            np.ascontiguousarray(size, np.float64),
            np.ascontiguousarray(bid_px, np.float64),
            np.ascontiguousarray(bid_sz, np.float64),
            np.ascontiguousarray(ask_px, np.float64),
            np.ascontiguousarray(ask_sz, np.float64),
            self.prev,
            self.has_prev,
            self.pending_px,
            self.pending_qty,
            self.pending_ts,
        )
        cap = 2 * n + 4 * DEPTH
        out_ts, out_px = np.empty(cap, np.int64), np.empty(cap)
        out_side, out_amt = np.empty(cap, np.int8), np.empty((3, cap))
        k, i = 0, 0
        while True:  # the kernel stops at a record boundary when the output could overflow
            k, i = _flow_kernel(*args, i, out_ts, out_px, out_side, out_amt, k)
            if i >= n:
                return FlowRows(
                    out_ts[:k], out_px[:k], out_side[:k], out_amt[0, :k], out_amt[1, :k], out_amt[2, :k]
                )
            cap = 2 * cap + 4 * DEPTH
            out_ts, out_px = np.resize(out_ts, cap), np.resize(out_px, cap)
            out_side = np.resize(out_side, cap)
            grown = np.empty((3, cap))
            grown[:, :k] = out_amt[:, :k]
            out_amt = grown


@numba.njit(cache=True, nogil=True)
def _size_at(px_row, sz_row, p):  # pragma: no cover - compiled
    for j in range(px_row.shape[0]):
        if px_row[j] == p:
            return sz_row[j]
    return 0.0


@numba.njit(cache=True, nogil=True)
def _visible_floor(px_row, is_bid):  # pragma: no cover - compiled
    """Worst visible price of a side (lowest bid / highest ask); NaN when the side is empty."""
    worst = np.nan
    for j in range(px_row.shape[0]):
        p = px_row[j]
        if p == p:
            if worst != worst or (is_bid and p < worst) or ((not is_bid) and p > worst):
                worst = p
    return worst


@numba.njit(cache=True, nogil=True)
def _emit(k, t, p, side, dq, pend_px, pend_qty, out_ts, out_px, out_side, out_amt):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Write the flow row of a size change dq at price p; decreases fill pending trade size first."""
    added = 0.0
    filled = 0.0
    canceled = 0.0
    if dq > 0:
        added = dq
    else:
        dec = -dq
        for q in range(pend_px.shape[0]):
            if pend_px[q] == p and pend_qty[q] > 0:
                filled = min(dec, pend_qty[q])
                pend_qty[q] -= filled
                break
        canceled = dec - filled
    out_ts[k] = t
    out_px[k] = p
    out_side[k] = side
    out_amt[0, k] = added
    out_amt[1, k] = canceled
    out_amt[2, k] = filled


@numba.njit(cache=True, nogil=True)
def _flow_kernel(ts, action, price, size, bid_px, bid_sz, ask_px, ask_sz, prev, has_prev, pend_px, pend_qty,
                 pend_ts, i0, out_ts, out_px, out_side, out_amt, k):  # fmt: skip  # pragma: no cover - compiled
    """Records i0.. into the output from row k; returns (rows, next record). Stops before a
    record when the output could overflow (a record writes at most 4 * DEPTH rows); the carried
    state (prev book, pending fills) is then exactly that of a stop between two calls."""
    n = ts.shape[0]
    cap = out_ts.shape[0]
    for i in range(i0, n):
        if k + 4 * DEPTH > cap:
            return k, i
        if pend_ts[0] != ts[i]:  # a new matching event: unmatched trade size expires
            for q in range(pend_px.shape[0]):
                pend_px[q] = np.nan
                pend_qty[q] = 0.0
            pend_ts[0] = ts[i]
        a = action[i]
        if (a == _T or a == _F) and price[i] == price[i] and size[i] > 0:
            slot = -1
            for q in range(pend_px.shape[0]):
                if pend_px[q] == price[i]:
                    slot = q
                    break
            if slot < 0:
                for q in range(pend_px.shape[0]):
                    if pend_px[q] != pend_px[q]:
                        slot = q
                        break
            if slot >= 0:
                pend_px[slot] = price[i]
                pend_qty[slot] += size[i]
        if has_prev[0]:
            for s in range(2):
                is_bid = s == 0
                new_px = bid_px[i] if is_bid else ask_px[i]
                new_sz = bid_sz[i] if is_bid else ask_sz[i]
                old_px = prev[0] if is_bid else prev[2]
                old_sz = prev[1] if is_bid else prev[3]
                side = 1 if is_bid else -1
                same = True  # the usual record: same prices at the same levels, a size changed
                for j in range(DEPTH):
                    if old_px[j] != new_px[j] and (old_px[j] == old_px[j] or new_px[j] == new_px[j]):
                        same = False
                        break
                if same:
                    for j in range(DEPTH):
                        p = old_px[j]
                        if p == p and new_sz[j] != old_sz[j]:
                            _emit(k, ts[i], p, side, new_sz[j] - old_sz[j], pend_px, pend_qty, out_ts, out_px,
                                  out_side, out_amt)  # fmt: skip
                            k += 1
                    continue
                f_new = _visible_floor(new_px, is_bid)
                f_old = _visible_floor(old_px, is_bid)
                if f_new != f_new or f_old != f_old:
                    continue
                floor = max(f_new, f_old) if is_bid else min(f_new, f_old)
                # Union of the prices of both states inside the commonly visible range.
                for src in range(2):
                    row = old_px if src == 0 else new_px
                    for j in range(DEPTH):
                        p = row[j]
                        if p != p or (is_bid and p < floor) or ((not is_bid) and p > floor):
                            continue
                        if src == 1:
                            dup = False
                            for jj in range(DEPTH):
                                if old_px[jj] == p:
                                    dup = True
                                    break
                            if dup:
                                continue
                        dq = _size_at(new_px, new_sz, p) - _size_at(old_px, old_sz, p)
                        if dq == 0.0:
                            continue
                        _emit(k, ts[i], p, side, dq, pend_px, pend_qty, out_ts, out_px, out_side, out_amt)
                        k += 1
        for j in range(DEPTH):
            prev[0, j] = bid_px[i, j]
            prev[1, j] = bid_sz[i, j]
            prev[2, j] = ask_px[i, j]
            prev[3, j] = ask_sz[i, j]
        has_prev[0] = True
    return k, n
