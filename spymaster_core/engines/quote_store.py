"""`QuoteStore`: the top-of-book quotes of many instruments (a 0DTE chain), and "the latest quote
of instrument i strictly before t" for any i and t.

A real 0DTE chain quotes hundreds of instruments millions of times a day, and the live core asks
for the chain's quotes every second and classifies every option trade against the quote before it.
So quotes are kept once, in arrival order, in arrays that double when full (amortised O(1) per
quote, no per-instrument Python work), each linked to the previous quote of its instrument. A
lookup at the frontier (t after every quote fed, or a few quotes back: the live core and the batch
replay, which feed in time order) walks those links from the instrument's latest quote: O(1).
A lookup deeper in the past (a whole day loaded, then read at any t) binary-searches a
per-instrument index built once for the quotes stored so far. Both answer the same.
"""

from __future__ import annotations

import math

import numba
import numpy as np

WALK_LIMIT = 4096  # links followed (a few µs) before a lookup uses the per-instrument index


class QuoteStore:
    """Quotes (ts_ns int64; bid, ask float64 points) of instruments identified by instrument_id.

    `append` takes quotes sorted by ts_ns (any mix of instruments); `before` answers the latest
    quote strictly before t per query (ties in ts_ns: the one appended last). An instrument's
    quotes must arrive in time order across calls for `before` to be exact (as fed by the engines).
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._slot_of: dict[int, int] = {}
        self.ts = np.empty(capacity, np.int64)
        self.bid = np.empty(capacity, np.float64)
        self.ask = np.empty(capacity, np.float64)
        self.prev = np.empty(capacity, np.int64)  # previous quote of the same instrument, -1 none
        self.slot = np.empty(capacity, np.int32)
        self.last = np.full(64, -1, np.int64)  # per slot: index of its latest quote, -1 none
        self.n = 0
        self._index: tuple[np.ndarray, np.ndarray] | None = None  # (order, starts) at _index_n
        self._index_n = -1

    def __len__(self) -> int:
        return self.n

    def slots(self, iids: np.ndarray) -> np.ndarray:
        """Slot (int64) of each instrument_id, new slots given to ids not seen before."""
        uniq, inv = np.unique(iids, return_inverse=True)
        got = np.empty(len(uniq), np.int64)
        for k, i in enumerate(uniq.tolist()):
            s = self._slot_of.get(i)
            if s is None:
                s = self._slot_of[i] = len(self._slot_of)
            got[k] = s
        if len(self._slot_of) > len(self.last):
            grown = np.full(2 * len(self._slot_of), -1, np.int64)
            grown[: len(self.last)] = self.last
            self.last = grown
        return got[inv.reshape(-1)]

    def known(self, iids: np.ndarray) -> np.ndarray:
        """Slot of each instrument_id, -1 for one never quoted or registered (no new slots)."""
        get = self._slot_of.get
        return np.fromiter((get(i, -1) for i in iids.tolist()), np.int64, len(iids))

    def append(self, ts_ns: np.ndarray, iid: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> None:
        """Append quotes sorted by ts_ns: int64 ns, instrument_id, bid and ask (points)."""
        m = len(ts_ns)
        if m == 0:
            return
        slots = self.slots(np.asarray(iid, np.int64))
        end = self.n + m
        if end > len(self.ts):
            cap = max(end, 2 * len(self.ts))
            for name in ("ts", "bid", "ask", "prev", "slot"):
                old = getattr(self, name)
                new = np.empty(cap, old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        self.ts[self.n : end] = ts_ns
        self.bid[self.n : end] = bid
        self.ask[self.n : end] = ask
        self.slot[self.n : end] = slots
        _link(slots, self.n, self.prev, self.last)
        self.n = end

    def before(self, slots: np.ndarray, t_ns: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """(bid, ask) float64 arrays of the latest quote strictly before t_ns (one time for all, or
        one per query) of each slot (`slots`/`known`; -1 = none); NaN where there is none."""
        slots = np.ascontiguousarray(slots, np.int64)
        t = np.broadcast_to(np.asarray(t_ns, np.int64), slots.shape).copy()
        idx = _walk(slots, t, self.last, self.prev, self.ts, WALK_LIMIT)
        deep = np.flatnonzero(idx == -2)
        if len(deep):
            order, starts = self._sorted_index()
            idx[deep] = _search(slots[deep], t[deep], order, starts, self.ts)
        ok = idx >= 0
        bid, ask = np.full(len(slots), math.nan), np.full(len(slots), math.nan)
        bid[ok], ask[ok] = self.bid[idx[ok]], self.ask[idx[ok]]
        return bid, ask

    def _sorted_index(self) -> tuple[np.ndarray, np.ndarray]:
        """Quote indices grouped by slot, in arrival order within each (a stable sort), and each
        slot's start in it; rebuilt only when quotes arrived since the last build."""
        if self._index is None or self._index_n != self.n:
            order = np.argsort(self.slot[: self.n], kind="stable").astype(np.int64)
            counts = np.bincount(self.slot[: self.n], minlength=len(self.last))
            self._index = (order, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
            self._index_n = self.n
        return self._index


@numba.njit(cache=True, nogil=True)
def _link(slots, first, prev, last):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    for j in range(slots.shape[0]):
        s = slots[j]
        prev[first + j] = last[s]
        last[s] = first + j


@numba.njit(cache=True, nogil=True)
def _walk(slots, t, last, prev, ts, limit):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Index of the latest quote before t[q] of slots[q] by following links back from the slot's
    latest quote: -1 when none, -2 when more than `limit` links would be followed."""
    out = np.empty(slots.shape[0], np.int64)
    for q in range(slots.shape[0]):
        s = slots[q]
        g = last[s] if 0 <= s < last.shape[0] else -1
        steps = 0
        while g >= 0 and ts[g] >= t[q]:
            g = prev[g]
            steps += 1
            if steps > limit:
                g = -2
                break
        out[q] = g
    return out


@numba.njit(cache=True, nogil=True)
def _search(slots, t, order, starts, ts):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Index of the latest quote before t[q] of slots[q] by binary search of the slot's quotes
    (order[starts[s]:starts[s+1]], time order); -1 when none."""
    out = np.empty(slots.shape[0], np.int64)
    for q in range(slots.shape[0]):
        s = slots[q]
        lo, hi = starts[s], starts[s + 1]
        while lo < hi:  # first position whose quote is at or after t
            mid = (lo + hi) // 2
            if ts[order[mid]] < t[q]:
                lo = mid + 1
            else:
                hi = mid
        out[q] = order[lo - 1] if lo > starts[s] else -1
    return out
