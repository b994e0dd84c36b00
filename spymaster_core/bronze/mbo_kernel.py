"""The compiled (numba) core of the MBO book: per-instrument price levels and resting orders in flat
arrays, and the per-record loop that applies MBO actions and writes MBP-10 rows.

Same rules as the reference book (`instrument_book.InstrumentBook`, `book_side.BookSide`; Databento
MBO docs: https://databento.com/docs/schemas-and-data-formats/mbo): `A` adds (an order id already
resting is replaced), `C` takes `size` off an order (all of it removes the order), `M` moves/resizes
(an unknown order is an add), `R` clears the instrument's book; `T`, `F` and `N` change nothing. A
side other than `B`/`A` adds nothing. A price level is deleted when its size or its order count
reaches 0.

Layout: book `b = 2 * instrument + side` (side 0 bid, 1 ask) keeps its price keys ascending in
`lv_px[b, :lv_n[b]]` with size and order count beside them (the key is the price for bids and minus
the price for asks, so both sides' best level is the last one and the busy end of a book moves
little memory); an order's slot keeps its key, size and side; orders live in slots (`o_px`, `o_sz`,
`o_side`) found through a typed dict keyed by (instrument, order_id). The loop stops and hands back
to Python (`mbo_book_compiled.CompiledMboBook`) when a book or the order slots are full (Python grows
them and resumes at the same record, which was not applied), when the output rows are full (the
same), and at each end of a snapshot (Python emits the restated books, then resumes after that
record).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.typed import Dict

DONE, GROW_LEVELS, GROW_ORDERS, SNAPSHOT_END, GROW_ROWS = 0, 1, 2, 3, 4
ACT_ADD, ACT_CANCEL, ACT_MODIFY, ACT_CLEAR, ACT_TRADE = ord("A"), ord("C"), ord("M"), ord("R"), ord("T")
SIDE_BID, SIDE_ASK = ord("B"), ord("A")
ORDER_KEY = types.UniTuple(types.int64, 2)


def new_order_index() -> Dict:
    """An empty (instrument, order_id) -> slot dict for `process`."""
    return Dict.empty(key_type=ORDER_KEY, value_type=types.int64)


@numba.njit(cache=True, nogil=True)
def _find(px_row: np.ndarray, n: int, px: int) -> int:
    """Leftmost position of `px` in the ascending `px_row[:n]` (binary search)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if px_row[mid] < px:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True)
def _level_add(b, px, size, lv_px, lv_sz, lv_ct, lv_n):  # noqa: ANN001, ANN202 - numba kernel
    n = lv_n[b]
    j = _find(lv_px[b], n, px)
    if j < n and lv_px[b, j] == px:
        lv_sz[b, j] += size
        lv_ct[b, j] += 1
        return
    for m in range(n, j, -1):
        lv_px[b, m] = lv_px[b, m - 1]
        lv_sz[b, m] = lv_sz[b, m - 1]
        lv_ct[b, m] = lv_ct[b, m - 1]
    lv_px[b, j] = px
    lv_sz[b, j] = size
    lv_ct[b, j] = 1
    lv_n[b] = n + 1


@numba.njit(cache=True, nogil=True)
def _level_remove(b, px, size, whole_order, lv_px, lv_sz, lv_ct, lv_n):  # noqa: ANN001, ANN202
    n = lv_n[b]
    j = _find(lv_px[b], n, px)
    if j >= n or lv_px[b, j] != px:
        return
    lv_sz[b, j] -= size
    if whole_order:
        lv_ct[b, j] -= 1
    if lv_sz[b, j] <= 0 or lv_ct[b, j] <= 0:
        for m in range(j, n - 1):
            lv_px[b, m] = lv_px[b, m + 1]
            lv_sz[b, m] = lv_sz[b, m + 1]
            lv_ct[b, m] = lv_ct[b, m + 1]
        lv_n[b] = n - 1


@numba.njit(cache=True, nogil=True)
def clear_instrument(inst, orders, free, n_free, lv_n):  # noqa: ANN001, ANN201
    """Empty instrument `inst`'s book and drop its orders; returns the new free-slot count."""
    lv_n[2 * inst] = 0
    lv_n[2 * inst + 1] = 0
    drop = []
    for key in orders.keys():
        if key[0] == inst:
            drop.append(key)
    for key in drop:
        slot = orders[key]
        del orders[key]
        free[n_free] = slot
        n_free += 1
    return n_free


