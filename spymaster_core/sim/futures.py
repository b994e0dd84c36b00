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
    return int(rng.integers(5, 40) + 6 * level + rng.integers(0, 30))


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
    ti = 0
    seq = 1000

    def recentre(best_bid: int) -> None:
        for j in range(DEPTH):
            bp, ap = best_bid - j, best_bid + 1 + j
            bid_px[j], ask_px[j] = bp, ap
            bid_sz[j] = book_bid.setdefault(bp, _fresh_size(rng, j))
            ask_sz[j] = book_ask.setdefault(ap, _fresh_size(rng, j))
        for p in [p for p in book_bid if p > best_bid]:
            del book_bid[p]
        for p in [p for p in book_ask if p <= best_bid]:
            del book_ask[p]

    def emit(ts: int, action: str, side: str, px_ticks: int, size: int, flags: int) -> None:
        nonlocal k, seq
        r = mbp[k]
        r["ts_event"] = ts
        r["ts_recv"] = ts + 150_000
        r["instrument_id"] = instrument_id
        r["action"] = action.encode()
        r["side"] = side.encode()
        r["price"] = px_ticks * int(TICK * PX_SCALE)
        r["size"] = size
        r["flags"] = flags
        r["sequence"] = seq
        out_bid_px[k], out_ask_px[k], out_bid_sz[k], out_ask_sz[k] = bid_px, ask_px, bid_sz, ask_sz
        seq += 1
        k += 1

    prev_bid = None
    for s in range(n_s):
        base = t0_ns + s * 1_000_000_000
        b = int(path.bid_ticks[s])
        if b != prev_bid:
            recentre(b)
            emit(
                base,
                "A",
                "B" if prev_bid is None or b > prev_bid else "A",
                b if prev_bid is None or b > prev_bid else b + 1,
                int(bid_sz[0]),
                F_LAST,
            )
            prev_bid = b
        nt, nq = int(n_tr[s]), int(n_q[s])
        offs = np.sort(rng.integers(1_000, 999_000_000, nt + nq))
        kinds = rng.permutation(np.r_[np.ones(nt, dtype=bool), np.zeros(nq, dtype=bool)])
        for off, is_trade in zip(offs, kinds, strict=True):
            ts = base + int(off)
            if is_trade:
                buy = rng.random() < path.p_buy[s]
                size = int(
                    min(1 + rng.geometric(0.35) - 1 + (rng.random() < 0.03) * rng.integers(10, 60), 120)
                )
                px = int(ask_px[0] if buy else bid_px[0])
                side = "B" if buy else "A"  # aggressor side
                t = trades[ti]
                t["ts_event"], t["ts_recv"], t["instrument_id"] = ts, ts + 150_000, instrument_id
                t["price"], t["size"], t["action"], t["side"] = (
                    px * int(TICK * PX_SCALE),
                    size,
                    b"T",
                    side.encode(),
                )
                t["flags"], t["sequence"] = F_LAST, seq
                ti += 1
                emit(ts, "T", side, px, size, 0)
                # The resting side loses the traded size; a depleted level is refilled at once.
                book, sz_arr = (book_ask, ask_sz) if buy else (book_bid, bid_sz)
                remaining = int(sz_arr[0]) - size
                if remaining <= 0:
                    remaining = _fresh_size(rng, 0)
                book[px] = remaining
                sz_arr[0] = remaining
                emit(ts, "C", "A" if buy else "B", px, size, F_LAST)
            else:
                is_bid = rng.random() < 0.5
                j = int(min(rng.geometric(0.3) - 1, DEPTH - 1))
                book, sz_arr, px_arr = (book_bid, bid_sz, bid_px) if is_bid else (book_ask, ask_sz, ask_px)
                delta = int(rng.integers(1, 15))
                add = rng.random() < 0.5 or sz_arr[j] <= delta
                new = int(sz_arr[j] + delta if add else sz_arr[j] - delta)
                sz_arr[j] = new
                book[int(px_arr[j])] = new
                emit(ts, "A" if add else "C", "B" if is_bid else "A", int(px_arr[j]), delta, F_LAST)
    mbp = mbp[:k]
    scale = int(TICK * PX_SCALE)
    for j in range(DEPTH):
        mbp[f"bid_px_{j:02d}"] = out_bid_px[:k, j] * scale
        mbp[f"ask_px_{j:02d}"] = out_ask_px[:k, j] * scale
        mbp[bid_cols[j]] = out_bid_sz[:k, j]
        mbp[ask_cols[j]] = out_ask_sz[:k, j]
        mbp[f"bid_ct_{j:02d}"] = np.maximum(1, out_bid_sz[:k, j] // 4)
        mbp[f"ask_ct_{j:02d}"] = np.maximum(1, out_ask_sz[:k, j] // 4)
    return trades[:ti], mbp
