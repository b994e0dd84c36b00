"""Engines against answers worked out by hand on constructed inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from vollib.black import black
from vollib.black.greeks.analytical import gamma as vollib_gamma
from vollib.black.implied_volatility import implied_volatility as vollib_iv

from spymaster_core.config import DEFAULT_CONFIG as CFG
from spymaster_core.engines import barrier, fuel, score, tape
from spymaster_core.engines.book_flow import BookFlow
from spymaster_core.engines.greeks import (
    IV_MAX,
    IV_MIN,
    black76_chain,
    black76_gamma,
    black76_implied_vol,
    black76_implied_vols,
)
from spymaster_core.engines.ofi import ofi_events, ofi_increments

NS = 1_000_000_000


def test_ofi_six_updates_by_hand() -> None:
    # Cont-Kukanov-Stoikov e_n, worked by hand (see the comments for each update):
    bid_px = [100.00, 100.00, 100.00, 100.25, 100.00, 100.00]
    bid_sz = [10, 12, 12, 4, 9, 9]
    ask_px = [100.25, 100.25, 100.25, 100.50, 100.50, 100.25]
    ask_sz = [8, 8, 5, 7, 7, 6]
    e = ofi_events(np.array(bid_px), np.array(bid_sz), np.array(ask_px), np.array(ask_sz))
    # 0: first update; 1: bid size 10->12 at the same price: +2; 2: ask size 8->5: +3;
    # 3: bid up (new best 4) +4 and ask up (old ask 5 gone) +5 = 9; 4: bid down (old 4 gone) -4;
    # 5: ask down to 100.25 with 6: -6.
    assert e.tolist() == [0.0, 2.0, 3.0, 9.0, -4.0, -6.0]
    with pytest.raises(ValueError, match="shape"):
        ofi_events(np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(2))


def test_ofi_increments_fed_in_chunks_equal_ofi_events_on_the_whole_day() -> None:
    """The compiled incremental OFI (live and batch) equals the numpy reference on a random-walk
    10-level book with empty levels, fed in chunks of 1 to 300 updates."""
    rng = np.random.default_rng(3)
    n = 3000
    mid = 6000.0 + np.cumsum(rng.choice([-0.25, 0.0, 0.25], n, p=[0.1, 0.8, 0.1]))
    steps = np.arange(10) * 0.25
    bp = (mid[:, None] - 0.125 - steps).round(2)
    ap = (mid[:, None] + 0.125 + steps).round(2)
    bq = rng.integers(1, 400, (n, 10)).astype(float)
    aq = rng.integers(1, 400, (n, 10)).astype(float)
    for px, sz in ((bp, bq), (ap, aq)):  # thin books: the deepest levels are empty at times
        empty = rng.random((n, 10)) < np.linspace(0.0, 0.3, 10)
        empty = np.cumsum(empty, axis=1) > 0
        px[empty], sz[empty] = np.nan, 0.0
    want_best = ofi_events(bp[:, 0], bq[:, 0], ap[:, 0], aq[:, 0])
    want_multi = ofi_events(bp, bq, ap, aq).sum(axis=1)
    got: list[list[np.ndarray]] = [[], [], [], []]
    i, prev = 0, None
    while i < n:
        j = min(n, i + int(rng.integers(1, 300)))
        for acc, part in zip(got, ofi_increments(prev, bp[i:j], bq[i:j], ap[i:j], aq[i:j]), strict=True):
            acc.append(part)
        prev = np.stack([bp[j - 1], bq[j - 1], ap[j - 1], aq[j - 1]])
        i = j
    best, multi, depth_best, depth_multi = (np.concatenate(x) for x in got)
    assert np.array_equal(best, want_best) and np.array_equal(multi, want_multi)
    assert np.count_nonzero(multi) > n // 2
    assert np.array_equal(depth_best, (bq[:, 0] + aq[:, 0]) / 2.0)
    assert np.array_equal(depth_multi, (bq + aq).mean(axis=1) / 2.0)


# ---- barrier ------------------------------------------------------------------------------------
LEVEL = 100.0
BIDS = [100.0 - 0.25 * i for i in range(10)]
ASKS = [100.25 + 0.25 * i for i in range(10)]


class Tape:
    """Builds MBP-10 record arrays from book states: each step sets sizes (and optionally trades)."""

    def __init__(self, bid_sz: float = 200.0, ask_sz: float = 200.0) -> None:
        self.bids = dict.fromkeys(BIDS, bid_sz)
        self.asks = dict.fromkeys(ASKS, ask_sz)
        self.rows: list[tuple] = []
        self.t = 1_000 * NS
        self.emit("A", math.nan, 0)

    def emit(self, action: str, price: float, size: float, same_ts: bool = False) -> None:
        if not same_ts:
            self.t += NS // 10
        bp = sorted(self.bids, reverse=True)[:10]
        ap = sorted(self.asks)[:10]
        pad = [math.nan] * 10

        def sizes(book: dict[float, float], px: list[float]) -> list[float]:
            return ([book[p] for p in px] + [0.0] * 10)[:10]

        self.rows.append(
            (
                self.t,
                ord(action),
                price,
                size,
                (bp + pad)[:10],
                sizes(self.bids, bp),
                (ap + pad)[:10],
                sizes(self.asks, ap),
            )
        )

    def trade(self, price: float, size: float) -> None:
        """A sell aggressor hits `size` at bid `price`: T record, then the C that removes it."""
        self.emit("T", price, size)
        self.bids[price] -= size
        self.emit("C", price, size, same_ts=True)

    def arrays(self) -> tuple[np.ndarray, ...]:
        cols = list(zip(*self.rows, strict=True))
        return (np.array(cols[0], np.int64), np.array(cols[1], np.uint8), np.array(cols[2]), np.array(cols[3], float),
                np.array(cols[4]), np.array(cols[5]), np.array(cols[6]), np.array(cols[7]))  # fmt: skip

    def metrics(self, baseline: float = 600.0) -> barrier.BarrierMetrics:
        arrs = self.arrays()
        flow = BookFlow().process(*arrs)
        bp, bs = arrs[4][-1], arrs[5][-1]
        return barrier.barrier_metrics(flow.ts_ns, flow.price, flow.side, flow.added, flow.canceled, flow.filled,
                                       bp, bs, baseline, self.t + 1, LEVEL, "SUPPORT", CFG)  # fmt: skip


def test_barrier_vacuum_from_cancels() -> None:
    tp = Tape()
    for p in (100.0, 99.75, 99.5):  # the zone is 100 +/- 2 ticks: 99.5 .. 100.5 on the bid side
        tp.bids[p] = 20.0
        tp.emit("C", p, 180)
    m = tp.metrics()
    assert (m.added, m.canceled, m.filled) == (0.0, 540.0, 0.0)
    assert m.state == "VACUUM" and m.delta_liq == -540.0 and m.depth_in_zone == 60.0


def test_barrier_wall_from_adds() -> None:
    tp = Tape()
    for p in (100.0, 99.75, 99.5):
        tp.bids[p] += 300.0
        tp.emit("A", p, 300)
    m = tp.metrics()
    assert (m.added, m.canceled, m.filled) == (900.0, 0.0, 0.0) and m.state == "WALL"


def test_barrier_absorption_fills_replenished() -> None:
    tp = Tape()
    tp.trade(100.0, 150)
    tp.bids[100.0] += 200.0
    tp.emit("A", 100.0, 200)
    m = tp.metrics()
    assert (m.added, m.canceled, m.filled) == (200.0, 0.0, 150.0)
    assert m.state == "ABSORPTION" and m.replenishment_ratio == pytest.approx(200 / 150)


def test_barrier_consumed_fills_not_replenished() -> None:
    tp = Tape()
    tp.trade(100.0, 150)
    tp.trade(100.0, 45)
    tp.trade(99.75, 105)
    tp.bids[99.75] += 50.0
    tp.emit("A", 99.75, 50)
    m = tp.metrics()
    assert (m.added, m.canceled, m.filled) == (50.0, 0.0, 300.0) and m.state == "CONSUMED"


def test_barrier_weak_and_neutral_against_session_baseline() -> None:
    tp = Tape(bid_sz=60.0)
    tp.bids[100.0] += 10.0
    tp.emit("A", 100.0, 10)
    assert tp.metrics(baseline=1000.0).state == "WEAK"  # 190 in the zone < half of 1000
    assert tp.metrics(baseline=300.0).state == "NEUTRAL"


def test_cancel_without_trade_at_same_event_is_not_a_fill_and_scrolling_is_not_a_change() -> None:
    tp = Tape()
    tp.emit("T", 100.0, 50)  # a trade at 100 in one event ...
    tp.bids[100.0] -= 50.0
    tp.emit("C", 100.0, 50)  # ... and a decrease in a later event: a cancel, not a fill
    tp.bids[100.25] = 30.0  # a new best bid pushes 97.75 out of the visible 10 levels
    del tp.asks[100.25]
    tp.emit("A", 100.25, 30)
    flow = BookFlow().process(*tp.arrays())
    bid = flow.side == 1
    assert flow.filled.sum() == 0.0 and flow.canceled[bid].sum() == 50.0
    assert flow.canceled[~bid].sum() == 200.0  # the ask at 100.25 really was pulled
    assert 97.75 not in flow.price.tolist()  # scrolled out of view, not canceled


def test_book_flow_is_the_same_fed_whole_or_record_by_record() -> None:
    tp = Tape()
    tp.trade(100.0, 150)
    tp.bids[99.5] += 70
    tp.emit("A", 99.5, 70)
    tp.trade(99.75, 30)
    arrs = tp.arrays()
    whole = BookFlow().process(*arrs)
    bf = BookFlow()
    parts = [bf.process(*(a[i : i + 1] for a in arrs)) for i in range(len(arrs[0]))]
    for name in ("ts_ns", "price", "side", "added", "canceled", "filled"):
        assert np.array_equal(getattr(whole, name), np.concatenate([getattr(p, name) for p in parts]))


def test_book_flow_on_busy_books_equals_a_brute_force_diff() -> None:
    """Every record changes many sizes (more rows than the kernel's first output buffer holds) and
    every 7th moves the book a tick; the rows equal a brute-force diff of consecutive states over
    the commonly visible prices, fed whole or record by record."""
    rng = np.random.default_rng(5)
    tp = Tape()
    for step in range(60):
        if step % 7 == 6:  # the book moves up a tick: a new best bid and the best ask lifted
            tp.bids[max(tp.bids) + 0.25] = 10.0
            del tp.asks[min(tp.asks)]
            tp.asks[max(tp.asks) + 0.25] = 10.0
        for book in (tp.bids, tp.asks):
            for px in book:
                if rng.random() < 0.8:
                    book[px] = float(rng.integers(1, 500))
        tp.emit("A", math.nan, 0)
    arrs = tp.arrays()
    whole = BookFlow().process(*arrs)
    assert len(whole) > 2 * len(arrs[0]) + 40  # the output buffer had to grow
    want = []
    for i in range(1, len(arrs[0])):
        for side, px_i, sz_i in ((1, 4, 5), (-1, 6, 7)):
            old = dict(zip(arrs[px_i][i - 1].tolist(), arrs[sz_i][i - 1].tolist(), strict=True))
            new = dict(zip(arrs[px_i][i].tolist(), arrs[sz_i][i].tolist(), strict=True))
            lo = max(min(old), min(new)) if side == 1 else None
            hi = min(max(old), max(new)) if side == -1 else None
            for px in set(old) | set(new):
                if (lo is not None and px < lo) or (hi is not None and px > hi):
                    continue
                dq = new.get(px, 0.0) - old.get(px, 0.0)
                if dq:
                    want.append((int(arrs[0][i]), px, side, dq))
    got = [(int(t), p, int(sd), a - c - f) for t, p, sd, a, c, f in zip(whole.ts_ns, whole.price, whole.side,
           whole.added, whole.canceled, whole.filled, strict=True)]  # fmt: skip
    assert sorted(got) == sorted(want)
    bf = BookFlow()
    parts = [bf.process(*(a[i : i + 1] for a in arrs)) for i in range(len(arrs[0]))]
    assert np.array_equal(whole.price, np.concatenate([p.price for p in parts]))
    assert np.array_equal(whole.canceled, np.concatenate([p.canceled for p in parts]))


def test_sliding_zone_sums_equal_full_window_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    """ZoneFlowSums (moved from the previous window of the same level) equals a full scan of the
    W_b window for queries that go forward, back and jump, while old rows are evicted; it scans
    far fewer rows than the windows hold."""
    from spymaster_core.engines.columns import Columns

    scanned = [0, 0]
    kernel = barrier._zone_flow

    def counting(*a):  # type: ignore[no-untyped-def]
        scanned[0] += a[6] - a[5]
        return kernel(*a)

    monkeypatch.setattr(barrier, "_zone_flow", counting)

    rng = np.random.default_rng(9)
    cols = Columns({"ts": (np.int64, ()), "side": (np.int8, ()), "price": (np.float64, ()),
                    "added": (np.float64, ()), "canceled": (np.float64, ()), "filled": (np.float64, ())})  # fmt: skip
    zs, half = barrier.ZoneFlowSums(), barrier.zone_half_width(CFG)
    t, checked = 0, 0
    for _ in range(200):
        m = int(rng.integers(0, 400))
        ts = t + np.cumsum(rng.integers(0, 10 * NS // max(m, 1) + 1, m)).astype(np.int64)
        t = int(ts[-1]) if m else t + 5 * NS
        cols.append({"ts": ts, "side": rng.choice(np.array([-1, 1], np.int8), m),
                     "price": 6000.0 + 0.25 * rng.integers(-12, 12, m), "added": rng.integers(0, 50, m) * 1.0,
                     "canceled": rng.integers(0, 50, m) * 1.0, "filled": rng.integers(0, 9, m) * 1.0})  # fmt: skip
        cols.evict_before(t - int(400 * NS))
        for q in rng.uniform(-30, 1, 3) * NS + t:  # now, a little back, further back
            level, side = 6000.0 + 0.25 * int(rng.integers(-1, 2)), int(rng.choice([-1, 1]))
            lo, hi = barrier.flow_window(cols.view("ts"), int(q), CFG)
            v = [cols.view(k) for k in ("side", "price", "added", "canceled", "filled")]
            got = zs.sums(*v, cols.dropped, lo, hi, side, level, half)
            sel = (v[0][lo:hi] == side) & (np.abs(v[1][lo:hi] - level) <= half)
            want = tuple(float(x[lo:hi][sel].sum()) for x in v[2:])
            assert got == want
            scanned[1] += hi - lo
            checked += 1
    assert checked == 600 and cols.dropped > 10_000
    assert scanned[0] < scanned[1] / 3


# ---- tape ---------------------------------------------------------------------------------------
def test_sweep_detection_on_constructed_prints() -> None:
    t0 = 5 * NS
    ts = np.array([t0, t0 + 10_000_000, t0 + 20_000_000])
    px = np.array([100.0, 100.25, 100.5])
    sz = np.array([40.0, 40.0, 40.0])
    buy = np.ones(3, np.int8)
    s = tape.detect_sweep(ts, px, sz, buy, CFG)
    assert s.detected and s.direction == "UP" and s.num_prints == 3 and s.num_prices == 3
    assert s.notional_usd == pytest.approx((100 + 100.25 + 100.5) * 40 * 50) and s.window_ms == 20.0
    assert tape.detect_sweep(ts, px, sz, -buy, CFG).direction == "DOWN"
    assert not tape.detect_sweep(ts, np.full(3, 100.0), sz, buy, CFG).detected  # one price level
    assert not tape.detect_sweep(ts, px, sz / 4, buy, CFG).detected  # below SWEEP_MIN_NOTIONAL
    gapped = np.array([t0, t0 + 200_000_000, t0 + 400_000_000])  # gaps > SWEEP_MAX_GAP_MS
    assert not tape.detect_sweep(gapped, px, sz, buy, CFG).detected


def test_sweep_is_the_latest_qualifying_run_on_random_tapes() -> None:
    """On random tapes the vectorised detector returns the latest run (same aggressor, gaps <=
    SWEEP_MAX_GAP_MS) with >= 2 prints at >= 2 prices and notional >= SWEEP_MIN_NOTIONAL, found
    here by walking the runs one by one."""
    rng = np.random.default_rng(11)
    gap = CFG.tape.SWEEP_MAX_GAP_MS * 1e6
    found = 0
    for _ in range(300):
        n = int(rng.integers(1, 60))
        ts = np.cumsum(rng.integers(1, int(gap * 1.5), n)).astype(np.int64)
        px = 5000.0 + 0.25 * rng.integers(0, 3, n)
        sz = rng.integers(1, 40, n).astype(np.float64)
        agg = rng.choice(np.array([-1, 0, 1], np.int8), n, p=[0.4, 0.1, 0.5])
        want = None
        runs, start = [], 0
        for i in range(1, n + 1):
            if i == n or agg[i] != agg[i - 1] or ts[i] - ts[i - 1] > gap:
                runs.append((start, i))
                start = i
        for a, b in reversed(runs):
            notional = float((px[a:b] * sz[a:b]).sum()) * CFG.instrument.es_multiplier_usd_per_pt
            if (
                agg[a] != 0
                and b - a >= 2
                and len(set(px[a:b])) >= 2
                and notional >= CFG.tape.SWEEP_MIN_NOTIONAL_usd
            ):
                want = (a, b, notional)
                break
        got = tape.detect_sweep(ts, px, sz, agg, CFG)
        assert got.detected == (want is not None)
        if want is not None:
            found += 1
            a, b, notional = want
            assert got.num_prints == b - a and got.last_ts_ns == ts[b - 1]
            assert got.num_prices == len(set(px[a:b])) and got.notional_usd == pytest.approx(notional)
    assert found > 30  # the random tapes do contain sweeps


def test_tape_velocity_is_the_ols_slope() -> None:
    ts = np.arange(10) * (NS // 4) + 100 * NS
    px = 100.0 + 0.5 * (ts - ts[0]) / NS  # +0.5 pt/s exactly
    m = tape.tape_metrics(
        ts, px, np.ones(10), np.ones(10, np.int8), int(ts[-1]) + 1, 101.0, "RESISTANCE", CFG
    )
    assert m.velocity_pt_s == pytest.approx(0.5) and m.imbalance == 1.0 and m.imbalance_through == 1.0


# ---- greeks and fuel ----------------------------------------------------------------------------
def test_black76_gamma_matches_vollib_and_finite_difference() -> None:
    F, K, t, s = (
        np.array([6000.0, 6000.0]),
        np.array([6010.0, 5950.0]),
        np.array([0.002, 0.01]),
        np.array([0.15, 0.3]),
    )
    g = black76_gamma(F, K, t, s)
    for i in range(2):
        h = 0.5
        fd = (black("c", F[i] + h, K[i], t[i], 0, s[i]) - 2 * black("c", F[i], K[i], t[i], 0, s[i])
              + black("c", F[i] - h, K[i], t[i], 0, s[i])) / h**2  # fmt: skip
        assert g[i] == pytest.approx(fd, rel=1e-3)
    # The compiled formula equals vollib's analytical Black gamma over 0DTE-like chains, r >= 0.
    rng = np.random.default_rng(2)
    F, t = rng.uniform(5000, 7000, 3000), rng.uniform(60, 86400, 3000) / (365 * 86400)
    K, s, r = F + rng.uniform(-80, 80, 3000), rng.uniform(0.03, 2.0, 3000), 0.04
    assert np.allclose(black76_gamma(F, K, t, s), vollib_gamma("c", F, K, t, 0.0, s), rtol=1e-12, atol=0)
    assert np.allclose(black76_gamma(F, K, t, s, r), vollib_gamma("p", F, K, t, r, s), rtol=1e-12, atol=0)
    with pytest.raises(ValueError):
        black76_gamma(6000.0, 6000.0, 0.0, 0.2)
    price = black("p", 6000.0, 5990.0, 0.003, 0, 0.18)
    assert black76_implied_vol(price, 6000.0, 5990.0, 0.003, False) == pytest.approx(0.18, abs=1e-9)
    assert math.isnan(black76_implied_vol(5.0, 6000.0, 5900.0, 0.003, True))  # below intrinsic


def test_implied_vols_match_vollib_lets_be_rational_on_0dte_chains() -> None:
    """The compiled solver against vollib's Let's-Be-Rational: 0DTE-like options (strikes within
    80 pt of F on the 5-pt grid, 1 min to 1 day to expiry, vols 0.5%-800%, quotes off the model
    price by up to 10% so some are outside the no-arbitrage bounds): the same options get no
    vol, and the vols agree to 1e-10 relative (prices >= 0.05, one tick)."""
    rng = np.random.default_rng(1)
    n = 4000
    F = rng.uniform(5000.0, 7000.0, n)
    K = np.round((F + rng.uniform(-80.0, 80.0, n)) / 5.0) * 5.0
    t = rng.uniform(60.0, 86400.0, n) / (365.0 * 86400.0)
    sigma = np.exp(rng.uniform(np.log(0.005), np.log(8.0), n))
    call = rng.integers(0, 2, n).astype(bool)
    price = np.array(
        [
            black("c" if c else "p", f, k, tt, 0.0, s)
            for f, k, tt, s, c in zip(F, K, t, sigma, call, strict=True)
        ]
    )
    price = np.round(price * rng.uniform(0.9, 1.1, n) / 0.05) * 0.05
    want, raw = np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        intrinsic = max(F[i] - K[i], 0.0) if call[i] else max(K[i] - F[i], 0.0)
        if intrinsic < price[i] < (F[i] if call[i] else K[i]):
            v = raw[i] = float(vollib_iv(price[i], F[i], K[i], 0.0, t[i], "c" if call[i] else "p"))
            want[i] = v if IV_MIN <= v <= IV_MAX else np.nan
    got = black76_implied_vols(price, F, K, t, call)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = np.isfinite(want)
    assert 0.5 * n < ok.sum() < n  # both kinds of outcome are exercised, and both IV bounds:
    assert (raw < IV_MIN).sum() >= 10 and (raw > IV_MAX).sum() >= 10
    assert np.allclose(got[ok], want[ok], rtol=1e-10, atol=0.0)
    # The fuel engine's one-pass chain kernel gives the same vols and gammas (NaN without a quote).
    F0 = 6000.0
    k0 = F0 + (K - F)
    bid, ask = np.where(np.arange(n) % 7 == 0, 0.0, price - 0.05), price + 0.05
    iv0, g0 = black76_chain(bid, ask, F0, k0, t, call)
    want0 = black76_implied_vols(np.where(bid > 0, (bid + ask) / 2, np.nan), F0, k0, t, call)
    assert np.array_equal(iv0, want0, equal_nan=True) and np.isnan(iv0[::7]).all()
    ok0 = np.isfinite(want0)
    assert (
        np.array_equal(g0[ok0], black76_gamma(F0, k0[ok0], t[ok0], want0[ok0])) and np.isnan(g0[~ok0]).all()
    )
    # Discounted prices (r > 0) and the scalar wrapper agree with vollib too.
    p = black("c", 6000.0, 6020.0, 0.01, 0.05, 0.25)
    assert black76_implied_vol(p, 6000.0, 6020.0, 0.01, True, r=0.05) == pytest.approx(0.25, rel=1e-10)


def _chain(t_ns: int, exp_ns: int, F: float, sigma: float = 0.2) -> fuel.OptionChain:
    ch = fuel.OptionChain()
    strikes = [(1, 6010.0, True), (2, 5990.0, False), (3, 6050.0, True), (4, 5950.0, False)]
    ch.add_definitions(*(np.array(x) for x in zip(*[(i, k, c, exp_ns) for i, k, c in strikes], strict=True)))
    ty = (exp_ns - t_ns) / fuel.NS_PER_YEAR
    ids, bids, asks = [], [], []
    for i, k, c in strikes:
        p = black("c" if c else "p", F, k, ty, 0, sigma)
        ids.append(i)
        bids.append(p - 0.05 if i != 4 else 0.0)  # the far put has no bid: no valid vol
        asks.append(p + 0.05 if i != 4 else 0.0)
    ch.add_quotes(np.full(4, t_ns - 10 * NS), np.array(ids), np.array(bids), np.array(asks))
    # Customers buy 1000 of the 6010 call at the ask, sell 300 of the 5990 put at the bid.
    ch.add_trades(
        np.array([t_ns - 5 * NS, t_ns - 4 * NS]),
        np.array([1, 2]),
        np.array([asks[0], bids[1]]),
        np.array([1000.0, 300.0]),
    )
    return ch


def test_gex_sign_conventions_walls_and_flip() -> None:
    t_ns, F = 1_800_000_000 * NS, 6000.0
    exp_ns = t_ns + 6 * 3600 * NS
    ch = _chain(t_ns, exp_ns, F)
    ch.open_interest = {3: 1000.0}  # OI convention: dealers long calls
    m = fuel.fuel_metrics(ch, F, t_ns, t_ns - 3600 * NS, CFG)
    assert m.missing == "" and m.n_iv_skipped == 1 and m.n_options == 3
    ty = (exp_ns - t_ns) / fuel.NS_PER_YEAR
    dollar = 50 * F * F * 0.01
    iv = {
        i: black76_implied_vol(sum(ch.quote_before(i, t_ns)) / 2, F, k, ty, c)
        for i, (k, c, _) in ch.definitions.items()
        if i != 4
    }
    g_call = float(black76_gamma(F, 6010.0, ty, iv[1]))
    g_put = float(black76_gamma(F, 5990.0, ty, iv[2]))
    g_far = float(black76_gamma(F, 6050.0, ty, iv[3]))
    # Dealers short the 1000 calls customers bought (negative), long the 300 puts customers sold.
    assert m.net_dealer_gamma_usd == pytest.approx((-1000 * g_call + 300 * g_put) * dollar, rel=1e-9)
    assert m.gamma_by_strike[6010.0] < 0 < m.gamma_by_strike[5990.0]
    assert m.net_dealer_gamma_oi_usd == pytest.approx(1000 * g_far * dollar, rel=1e-9)
    assert m.call_wall.strike == 6010.0 and m.call_wall.gex_usd < 0 and m.put_wall.strike == 5990.0
    assert m.net_dealer_gamma_usd < -CFG.fuel.gamma_effect_threshold_usd and m.effect == "AMPLIFY"
    # The flip is the zero of repriced total GEX nearest F: short calls at 6010 make it negative at
    # F; the dealers' long 6050 calls turn it positive again above.
    assert 6010.0 < m.hvl < 6050.0
    # The contract multiplier comes from config (instrument section), not a constant: MES (5 USD
    # per point) gives a tenth of every dollar figure and the same flip.
    mes = CFG.model_copy(
        update={"instrument": CFG.instrument.model_copy(update={"es_multiplier_usd_per_pt": 5.0})}
    )
    m5 = fuel.fuel_metrics(ch, F, t_ns, t_ns - 3600 * NS, mes)
    assert m5.net_dealer_gamma_usd == pytest.approx(m.net_dealer_gamma_usd / 10, rel=1e-12)
    assert m5.gamma_by_strike[6010.0] == pytest.approx(m.gamma_by_strike[6010.0] / 10, rel=1e-12)
    assert m5.hvl == pytest.approx(m.hvl, rel=1e-12)
    pos = np.array([-1000.0, 300.0, 1000.0])
    K, v = np.array([6010.0, 5990.0, 6050.0]), np.array([iv[1], iv[2], iv[3]])
    total = lambda s: float((black76_gamma(s, K, ty, v) * pos).sum())  # noqa: E731
    assert total(m.hvl - 1.0) * total(m.hvl + 1.0) < 0
    d = abs(m.hvl - F) - 1.0
    assert all(total(x) < 0 for x in np.linspace(F - d, F + d, 41))  # no crossing nearer to F


def test_gamma_flip_search_equals_a_full_grid_scan_with_vollib() -> None:
    """The outward search for the flip nearest F gives the root a scan of the whole spot grid with
    vollib's gamma gives, on random dealer books (flips near F, far away, several, or none); in the
    last minutes before expiry gamma is a narrow bump at each strike and crossings crowd together."""
    rng = np.random.default_rng(4)
    step, width = CFG.bands.tick_size_pt * 4, CFG.fuel.FUEL_STRIKE_RANGE_pt
    kinds = {"none": 0, "near": 0, "far": 0}
    for i in range(400):
        F = 6000.0 + rng.uniform(-2, 2)
        expiring = i % 4 == 3
        K = np.arange(5990.0, 6011.0, 1.0) if expiring else np.arange(5925.0, 6080.0, 5.0)
        ty = np.full(len(K), rng.uniform(0.5, 7) / (365 * 24 * (60 if expiring else 1)))
        iv = rng.uniform(0.08, 0.4, len(K))
        pos = rng.normal(0, 1, len(K)) * 1000 * (rng.random(len(K)) < 0.4) + rng.normal(0, 300)
        got = fuel._gamma_flip(F, K, ty, iv, pos, CFG)
        spots = F + np.arange(-width, width + step / 2, step)
        g = vollib_gamma("c", spots[:, None], K[None, :], ty[None, :], 0.0, iv[None, :])
        total = (
            (g * pos[None, :]).sum(axis=1) * CFG.instrument.es_multiplier_usd_per_pt * spots * spots * 0.01
        )
        sgn = np.sign(total)
        cross = np.flatnonzero(sgn[:-1] * sgn[1:] < 0)
        if len(cross) == 0:
            assert math.isnan(got)
            kinds["none"] += 1
            continue
        x0, x1, y0, y1 = spots[cross], spots[cross + 1], total[cross], total[cross + 1]
        roots = x0 - y0 * (x1 - x0) / (y1 - y0)
        want = roots[int(np.argmin(np.abs(roots - F)))]
        assert got == pytest.approx(want, abs=1e-9)
        kinds["near" if abs(want - F) < 10 else "far"] += 1
    assert min(kinds.values()) >= 20, kinds


def test_chain_quotes_before_t_to_the_nanosecond_and_latest_kept_as_quotes_arrive() -> None:
    """The latest quote strictly before t, per definition, equals a search of each instrument's
    history, as quotes arrive in batches and t moves on (some instruments quoted after t); a
    quote 1 ns before t counts and one at t does not (epoch-ns timestamps keep their precision)."""
    rng = np.random.default_rng(6)
    ch, t0 = fuel.OptionChain(), 1_763_300_000 * NS
    iids = np.arange(100, 140)
    ch.add_definitions(
        iids, 6000.0 + 5.0 * (iids - 120), iids % 2 == 0, np.full(len(iids), t0 + 8 * 3600 * NS)
    )
    hist: dict[int, list[tuple[int, float, float]]] = {}
    t = t0
    for _ in range(300):
        m = int(rng.integers(0, 30))
        ts = np.sort(t + rng.integers(0, 2 * NS, m)).astype(np.int64)
        iid = rng.choice(iids, m)
        bid = rng.uniform(1, 50, m).round(2)
        ch.add_quotes(ts, iid, bid, bid + 0.25)
        for a, b, c in zip(ts.tolist(), iid.tolist(), bid.tolist(), strict=True):
            hist.setdefault(b, []).append((a, c, c + 0.25))
        t = int(ts[-1]) if m else t + NS
        q = t - int(rng.integers(0, NS))  # a fuel time at or before the newest quote
        mask = rng.random(len(iids)) < 0.7
        got_b, got_a = ch.definition_quotes_before(mask, q)
        for k, i in enumerate(iids[mask].tolist()):
            before = [x for x in hist.get(i, []) if x[0] < q]
            want = before[-1][1:] if before else (math.nan, math.nan)
            assert (got_b[k], got_a[k]) == want or (math.isnan(want[0]) and math.isnan(got_b[k]))
    tq = (t // 256 + 10**7) * 256 + 130  # float64 holds epoch ns only to 256 ns: tq - 1 would round up
    ch.add_quotes(
        np.array([tq - 1, tq], np.int64), np.array([100, 101]), np.array([7.0, 8.0]), np.array([7.5, 8.5])
    )
    b, _ = ch.definition_quotes_before(np.isin(iids, [100, 101]), tq)
    assert b[0] == 7.0 and b[1] != 8.0
    assert ch.quote_before(100, tq)[0] == 7.0 and ch.quote_before(101, tq)[0] != 8.0  # from history


def test_fuel_missing_options_says_why_and_customer_buying_amplifies() -> None:
    empty = fuel.fuel_metrics(fuel.OptionChain(), 6000.0, 10 * NS, 0, CFG)
    assert empty.missing and math.isnan(empty.net_dealer_gamma_usd) and empty.effect == "NEUTRAL"
    t_ns = 1_800_000_000 * NS
    ch = _chain(t_ns, t_ns + 6 * 3600 * NS, 6000.0)
    ch.add_trades(
        np.array([t_ns - NS]), np.array([1]), np.array([ch.quote_before(1, t_ns)[1]]), np.array([5000.0])
    )
    m = fuel.fuel_metrics(ch, 6000.0, t_ns, 0, CFG)
    assert m.net_dealer_gamma_usd < -CFG.fuel.gamma_effect_threshold_usd and m.effect == "AMPLIFY"
    assert all(math.isfinite(v) for v in m.gamma_by_strike.values())


def test_ewma_closed_form_equals_the_recursion() -> None:
    """The vectorised EWMA equals s_i = s_{i-1} + alpha_i (v_i - s_{i-1}) on irregular times,
    including half-lives so short that the closed form's weights underflow."""
    rng = np.random.default_rng(3)
    for tau in (0.005, 0.1, 2.0, 30.0):
        for _ in range(50):
            n = int(rng.integers(1, 100))
            t = np.sort(rng.integers(0, 20 * NS, n))
            v = rng.uniform(0.0, 100.0, n)
            s, ref = float(v[0]), [float(v[0])]
            for i in range(1, n):
                s += (1 - math.exp(-math.log(2) * (t[i] - t[i - 1]) / 1e9 / tau)) * (v[i] - s)
                ref.append(s)
            np.testing.assert_allclose(score.ewma(t, v, tau), ref, rtol=1e-9, atol=1e-9)


def test_score_smoothing_and_break_trigger_hold() -> None:
    times = np.arange(0, 5 * NS, NS // 4)
    assert score.ewma(times[:2], np.array([0.0, 100.0]), 2.0)[1] == pytest.approx(
        100 * (1 - math.exp(-math.log(2) * 0.25 / 2))
    )
    high = np.full(len(times), 90.0)
    assert score.signal(high, times, 3.0, 0.0, CFG) == "BREAK"
    dip = high.copy()
    dip[-6] = 70.0  # below 80 within the last TRIGGER_HOLD_TIME (3 s): not held
    assert score.signal(dip, times, 3.0, 0.0, CFG) == "NEUTRAL"
    assert score.signal(np.full(len(times), 10.0), times, 1.0, 0.0, CFG) == "REJECT"
    assert score.signal(np.full(len(times), 10.0), times, 4.0, 0.0, CFG) == "NEUTRAL"  # not within TOUCH_BAND


def test_customer_flow_by_strike_equals_a_trade_by_trade_count() -> None:
    """Vectorised per-strike customer flow equals summing each classified trade by hand (buys at or
    above the ask before it, sells at or below the bid, the rest in neither), in any window."""
    from spymaster_core.engines import fuel

    rng = np.random.default_rng(5)
    chain = fuel.OptionChain()
    iids = np.arange(100, 140, dtype=np.int64)
    strikes = 5000.0 + 5.0 * (np.arange(40) // 2)
    chain.add_definitions(iids, strikes, np.arange(40) % 2 == 0, np.full(40, 10**18, np.int64))
    ts_q = np.sort(rng.integers(0, 10**12, 4000))
    bid = rng.uniform(1, 10, 4000).round(2)
    chain.add_quotes(ts_q, rng.choice(iids, 4000), bid, bid + 0.5)
    ts_t = np.sort(rng.integers(0, 10**12, 3000))
    tr_iid = rng.choice(np.r_[iids, [999]], 3000)  # 999: not a 0DTE definition, ignored
    price = rng.uniform(0.5, 11, 3000).round(2)
    size = rng.integers(1, 30, 3000).astype(float)
    chain.add_trades(ts_t, tr_iid, price, size)
    t0, t1 = int(ts_t[500]), int(ts_t[2500])
    want: dict[float, list[float]] = {}
    for t, i, px, q in zip(ts_t.tolist(), tr_iid.tolist(), price.tolist(), size.tolist(), strict=True):
        if not t0 <= t < t1 or i == 999:
            continue
        b, a = chain.quote_before(i, t)
        side = 0 if px >= a else 1 if px <= b else None
        if side is None:
            continue
        k, is_call, _ = chain.definitions[i]
        want.setdefault(k, [0.0] * 4)[(0 if is_call else 2) + side] += q
    got = fuel.customer_flow_by_strike(chain, t0, t1)
    assert sorted(got) == sorted(want) and len(want) > 10
    for k, v in want.items():
        assert got[k].tolist() == v
