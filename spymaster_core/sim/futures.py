"""ES futures trades and MBP-10 records from a simulated price path (simulator v0).

DBN semantics kept: a trade is a `T` record that leaves depth unchanged, followed by the `C`
record that removes the traded size from the resting level (with `F_LAST`); quote adds/cancels are
single-record events with `F_LAST`; a new best price re-centres the ladder in one `A` event.
"""

from __future__ import annotations

import numpy as np

from spymaster_core.sim.path import TICK, PricePath
from spymaster_core.sim.writer import empty_records

F_LAST = 128
PX_SCALE = 1_000_000_000
DEPTH = 10


def _fresh_size(rng: np.random.Generator, level: int) -> int:
    return int(rng.integers(5, 70)) + 6 * level


def simulate_futures(
    rng: np.random.Generator,
    path: PricePath,
    t0_ns: int,
    instrument_id: int,
    trade_rate: float,
    quote_rate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (trades, mbp10) structured DBN records sorted by ts_event.

    trade_rate / quote_rate: mean events per second at intensity 1.
    """
    n_s = len(path.bid_ticks)
    n_tr = rng.poisson(trade_rate * path.intensity)
    n_q = rng.poisson(quote_rate * path.intensity)
    total_tr = int(n_tr.sum())
    trades = empty_records("trades", total_tr)
    mbp = empty_records("mbp-10", 2 * total_tr + int(n_q.sum()) + n_s)
    bid_px = np.zeros(DEPTH, dtype=np.int64)
    ask_px = np.zeros(DEPTH, dtype=np.int64)
    bid_sz = np.zeros(DEPTH, dtype=np.int64)
    ask_sz = np.zeros(DEPTH, dtype=np.int64)
    book_bid: dict[int, int] = {}
    book_ask: dict[int, int] = {}
    bid_cols = [f"bid_sz_{j:02d}" for j in range(DEPTH)]
    ask_cols = [f"ask_sz_{j:02d}" for j in range(DEPTH)]
    out_bid_px = np.zeros((len(mbp), DEPTH), dtype=np.int64)
    out_ask_px = np.zeros((len(mbp), DEPTH), dtype=np.int64)
    out_bid_sz = np.zeros((len(mbp), DEPTH), dtype=np.int64)
    out_ask_sz = np.zeros((len(mbp), DEPTH), dtype=np.int64)
    k = 0

    def recentre(best_bid: int) -> None:
        for j in range(DEPTH):
            bp, ap = best_bid - j, best_bid + 1 + j
            bid_px[j], ask_px[j] = bp, ap
            if bp not in book_bid:
                book_bid[bp] = _fresh_size(rng, j)
            if ap not in book_ask:
                book_ask[ap] = _fresh_size(rng, j)
            bid_sz[j], ask_sz[j] = book_bid[bp], book_ask[ap]
        # Levels that left the book's 10-level window are forgotten; they come back fresh.
        for p in [p for p in book_bid if p > best_bid or p <= best_bid - DEPTH]:
            del book_bid[p]
        for p in [p for p in book_ask if p <= best_bid or p > best_bid + DEPTH]:
            del book_ask[p]

    n_cap = len(mbp)
    ev_ts = np.zeros(n_cap, dtype=np.int64)
    ev_action = np.zeros(n_cap, dtype="S1")
    ev_side = np.zeros(n_cap, dtype="S1")
    ev_px = np.zeros(n_cap, dtype=np.int64)
    ev_size = np.zeros(n_cap, dtype=np.int64)
    ev_flags = np.zeros(n_cap, dtype=np.int64)

    def emit(ts: int, action: bytes, side: bytes, px_ticks: int, size: int, flags: int) -> None:
        nonlocal k
        ev_ts[k], ev_action[k], ev_side[k], ev_px[k], ev_size[k], ev_flags[k] = (
            ts,
            action,
            side,
            px_ticks,
            size,
            flags,
        )
        out_bid_px[k], out_ask_px[k], out_bid_sz[k], out_ask_sz[k] = bid_px, ask_px, bid_sz, ask_sz
        k += 1

    def px_sz(is_bid: bool) -> np.ndarray:
        return bid_sz if is_bid else ask_sz

    trade_rows: list[int] = []
    prev_bid = None
    for s in range(n_s):
        base = t0_ns + s * 1_000_000_000
        b = int(path.bid_ticks[s])
        if b != prev_bid:
            recentre(b)
            up = prev_bid is None or b > prev_bid
            emit(base, b"A", b"B" if up else b"A", b if up else b + 1, int(bid_sz[0]), F_LAST)
            prev_bid = b
        nt, nq = int(n_tr[s]), int(n_q[s])
        n = nt + nq
        liq = int(path.liquidity[s])
        defend, defend_bid = int(path.defend_tick[s]), bool(path.defend_bid[s])
        if n == 0:
            continue
        # Draw the second's randomness at once; the book walk below stays event by event.
        offs = np.sort(rng.integers(1_000, 999_000_000, n)).tolist()
        kinds = rng.permutation(np.r_[np.ones(nt, dtype=bool), np.zeros(nq, dtype=bool)]).tolist()
        buys = (rng.random(n) < path.p_buy[s]).tolist()
        blocks = (rng.random(n) < 0.03) * rng.integers(10, 60, n)
        tsizes = np.minimum(rng.geometric(0.35, n) + blocks, 120).tolist()
        is_bids = (rng.random(n) < 0.5).tolist()
        lvls = np.minimum(rng.geometric(0.3, n) - 1, DEPTH - 1).tolist()
        deltas = rng.integers(1, 15, n).tolist()
        adds = (rng.random(n) < 0.5).tolist()
        for e in range(n):
            ts = base + offs[e]
            if kinds[e]:
                buy, size = buys[e], tsizes[e]
                px = int(ask_px[0] if buy else bid_px[0])
                trade_rows.append(k)
                emit(ts, b"T", b"B" if buy else b"A", px, size, 0)  # side = aggressor
                # The resting side loses the traded size; a depleted level is refilled at once.
                book, sz_arr = (book_ask, ask_sz) if buy else (book_bid, bid_sz)
                remaining = int(sz_arr[0]) - size
                if remaining <= 0:
                    remaining = _fresh_size(rng, 0)
                book[px] = remaining
                sz_arr[0] = remaining
                emit(ts, b"C", b"A" if buy else b"B", px, size, F_LAST)
            else:
                is_bid, j, delta, add = is_bids[e], lvls[e], deltas[e], adds[e]
                if liq and e % 2 == 0:
                    # Planted vacuum/wall: every other quote event hits the defending side within the zone.
                    is_bid = defend_bid
                    px_arr = bid_px if is_bid else ask_px
                    zone = np.flatnonzero(np.abs(px_arr - defend) <= 2)
                    if len(zone):
                        j = int(zone[e % len(zone)])
                        add = liq > 0
                        delta = 3 * delta if add else max(1, min(3 * delta, int(px_sz(is_bid)[j]) - 1))
                book, sz_arr, px_arr = (book_bid, bid_sz, bid_px) if is_bid else (book_ask, ask_sz, ask_px)
                add = add or sz_arr[j] <= delta
                new = int(sz_arr[j] + delta if add else sz_arr[j] - delta)
                sz_arr[j] = new
                book[int(px_arr[j])] = new
                emit(ts, b"A" if add else b"C", b"B" if is_bid else b"A", int(px_arr[j]), delta, F_LAST)
    mbp = mbp[:k]
    scale = int(TICK * PX_SCALE)
    mbp["ts_event"] = ev_ts[:k]
    mbp["ts_recv"] = ev_ts[:k] + 150_000
    mbp["instrument_id"] = instrument_id
    mbp["action"] = ev_action[:k]
    mbp["side"] = ev_side[:k]
    mbp["price"] = ev_px[:k] * scale
    mbp["size"] = ev_size[:k]
    mbp["flags"] = ev_flags[:k]
    mbp["sequence"] = 1000 + np.arange(k)
    for j in range(DEPTH):
        mbp[f"bid_px_{j:02d}"] = out_bid_px[:k, j] * scale
        mbp[f"ask_px_{j:02d}"] = out_ask_px[:k, j] * scale
        mbp[bid_cols[j]] = out_bid_sz[:k, j]
        mbp[ask_cols[j]] = out_ask_sz[:k, j]
        mbp[f"bid_ct_{j:02d}"] = np.maximum(1, out_bid_sz[:k, j] // 4)
        mbp[f"ask_ct_{j:02d}"] = np.maximum(1, out_ask_sz[:k, j] // 4)
    rows = np.array(trade_rows, dtype=np.int64)
    trades = trades[: len(rows)]
    for name in ("ts_event", "ts_recv", "instrument_id", "price", "size", "side", "sequence"):
        trades[name] = mbp[name][rows]
    trades["action"] = b"T"
    trades["flags"] = F_LAST
    return trades, mbp