@numba.njit(cache=True, nogil=True)
def write_levels(inst, k, lv_px, lv_sz, lv_ct, lv_n, out_px, out_sz, out_ct) -> None:  # noqa: ANN001
    """Row `k` of the outputs (`[2, depth, n]`: side 0 bid, level 0 best) from `inst`'s book."""
    depth = out_px.shape[1]
    for side in range(2):  # best first: the last keys (bids: highest price, asks: lowest)
        b = 2 * inst + side
        n = lv_n[b]
        sign = 1 if side == 0 else -1
        for j in range(min(depth, n)):
            out_px[side, j, k] = sign * lv_px[b, n - 1 - j]
            out_sz[side, j, k] = lv_sz[b, n - 1 - j]
            out_ct[side, j, k] = lv_ct[b, n - 1 - j]


@numba.njit(cache=True, nogil=True)
def process(start, actions, sides, flags, order_ids, prices, sizes, insts, f_last, f_snapshot, lookahead,  # noqa: ANN001, ANN201, PLR0913
            in_snap, snap_idx, orders, o_px, o_sz, o_side, free, n_free, lv_px, lv_sz, lv_ct, lv_n,
            out_px, out_sz, out_ct, out_row, out_snap, k):  # fmt: skip
    """Apply records `start..` in order (arrays of one chunk; `insts` dense instrument indices,
    `lookahead` the flags of the record after the chunk or -1). Returns (status, record, n_free, k):
    DONE with record = len; GROW_LEVELS / GROW_ORDERS at a record not yet applied; SNAPSHOT_END at
    the record that ended (a part of) a snapshot, applied, with `snap_idx` holding each restated
    instrument's last record (-1: none); GROW_ROWS when the outputs are full. `k` counts rows
    written. The record arrays may be strided views of the DBN records (no copies)."""
    n = len(actions)
    cap_levels = lv_px.shape[1]
    for i in range(start, n):
        inst = insts[i]
        if lv_n[2 * inst] >= cap_levels or lv_n[2 * inst + 1] >= cap_levels:
            return GROW_LEVELS, i, n_free, k
        if n_free == 0:
            return GROW_ORDERS, i, n_free, k
        if k >= out_row.shape[0]:
            return GROW_ROWS, i, n_free, k
        fl = flags[i]
        is_snap = (fl & f_snapshot) != 0
        if is_snap and not in_snap[inst]:  # a snapshot restates the whole book
            n_free = clear_instrument(inst, orders, free, n_free, lv_n)
        in_snap[inst] = is_snap
        act = actions[i]
        key = (inst, order_ids[i])
        sd = sides[i]
        valid_side = sd == SIDE_BID or sd == SIDE_ASK
        if (act == ACT_ADD and valid_side) or act == ACT_MODIFY:  # an add on side N changes nothing
            if key in orders:  # replaced / moved: the old order leaves its level first
                slot = orders[key]
                del orders[key]
                _level_remove(
                    2 * inst + o_side[slot], o_px[slot], o_sz[slot], True, lv_px, lv_sz, lv_ct, lv_n
                )
                free[n_free] = slot
                n_free += 1
            if valid_side:
                side = 0 if sd == SIDE_BID else 1
                px_key = prices[i] if side == 0 else -prices[i]
                _level_add(2 * inst + side, px_key, sizes[i], lv_px, lv_sz, lv_ct, lv_n)
                n_free -= 1
                slot = free[n_free]
                o_px[slot], o_sz[slot], o_side[slot] = px_key, sizes[i], side
                orders[key] = slot
        elif act == ACT_CANCEL:
            if key in orders:
                slot = orders[key]
                take = min(sizes[i], o_sz[slot])
                o_sz[slot] -= take
                gone = o_sz[slot] <= 0
                _level_remove(2 * inst + o_side[slot], o_px[slot], take, gone, lv_px, lv_sz, lv_ct, lv_n)
                if gone:
                    del orders[key]
                    free[n_free] = slot
                    n_free += 1
        elif act == ACT_CLEAR:
            n_free = clear_instrument(inst, orders, free, n_free, lv_n)
        if not is_snap:
            if act == ACT_TRADE or (fl & f_last) != 0:
                write_levels(inst, k, lv_px, lv_sz, lv_ct, lv_n, out_px, out_sz, out_ct)
                out_row[k] = i
                out_snap[k] = False
                k += 1
            continue
        snap_idx[inst] = i
        nxt = flags[i + 1] if i + 1 < n else lookahead
        if (fl & f_last) != 0 or nxt < 0 or (nxt & f_snapshot) == 0:
            return SNAPSHOT_END, i, n_free, k
    return DONE, n, n_free, k
