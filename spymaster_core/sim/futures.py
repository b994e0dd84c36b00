"""ES futures from a simulated price path: an order-level (queue) book written as MBO, MBP-10 and
trades records that follow DBN semantics.

Each price level holds a FIFO queue of orders. Events (one `sequence` number each, `F_LAST` on the
last record of the event):
- quote events: add an order (`A`), cancel part or all of one (`C`), or modify one (`M`: a size
  decrease keeps queue priority, an increase goes to the back);
- trades: the aggressor's `T` record (depth unchanged), then one `F` per resting order filled in
  FIFO order and the `C` (filled completely) or `M` (partly) that takes the size out of the book;
  in MBP-10 the `T` record is followed by the `C` that removes the traded size from the level;
- a new best price from the path: the orders on the wrong side are cancelled and the new levels
  of the 10-level window get fresh orders (`A`).
A level in the visible window is never emptied by a cancel or a trade (price moves come from the
path), so MBP-10's ten levels are always the ten ticks next to the touch.
References: https://databento.com/docs/schemas-and-data-formats/mbo,
https://databento.com/docs/schemas-and-data-formats/mbp-10
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spymaster_core.schemas import BOOK_DEPTH
from spymaster_core.sim.path import TICK, PricePath
from spymaster_core.sim.writer import empty_records

F_LAST = 128
PX_SCALE = 1_000_000_000
# Calibrated to real ES (`spymaster realism`): resting orders from the ESH4 MBO sample (61% one
# lot, mean 2.9 contracts), depth from the ESM4 mbp-1 slice (74 contracts at the best price in RTH)
# and the MBO sample's shape (levels 2-10 hold about 1.65x the top), prints from the ESM4 trades
# (48.5% one lot, mean 3.5, p90 7; sweeps print in bursts microseconds apart).
ONE_LOT_ORDER_P, ORDER_TAIL_MEAN = 0.61, 3.8  # else 2 + geometric(mean 3.8)
ORDERS_TOP, ORDERS_DEEP = (18, 34), (30, 56)  # orders queued on a fresh level: best / deeper
TOP_TARGET, DEEP_TARGET = 90, 105  # contracts a level drifts back to (trades keep the best below its target)
ONE_LOT_TRADE_P, TRADE_TAIL_MEAN, TRADE_MAX = 0.46, 3.5, 120
BURST_P, BURST_GAP_NS = 0.7, 150_000  # a print follows the previous one within ~0.15 ms
DEPTH = BOOK_DEPTH
MBO_DTYPE_FIELDS = ("ts_event", "order_id", "price", "size", "flags", "action", "side", "sequence")


@dataclass
class FuturesRecords:
    """Structured DBN records of one simulated session: trades, mbp-10 and (optionally) mbo."""

    trades: np.ndarray
    mbp10: np.ndarray
    mbo: np.ndarray | None


class _Book:
    """Order queues per price (ticks) on both sides plus the 10-level MBP view around the touch."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.q: dict[bool, dict[int, list[list[int]]]] = {
            True: {},
            False: {},
        }  # is_bid -> price -> [[oid, size]]
        self.best_bid = 0
        self.sz = {True: np.zeros(DEPTH, np.int64), False: np.zeros(DEPTH, np.int64)}
        self.ct = {True: np.zeros(DEPTH, np.int64), False: np.zeros(DEPTH, np.int64)}
        self.px = {True: np.zeros(DEPTH, np.int64), False: np.zeros(DEPTH, np.int64)}
        self.next_oid = 1_000_000

    def level_price(self, is_bid: bool, j: int) -> int:
        return self.best_bid - j if is_bid else self.best_bid + 1 + j

    def pos(self, is_bid: bool, price: int) -> int:
        return self.best_bid - price if is_bid else price - self.best_bid - 1

    def refresh(self, is_bid: bool, price: int) -> None:
        j = self.pos(is_bid, price)
        if 0 <= j < DEPTH:
            queue = self.q[is_bid].get(price, [])
            self.sz[is_bid][j] = sum(o[1] for o in queue)
            self.ct[is_bid][j] = len(queue)

    def new_oid(self) -> int:
        self.next_oid += 1
        return self.next_oid


