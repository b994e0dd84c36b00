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

    def fresh_size(self, j: int) -> int:
        return int(self.rng.integers(1, 25)) + 2 * j


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
        """New touch from the path: cancel orders on the wrong side, fill the window, one event."""
        self.book.best_bid = best_bid
        for is_bid, crossed in ((True, lambda p: p > best_bid), (False, lambda p: p <= best_bid)):
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
                    for _ in range(int(self.rng.integers(1, 5))):
                        oid, size = self.book.new_oid(), self.book.fresh_size(j)
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
        o = queue[int(self.rng.integers(0, len(queue)))]
        if kind == 1:
            cut = min(delta, o[1])
            if cut == o[1] and len(queue) == 1:
                cut -= 1
            if cut < 1:
                return
            o[1] -= cut
            if o[1] == 0:
                queue.remove(o)
            self.order(ts, o[0], p, cut, b"C", side)  # MBO C carries the cancelled quantity
            self.book.refresh(is_bid, p)
            self.close_event()
            self.emit(ts, b"C", side, p, cut, F_LAST)
            return
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
        offs = np.sort(rng.integers(1_000, 999_000_000, n)).tolist()
        kinds = rng.permutation(np.r_[np.ones(nt, dtype=bool), np.zeros(nq, dtype=bool)]).tolist()
        buys = (rng.random(n) < path.p_buy[s]).tolist()
        blocks = (rng.random(n) < 0.03) * rng.integers(10, 60, n)
        tsizes = np.minimum(rng.geometric(0.35, n) + blocks, 120).tolist()
        is_bids = (rng.random(n) < 0.5).tolist()
        lvls = np.minimum(rng.geometric(0.3, n) - 1, DEPTH - 1).tolist()
        deltas = rng.integers(1, 15, n).tolist()
        qkinds = rng.choice(3, n, p=[0.45, 0.4, 0.15]).tolist()
        grow = (rng.random(n) < 0.5).tolist()
        for e in range(n):
            ts = base + offs[e]
            self.seq += 1
            if kinds[e]:
                self.trade(ts, buys[e], tsizes[e])
                continue
            is_bid, j, delta, kind = is_bids[e], lvls[e], deltas[e], qkinds[e]
            if kind == 2 and not grow[e]:
                delta = -delta  # a modify that shrinks the order
            if liq and e % 2 == 0:
                # Planted vacuum/wall: every other quote event hits the defending side within the zone.
                zone = [jj for jj in range(DEPTH) if abs(book.level_price(defend_bid, jj) - defend) <= 2]
                if zone:
                    is_bid, j = defend_bid, zone[e % len(zone)]
                    kind, delta = (0 if liq > 0 else 1), 3 * abs(delta)
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
