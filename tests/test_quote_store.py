"""The chain's quote store and the since-open dealer positions kept between fuel evaluations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spymaster_core.engines import fuel, quote_store
from spymaster_core.engines.quote_store import QuoteStore

NS = 1_000_000_000


def _brute(ts: np.ndarray, iid: np.ndarray, bid: np.ndarray, i: int, t: int) -> float:
    hit = np.flatnonzero((iid == i) & (ts < t))
    return float(bid[hit[-1]]) if len(hit) else math.nan


@pytest.mark.parametrize("walk_limit", [8, quote_store.WALK_LIMIT])
def test_latest_quote_before_equals_a_search_at_the_frontier_and_deep_in_the_past(
    walk_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fed in batches (ties in ts_ns included), the latest quote strictly before t equals a brute
    search of everything fed, both just behind the frontier (the linked walk) and anywhere in the
    day (more than WALK_LIMIT quotes back: the per-instrument index), for unknown ids too."""
    monkeypatch.setattr(quote_store, "WALK_LIMIT", walk_limit)
    rng = np.random.default_rng(11)
    store = QuoteStore(capacity=4)  # growth on the way
    all_ts, all_iid, all_bid = [], [], []
    t = 0
    ids = np.arange(500, 520)
    for _ in range(200):
        m = int(rng.integers(0, 60))
        ts = np.sort(t + rng.integers(0, 3, m) * 1000).astype(np.int64)  # many equal times
        iid = rng.choice(ids[: 5 + int(rng.integers(0, 15))], m)  # near-the-money ids quote most
        bid = rng.uniform(1, 50, m)
        store.append(ts, iid, bid, bid + 0.25)
        all_ts.append(ts), all_iid.append(iid), all_bid.append(bid)
        t = int(ts[-1]) if m else t
        cat = [np.concatenate(x) for x in (all_ts, all_iid, all_bid)]
        q_ids = np.r_[ids, [999]]
        for q in (t + 1, t, t - 1000):  # at and just behind the frontier
            got, ask = store.before(store.known(q_ids), q)
            want = [_brute(*cat, i, q) for i in q_ids.tolist()]
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(ask[np.isfinite(got)], got[np.isfinite(got)] + 0.25)
    ts, iid, bid = (np.concatenate(x) for x in (all_ts, all_iid, all_bid))
    assert len(store) == len(ts)
    qi = rng.choice(np.r_[ids, [999]], 2000)
    qt = rng.integers(-1000, t + 2000, 2000)
    got, _ = store.before(store.known(qi), qt)
    np.testing.assert_array_equal(got, [_brute(ts, iid, bid, i, q) for i, q in zip(qi, qt, strict=True)])
    counts = np.bincount(iid - 500)
    assert walk_limit > counts.max() or counts.max() > 10 * walk_limit  # all walks, or deep ones indexed


def test_since_open_positions_kept_between_calls_equal_summing_from_the_open() -> None:
    """Dealer positions since the open, extended call by call as trades arrive, equal a fresh sum
    over all trades from the open at every step, and a late trade (before the kept time) is not
    lost."""
    rng = np.random.default_rng(12)
    ch = fuel.OptionChain()
    iids = np.arange(100, 130)
    ch.add_definitions(iids, 6000.0 + 5.0 * (iids - 115), iids % 2 == 0, np.full(30, 10**18, np.int64))
    tq = np.arange(0, 400 * NS, NS // 10, dtype=np.int64)
    bid = rng.uniform(1, 10, len(tq)).round(2)
    ch.add_quotes(tq, rng.choice(iids, len(tq)), bid, bid + 0.5)
    t_open, t = 10 * NS, 10 * NS
    for step in range(60):
        n = int(rng.integers(0, 40))
        ts = np.sort(t + rng.integers(0, 5 * NS, n)).astype(np.int64)
        if step == 30 and n:
            ts[0] = t - 3 * NS  # late: before the time the kept sums reach
            ts = np.sort(ts)
        ch.add_trades(ts, rng.choice(np.r_[iids, [7]], n), rng.uniform(0.5, 11, n).round(2),
                      rng.integers(1, 20, n).astype(float))  # fmt: skip
        t += 5 * NS
        kept = fuel.dealer_positions(ch, t_open, t, keep=True)
        tts, tid, size, sign = ch.trades()
        live = (tts >= t_open) & (tts < t)
        fresh = [-float((size * sign)[live & (tid == i)].sum()) for i in iids.tolist()]
        np.testing.assert_array_equal(kept, fresh)
    assert np.abs(kept).sum() > 0