def _one_lot_mixture(rng: np.random.Generator, n: int, one_lot_p: float, tail_mean: float) -> np.ndarray:
    """`n` sizes (contracts): 1 with `one_lot_p`, else 2 + a geometric count of mean `tail_mean`."""
    tail = 1 + rng.geometric(1.0 / (tail_mean + 1.0), n)
    return np.where(rng.random(n) < one_lot_p, 1, tail)


def order_sizes(rng: np.random.Generator, n: int) -> list[int]:
    """`n` resting order sizes (contracts): 1 with ONE_LOT_ORDER_P, else 2 + a geometric count of
    mean ORDER_TAIL_MEAN (real ES MBO adds: 61% one lot, mean 2.9)."""
    return _one_lot_mixture(rng, n, ONE_LOT_ORDER_P, ORDER_TAIL_MEAN).tolist()


def trade_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` aggressor sizes (contracts): 1 with ONE_LOT_TRADE_P, else 2 + geometric of mean
    TRADE_TAIL_MEAN, at most TRADE_MAX (real ESM4 prints: 48.5% one lot, mean 3.5, p90 7)."""
    return np.minimum(_one_lot_mixture(rng, n, ONE_LOT_TRADE_P, TRADE_TAIL_MEAN), TRADE_MAX)


def simulate_futures(
    rng: np.random.Generator,
    path: PricePath,
    t0_ns: int,
    instrument_id: int,
    trade_rate: float,
    quote_rate: float,
    with_mbo: bool = False,
) -> FuturesRecords:
    """Simulate the session's futures records (see module docstring); sorted by ts_event.

    trade_rate / quote_rate: mean events per second at intensity 1. `with_mbo` also returns the
    market-by-order records (about twice as many as MBP-10).
    """
    n_tr = rng.poisson(trade_rate * path.intensity)
    n_q = rng.poisson(quote_rate * path.intensity)
    sim = _SessionSim(rng, 2 * int(n_tr.sum()) + int(n_q.sum()) + len(path.bid_ticks), with_mbo)
    prev_bid = None
    for s in range(len(path.bid_ticks)):
        base = t0_ns + s * 1_000_000_000
        b = int(path.bid_ticks[s])
        sim.zone = (int(path.liquidity[s]), int(path.defend_tick[s]), bool(path.defend_bid[s]))
        if b != prev_bid:
            sim.move_touch(base, b, up=prev_bid is None or b > prev_bid)
            prev_bid = b
        sim.second(path, s, base, int(n_tr[s]), int(n_q[s]))
    return sim.records(instrument_id)


class _SessionSim:
    """The book walk of one session: `move_touch` when the path moves the touch, `second` for each
    second's trades and quote events, `records` for the DBN records. Every book change is one MBP-10
    row (`emit`, with the 10 levels after it) and, with MBO, its order-level records (`order`)."""

    def __init__(self, rng: np.random.Generator, capacity: int, with_mbo: bool) -> None:
        self.rng, self.with_mbo = rng, with_mbo
        self.book = _Book(rng)
        self.ev = {name: np.zeros(capacity, np.int64) for name in ("ts", "px", "size", "flags", "seq")}
        self.ev_action = np.zeros(capacity, dtype="S1")
        self.ev_side = np.zeros(capacity, dtype="S1")
        self.snap = {
            name: np.zeros((capacity, DEPTH), np.int64) for name in ("bpx", "apx", "bsz", "asz", "bct", "act")
        }
        self.mbo: list[tuple] = []
        self.k = 0
        self.seq = 1000
        self.zone = (0, 0, True)  # this second's planted liquidity regime: (liq, level tick, defend bid)
        self.trade_rows: list[int] = []

    def emit(self, ts: int, action: bytes, side: bytes, price: int, size: int, flags: int) -> None:
        ev, snap, book, k = self.ev, self.snap, self.book, self.k
        ev["ts"][k], ev["px"][k], ev["size"][k], ev["flags"][k], ev["seq"][k] = (
            ts,
            price,
            size,
            flags,
            self.seq,
        )
        self.ev_action[k], self.ev_side[k] = action, side
        snap["bpx"][k], snap["apx"][k] = book.px[True], book.px[False]
        snap["bsz"][k], snap["asz"][k] = book.sz[True], book.sz[False]
        snap["bct"][k], snap["act"][k] = book.ct[True], book.ct[False]
        self.k += 1

    def order(self, ts: int, oid: int, price: int, size: int, action: bytes, side: bytes) -> None:
        if self.with_mbo:
            self.mbo.append((ts, oid, price, size, 0, action, side, self.seq))

    def close_event(self) -> None:
        mbo = self.mbo
        if self.with_mbo and mbo and mbo[-1][7] == self.seq:
            mbo[-1] = (*mbo[-1][:4], F_LAST, *mbo[-1][5:])

    def move_touch(self, ts: int, best_bid: int, up: bool) -> None:
        """The path moved the touch: recentre the book (one event), then its MBP-10 row."""
        self.seq += 1
        self.recentre(ts, best_bid)
        self.emit(
            ts, b"A", b"B" if up else b"A", best_bid if up else best_bid + 1, int(self.book.sz[up][0]), F_LAST
        )

    def recentre(self, ts: int, best_bid: int) -> None:
        """New touch from the path: cancel orders on the wrong side and beyond the window, fill the
        window's empty levels (thin or thick inside a planted vacuum / wall zone), one event."""
        self.book.best_bid = best_bid
        # Orders on the wrong side of the new touch are cancelled, and so are those the move left
        # beyond the 10-level window (pulled: a level re-entering the window fills afresh).
        lo_bid, hi_ask = best_bid - (DEPTH - 1), best_bid + DEPTH
        for is_bid, crossed in (
            (True, lambda p: p > best_bid or p < lo_bid),
            (False, lambda p: p <= best_bid or p > hi_ask),
        ):
            side = b"B" if is_bid else b"A"
            for p in sorted(p for p in self.book.q[is_bid] if crossed(p)):
                for oid, size in self.book.q[is_bid].pop(p):
                    self.order(ts, oid, p, size, b"C", side)
        for is_bid in (True, False):
            side = b"B" if is_bid else b"A"
            for j in range(DEPTH):
                p = self.book.level_price(is_bid, j)
                self.book.px[is_bid][j] = p
                queue = self.book.q[is_bid].setdefault(p, [])
                if not queue:
                    lo, hi = ORDERS_TOP if j == 0 else ORDERS_DEEP
                    n = int(self.rng.integers(lo, hi))
                    liq, defend, defend_bid = self.zone
                    if liq and is_bid == defend_bid and abs(p - defend) <= 2:
                        n = max(1, n // 5) if liq < 0 else 3 * n  # a level that opens thin / thick
                    for size in order_sizes(self.rng, n):
                        oid = self.book.new_oid()
                        queue.append([oid, size])
                        self.order(ts, oid, p, size, b"A", side)
                self.book.sz[is_bid][j] = sum(o[1] for o in queue)
                self.book.ct[is_bid][j] = len(queue)
        self.close_event()

    def trade(self, ts: int, buy: bool, size: int) -> None:
        resting_bid = not buy
        p = self.book.level_price(resting_bid, 0)
        queue = self.book.q[resting_bid][p]
        size = min(size, int(self.book.sz[resting_bid][0]) - 1)  # the path, not a trade, moves the touch
        if size < 1:
            return
        agg, rest = (b"B", b"A") if buy else (b"A", b"B")
        self.trade_rows.append(self.k)
        self.order(ts, self.book.new_oid(), p, size, b"T", agg)
        self.emit(ts, b"T", agg, p, size, 0)
        left, done = size, []
        for o in queue:
            if left == 0:
                break
            f = min(left, o[1])
            self.order(ts, o[0], p, f, b"F", rest)
            done.append((o, f))
            left -= f
        for o, f in done:
            if f == o[1]:
                self.order(ts, o[0], p, f, b"C", rest)
                queue.remove(o)
            else:
                o[1] -= f
                self.order(ts, o[0], p, o[1], b"M", rest)
        self.book.refresh(resting_bid, p)
        self.close_event()
        self.emit(ts, b"C", rest, p, size, F_LAST)

    def quote(self, ts: int, is_bid: bool, j: int, kind: int, delta: int) -> None:
        """kind 0 add, 1 cancel, 2 modify (delta > 0 grows the order)."""
        p = self.book.level_price(is_bid, j)
        queue = self.book.q[is_bid][p]
        side = b"B" if is_bid else b"A"
        if kind == 1 and int(self.book.sz[is_bid][j]) - delta < 1:
            kind = 0  # never empty a visible level
        if kind == 0:
            oid = self.book.new_oid()
            queue.append([oid, delta])
            self.order(ts, oid, p, delta, b"A", side)
            self.book.refresh(is_bid, p)
            self.close_event()
            self.emit(ts, b"A", side, p, delta, F_LAST)
            return
        if kind == 1:
            # Cancel `delta` contracts: whole orders picked at random (the last one partly), one
            # event; the level keeps at least one contract.
            left, total = min(delta, int(self.book.sz[is_bid][j]) - 1), 0
            while left > 0 and queue:
                o = queue[int(self.rng.integers(0, len(queue)))]
                cut = min(left, o[1])
                o[1] -= cut
                if o[1] == 0:
                    queue.remove(o)
                self.order(ts, o[0], p, cut, b"C", side)  # MBO C carries the cancelled quantity
                left, total = left - cut, total + cut
            if total < 1:
                return
            self.book.refresh(is_bid, p)
            self.close_event()
            self.emit(ts, b"C", side, p, total, F_LAST)
            return
        o = queue[int(self.rng.integers(0, len(queue)))]
        new = o[1] + delta if delta > 0 else max(1, o[1] + delta)
        if new == o[1]:
            return
        if new > o[1]:  # a size increase loses queue priority
            queue.remove(o)
            queue.append(o)
        change = new - o[1]
        o[1] = new
        self.order(ts, o[0], p, new, b"M", side)  # MBO M carries the new size
        self.book.refresh(is_bid, p)
        self.close_event()
        self.emit(ts, b"A" if change > 0 else b"C", side, p, abs(change), F_LAST)

    def second(self, path: PricePath, s: int, base: int, nt: int, nq: int) -> None:
        """Second `s` of the path (starting at `base` ns): `nt` trades and `nq` quote events at
        random offsets; planted vacuum/wall seconds steer every other quote to the defending side."""
        n = nt + nq
        if n == 0:
            return
        rng, book = self.rng, self.book
        liq = int(path.liquidity[s])
        defend, defend_bid = int(path.defend_tick[s]), bool(path.defend_bid[s])
        # Draw the second's randomness at once; the book walk below stays event by event.
        offs = np.sort(rng.integers(1_000, 999_000_000, n))
        kinds_a = rng.permutation(np.r_[np.ones(nt, dtype=bool), np.zeros(nq, dtype=bool)])
        # Prints come in bursts: a trade follows the previous trade within ~BURST_GAP_NS.
        tr_idx = np.flatnonzero(kinds_a)
        follow = rng.random(len(tr_idx)) < BURST_P
        follow[0:1] = False
        gaps = rng.integers(1_000, 2 * BURST_GAP_NS, len(tr_idx))
        for i in np.flatnonzero(follow):
            offs[tr_idx[i]] = min(offs[tr_idx[i - 1]] + gaps[i], 999_999_000)
        order = np.argsort(offs, kind="stable")
        offs, kinds = offs[order].tolist(), kinds_a[order].tolist()
        buys = (rng.random(n) < path.p_buy[s]).tolist()
        tsizes = trade_sizes(rng, n).tolist()
        is_bids = (rng.random(n) < 0.5).tolist()
        lvls = np.minimum(rng.geometric(0.45, n) - 1, DEPTH - 1).tolist()
        deltas = order_sizes(rng, n)
        modify = (rng.random(n) < 0.15).tolist()
        tilt = rng.uniform(0.6, 1.4, n).tolist()
        grow = (rng.random(n) < 0.5).tolist()
        for e in range(n):
            ts = base + offs[e]
            self.seq += 1
            if kinds[e]:
                self.trade(ts, buys[e], tsizes[e])
                continue
            is_bid, j, delta = is_bids[e], lvls[e], deltas[e]
            if book.sz[is_bid][0] < TOP_TARGET / 2:
                j = 0  # a thin best price draws liquidity (replenishment after trades)
            # Adds and cancels hold each level near its target size (the real book's shape).
            target = TOP_TARGET if j == 0 else DEEP_TARGET
            kind = 2 if modify[e] else 0 if book.sz[is_bid][j] < target * tilt[e] else 1
            if kind == 2 and not grow[e]:
                delta = -delta  # a modify that shrinks the order
            if liq and e % 2 == 0:
                # Planted vacuum/wall: every other quote event hits the defending side within the zone.
                zone = [jj for jj in range(DEPTH) if abs(book.level_price(defend_bid, jj) - defend) <= 2]
                if zone:
                    is_bid, j = defend_bid, zone[e % len(zone)]
                    # A wall adds large resting orders; a vacuum pulls a quarter of the level.
                    kind = 0 if liq > 0 else 1
                    delta = 10 + 3 * abs(delta) if liq > 0 else max(4, int(book.sz[is_bid][j]) // 4)
            self.quote(ts, is_bid, j, kind, delta)

    def records(self, instrument_id: int) -> FuturesRecords:
        """The walk's records as DBN structured arrays (prices in 1e-9 units)."""
        ev, snap, k, mbo, with_mbo = self.ev, self.snap, self.k, self.mbo, self.with_mbo
        scale = int(TICK * PX_SCALE)
        mbp = empty_records("mbp-10", k)
        mbp["ts_event"] = ev["ts"][:k]
        mbp["ts_recv"] = ev["ts"][:k] + 150_000
        mbp["instrument_id"] = instrument_id
        mbp["action"], mbp["side"] = self.ev_action[:k], self.ev_side[:k]
        mbp["price"] = ev["px"][:k] * scale
        mbp["size"], mbp["flags"], mbp["sequence"] = ev["size"][:k], ev["flags"][:k], ev["seq"][:k]
        for j in range(DEPTH):
            mbp[f"bid_px_{j:02d}"] = snap["bpx"][:k, j] * scale
            mbp[f"ask_px_{j:02d}"] = snap["apx"][:k, j] * scale
            mbp[f"bid_sz_{j:02d}"], mbp[f"ask_sz_{j:02d}"] = snap["bsz"][:k, j], snap["asz"][:k, j]
            mbp[f"bid_ct_{j:02d}"], mbp[f"ask_ct_{j:02d}"] = snap["bct"][:k, j], snap["act"][:k, j]
        rows = np.array(self.trade_rows, dtype=np.int64)
        trades = empty_records("trades", len(rows))
        for name in ("ts_event", "ts_recv", "instrument_id", "price", "size", "side", "sequence"):
            trades[name] = mbp[name][rows]
        trades["action"], trades["flags"] = b"T", F_LAST
        mbo_rec = None
        if with_mbo:
            mbo_rec = empty_records("mbo", len(mbo))
            cols = list(zip(*mbo, strict=True)) if mbo else [[] for _ in MBO_DTYPE_FIELDS]
            for name, col in zip(MBO_DTYPE_FIELDS, cols, strict=True):
                mbo_rec[name] = col
            mbo_rec["price"] = mbo_rec["price"] * scale
            mbo_rec["ts_recv"] = mbo_rec["ts_event"] + 150_000
            mbo_rec["instrument_id"] = instrument_id
        return FuturesRecords(trades=trades, mbp10=mbp, mbo=mbo_rec)
