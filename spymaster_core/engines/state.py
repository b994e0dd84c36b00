"""`EngineState`: the one incremental implementation behind batch Silver features and the live core.

Feed it market data in time order, either event by event (`update(event)`, the live core) or as
arrays (`update_mbp10`, `update_trades`, ..., batch replay of a Bronze partition); ask it for the
features of a level at any time t at or after everything fed so far (`level_features`). Both
paths run the same code: events are buffered and flushed through the array methods, the derived
streams (OFI per update, added/canceled/filled flow per price, 1 s book samples, classified option
trades) are computed by the same incremental kernels with their state carried across calls, and
the engines (`barrier`, `tape`, `kinematics`, `ofi`, `fuel`, `score`) are pure functions of the
windows ending at t. Memory is bounded by HORIZON (the longest window plus the smoothing span),
not by the day; only the 1 s book samples and the option chain are kept for the whole session.
"""

from __future__ import annotations

import math
from itertools import chain
from typing import Any

import numba
import numpy as np

from spymaster_core import calendar
from spymaster_core.config import Config
from spymaster_core.engines import barrier as barrier_engine
from spymaster_core.engines import fuel as fuel_engine
from spymaster_core.engines import score as score_engine
from spymaster_core.engines.book_flow import BookFlow
from spymaster_core.engines.columns import Columns
from spymaster_core.engines.feature_row import OFI_HORIZONS_S, feature_row
from spymaster_core.engines.kinematics import kinematics
from spymaster_core.engines.ofi import integrate_ofi, ofi_increments
from spymaster_core.engines.tape import tape_metrics
from spymaster_core.events import FuturesTrade, Mbp10Update, OptionQuote, OptionTrade
from spymaster_core.schemas import BOOK_DEPTH

D = BOOK_DEPTH
NS = 1_000_000_000
FLUSH_EVENTS = 4096
_BOOK_SIDES = ("bid_px", "bid_sz", "ask_px", "ask_sz")
_ACTIONS = {c: ord(c) for c in "ACMTFRN"}


def horizon_s(cfg: Config) -> float:
    """Seconds of history the windows can reach back from the newest event."""
    w = cfg.windows
    longest = max(
        w.W_b_s, w.W_t_s, w.W_g_s, w.W_v_s, max(w.kinematics_horizons_s) * 2, max(OFI_HORIZONS_S), 4.0
    )
    return longest + score_engine.SMOOTH_SPAN_S + 5.0


class EngineState:
    """Incremental market state for one trading date (see module docstring).

    Raises ValueError when data arrive out of time order (an earlier ts than already fed).
    """

    def __init__(self, date: str, cfg: Config) -> None:
        self.cfg = cfg
        self.date = date
        self.rth_open_ns = calendar.et_ns(date, cfg.session.rth_open)
        self.horizon_ns = int(horizon_s(cfg) * NS)
        self.trades = Columns({"ts": (np.int64, ()), "price": (np.float64, ()), "size": (np.float64, ()),
                               "aggressor": (np.int8, ())})  # fmt: skip
        self.book = Columns({"ts": (np.int64, ()), "bid_px": (np.float64, (D,)), "bid_sz": (np.float64, (D,)),
                             "ask_px": (np.float64, (D,)), "ask_sz": (np.float64, (D,)), "e_best": (np.float64, ()),
                             "e_multi": (np.float64, ()), "depth_best": (np.float64, ()),
                             "depth_multi": (np.float64, ())})  # fmt: skip
        self.flow = Columns({"ts": (np.int64, ()), "price": (np.float64, ()), "side": (np.int8, ()),
                             "added": (np.float64, ()), "canceled": (np.float64, ()),
                             "filled": (np.float64, ())})  # fmt: skip
        self.samples = Columns(
            {"ts": (np.int64, ()), "bid_sz": (np.float64, (D,)), "ask_sz": (np.float64, (D,))}
        )
        self.book_flow = BookFlow()
        self._zone_sums = barrier_engine.ZoneFlowSums()
        self._zone_half = barrier_engine.zone_half_width(cfg)
        self.chain = fuel_engine.OptionChain()
        self._last_book: np.ndarray | None = None  # (4, D): bid_px, bid_sz, ask_px, ask_sz of the last record
        self._next_evict_ns = -(2**62)
        self._next_sample_ns: int | None = None
        self._latest_ns = -(2**62)
        self._pending: dict[type, list[Any]] = {
            FuturesTrade: [],
            Mbp10Update: [],
            OptionQuote: [],
            OptionTrade: [],
        }
        self._n_pending = 0
        self._fuel_cache: dict[int, fuel_engine.FuelMetrics] = {}
        self._baseline_cache: dict[tuple[int, int], float] = {}
        # Raw break score per (level, direction) per grid time: each grid time is scored once.
        self._raw_cache: dict[tuple[float, str], dict[int, float]] = {}
        self._raw_n = 0
        self.events_in = 0

    # ---- feeding -------------------------------------------------------------------------------
    def update(self, event: FuturesTrade | Mbp10Update | OptionQuote | OptionTrade) -> None:
        """Buffer one event (live path); buffers are flushed through the array methods every
        FLUSH_EVENTS events and before any query. Raises TypeError for an unknown event type."""
        try:
            self._pending[type(event)].append(event)
        except KeyError:
            raise TypeError(f"EngineState.update: unsupported event {type(event).__name__}") from None
        self._n_pending += 1
        if self._n_pending >= FLUSH_EVENTS:
            self.flush()

    def flush(self) -> None:
        """Push buffered events through the array methods (quotes before trades)."""
        if not self._n_pending:
            return
        p = self._pending
        if ev := p[Mbp10Update]:
            lv = np.fromiter(chain.from_iterable([e.levels for e in ev]), np.float64, 4 * D * len(ev))
            lv = lv.reshape(len(ev), 4, D).transpose(1, 0, 2).copy()  # 4 contiguous (n, 10) blocks
            self.update_mbp10(
                np.array([e.ts_event_ns for e in ev], dtype=np.int64),
                np.array([_ACTIONS.get(e.action, 0) for e in ev], dtype=np.uint8),
                np.array([e.price for e in ev], dtype=np.float64),
                np.array([e.size for e in ev], dtype=np.float64),
                lv[0], lv[1], lv[2], lv[3],
            )  # fmt: skip
        if ev := p[FuturesTrade]:
            self.update_trades(
                np.array([e.ts_event_ns for e in ev], dtype=np.int64),
                np.array([e.price for e in ev], dtype=np.float64),
                np.array([e.size for e in ev], dtype=np.float64),
                np.array([e.aggressor for e in ev], dtype=np.int8),
            )
        if ev := p[OptionQuote]:
            self.update_option_quotes(
                np.array([e.ts_event_ns for e in ev], dtype=np.int64),
                np.array([e.instrument_id for e in ev], dtype=np.int64),
                np.array([e.bid for e in ev], dtype=np.float64),
                np.array([e.ask for e in ev], dtype=np.float64),
            )
        if ev := p[OptionTrade]:
            self.update_option_trades(
                np.array([e.ts_event_ns for e in ev], dtype=np.int64),
                np.array([e.instrument_id for e in ev], dtype=np.int64),
                np.array([e.price for e in ev], dtype=np.float64),
                np.array([e.size for e in ev], dtype=np.float64),
            )
        for v in p.values():
            v.clear()
        self._n_pending = 0

    def _check_order(self, ts: np.ndarray, cols: Columns, what: str) -> None:
        if len(ts) == 0:
            return
        last = int(cols.data["ts"][cols.stop - 1]) if len(cols) else -(2**62)
        if not _sorted_after(ts, last):
            raise ValueError(f"{what}: ts_event_ns out of order (first {int(ts[0])} < last fed {int(last)})")

    def _advance(self, ts_last: int) -> None:
        if ts_last > self._latest_ns:
            self._latest_ns = ts_last
            cut = ts_last - self.horizon_ns
            # Evict at most once per second of event time: rows older than the horizon are never
            # read, so keeping them a little longer changes no result.
            if cut >= self._next_evict_ns:
                self._next_evict_ns = cut + NS
                for cols in (self.trades, self.book, self.flow):
                    cols.evict_before(cut)
            if self._raw_n > 50_000:
                old = cut - int(score_engine.SMOOTH_SPAN_S * NS)
                self._raw_cache = {
                    k: kept
                    for k, v in self._raw_cache.items()
                    if (kept := {g: r for g, r in v.items() if g >= old})
                }
                self._raw_n = sum(len(v) for v in self._raw_cache.values())

    def update_mbp10(self, ts: np.ndarray, action: np.ndarray, price: np.ndarray, size: np.ndarray,
                     bid_px: np.ndarray, bid_sz: np.ndarray, ask_px: np.ndarray, ask_sz: np.ndarray) -> None:  # fmt: skip
        """MBP-10 records sorted by (ts_event, sequence): ts int64 ns; action uint8 ASCII; price
        points (NaN if none); size contracts; book arrays (n, 10), NaN price for an empty level."""
        n = len(ts)
        if n == 0:
            return
        self._check_order(ts, self.book, "mbp10")
        self.events_in += n
        flow = self.book_flow.process(ts, action, price, size, bid_px, bid_sz, ask_px, ask_sz)
        self.flow.append({"ts": flow.ts_ns, "price": flow.price, "side": flow.side, "added": flow.added,
                          "canceled": flow.canceled, "filled": flow.filled})  # fmt: skip
        e_best, e_multi, depth_best, depth_multi = ofi_increments(
            self._last_book, bid_px, bid_sz, ask_px, ask_sz
        )
        self._sample(ts, bid_sz, ask_sz, upto_ns=int(ts[-1]))
        self.book.append({"ts": ts, "bid_px": bid_px, "bid_sz": bid_sz, "ask_px": ask_px, "ask_sz": ask_sz,
                          "e_best": e_best, "e_multi": e_multi, "depth_best": depth_best,
                          "depth_multi": depth_multi})  # fmt: skip
        if self._last_book is None:
            self._last_book = np.empty((4, D))
        for row, x in zip(self._last_book, (bid_px, bid_sz, ask_px, ask_sz), strict=True):
            row[:] = x[-1]
        self._advance(int(ts[-1]))

    def _sample(self, ts: np.ndarray, bid_sz: np.ndarray, ask_sz: np.ndarray, upto_ns: int) -> None:
        """1 s book samples: for each whole second b <= upto_ns, the sizes of the last record before b."""
        if self._next_sample_ns is None:
            if len(ts) == 0:
                return
            self._next_sample_ns = (int(ts[0]) // NS + 1) * NS
        if upto_ns < self._next_sample_ns:
            return
        bounds = np.arange(self._next_sample_ns, upto_ns + 1, NS, dtype=np.int64)
        if self._last_book is not None:  # the previous batch's last record answers for early bounds
            ts = np.concatenate([np.array([-(2**62)], np.int64), ts])
            bid_sz = np.vstack([self._last_book[1][None, :], bid_sz])
            ask_sz = np.vstack([self._last_book[3][None, :], ask_sz])
        idx = np.searchsorted(ts, bounds, side="left") - 1
        ok = idx >= 0
        self.samples.append({"ts": bounds[ok], "bid_sz": bid_sz[idx[ok]], "ask_sz": ask_sz[idx[ok]]})
        self._next_sample_ns = int(bounds[-1]) + NS

    def update_trades(
        self, ts: np.ndarray, price: np.ndarray, size: np.ndarray, aggressor: np.ndarray
    ) -> None:
        """Front-month trades sorted by time (points, contracts, aggressor +1/-1/0)."""
        if len(ts) == 0:
            return
        self._check_order(ts, self.trades, "futures trades")
        self.events_in += len(ts)
        self.trades.append({"ts": ts, "price": price, "size": size, "aggressor": aggressor})
        self._advance(int(ts[-1]))

    def set_option_definitions(
        self, iid: np.ndarray, strike: np.ndarray, is_call: np.ndarray, expiration_ns: np.ndarray
    ) -> None:
        """The date's 0DTE instruments (strike points, expiration ns)."""
        self.chain.add_definitions(iid, strike, is_call, expiration_ns)

    def set_open_interest(self, oi: dict[int, float]) -> None:
        """Open interest (contracts) per option instrument, as published before the session."""
        self.chain.open_interest.update(oi)

    def update_option_quotes(self, ts: np.ndarray, iid: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> None:
        """0DTE option top-of-book quotes sorted by time (points)."""
        self.events_in += len(ts)
        self.chain.add_quotes(ts, iid, bid, ask)

    def update_option_trades(
        self, ts: np.ndarray, iid: np.ndarray, price: np.ndarray, size: np.ndarray
    ) -> None:
        """0DTE option trades sorted by time; classified against the quotes fed before them."""
        self.events_in += len(ts)
        self.chain.add_trades(ts, iid, price, size)

    # ---- queries -------------------------------------------------------------------------------
    def book_before(self, t_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """(bid_px, bid_sz, ask_px, ask_sz) of the last MBP-10 record before t_ns, or None."""
        i = self.book.last_before(t_ns)
        if i < 0:
            return None
        return self.book.row(i, _BOOK_SIDES)  # type: ignore[return-value]

    def mid_before(self, t_ns: int, book: tuple[np.ndarray, ...] | None | bool = False) -> float:
        """Futures mid (points) before t_ns; the last trade when the book is one-sided; NaN if none.
        `book`: `book_before(t_ns)` when the caller has it already."""
        b = self.book_before(t_ns) if book is False else book
        if b is not None and math.isfinite(b[0][0]) and math.isfinite(b[2][0]):
            return (float(b[0][0]) + float(b[2][0])) / 2.0
        i = self.trades.last_before(t_ns)
        return float(self.trades.view("price")[i]) if i >= 0 else math.nan

    def baseline_depth(self, t_ns: int, side: int) -> float:
        """Session median (contracts) of the best 2*BARRIER_ZONE_TICKS+1 levels' size on `side`
        (+1 bid, -1 ask) over 1 s samples before the minute of t (cached per minute)."""
        minute = t_ns // (60 * NS) * 60 * NS
        key = (minute, side)
        if key not in self._baseline_cache:
            hi = int(np.searchsorted(self.samples.view("ts"), minute, side="left"))
            sz = self.samples.view("bid_sz" if side > 0 else "ask_sz")[:hi]
            self._baseline_cache[key] = barrier_engine.baseline_depth(
                sz, 2 * self.cfg.bands.BARRIER_ZONE_TICKS + 1
            )
        return self._baseline_cache[key]

    def fuel(self, t_ns: int) -> fuel_engine.FuelMetrics:
        """Fuel as of the whole second at or before t_ns (cached per second)."""
        sec = t_ns // NS * NS
        if sec not in self._fuel_cache:
            self._fuel_cache[sec] = fuel_engine.fuel_metrics(
                self.chain, self.mid_before(sec), sec, self.rth_open_ns, self.cfg
            )
            if len(self._fuel_cache) > 4096:
                for k in sorted(self._fuel_cache)[:2048]:
                    del self._fuel_cache[k]
        return self._fuel_cache[sec]

    def _engines(self, t_ns: int, level: float, direction: str) -> tuple[Any, ...]:
        cfg = self.cfg
        tv = {k: self.trades.view(k) for k in ("ts", "price", "size", "aggressor")}
        tape = tape_metrics(tv["ts"], tv["price"], tv["size"], tv["aggressor"], t_ns, level, direction, cfg)
        book = self.book_before(t_ns)
        side = 1 if direction == "SUPPORT" else -1
        px, sz = _defending_side(book, direction)
        fv = [self.flow.view(k) for k in ("side", "price", "added", "canceled", "filled")]
        lo, hi = barrier_engine.flow_window(self.flow.view("ts"), t_ns, cfg)
        sums = self._zone_sums.sums(*fv, self.flow.dropped, lo, hi, side, level, self._zone_half)
        bar = barrier_engine.barrier_from_sums(*sums, px, sz, self.baseline_depth(t_ns, side), level, cfg)
        fuel = self.fuel(t_ns)
        return tape, bar, fuel, book

    def _raws(self, grid: np.ndarray, level: float, direction: str) -> list[float]:
        """Raw break scores of a level at grid times (computed once per grid time, then cached)."""
        per = self._raw_cache.setdefault((round(level, 9), direction), {})
        out = []
        for g in grid.tolist():
            r = per.get(g)
            if r is None:
                tape, bar, fuel, _ = self._engines(g, level, direction)
                r = per[g] = score_engine.components(bar, tape, fuel, level, direction, g, self.cfg).raw
                self._raw_n += 1
            out.append(r)
        return out

    def level_features(self, t_ns: int, level: float, direction: str,
                       other_levels: list[tuple[str, float]] | None = None) -> dict[str, Any]:  # fmt: skip
        """Every engine output for a level at t_ns as one `feature_row.feature_row` (numeric
        `feature_columns` then `STRING_COLUMNS`), from data strictly before t_ns. Flushes buffered events."""
        self.flush()
        cfg = self.cfg
        tape, bar, fuel, book = self._engines(t_ns, level, direction)
        tv = self.trades
        kin = kinematics(
            tv.view("ts"), tv.view("price"), t_ns, level, direction, cfg.windows.kinematics_horizons_s
        )
        bv = {k: self.book.view(k) for k in ("ts", "e_best", "e_multi", "depth_best", "depth_multi")}
        ofi = integrate_ofi(
            bv["ts"], bv["e_best"], bv["e_multi"], bv["depth_best"], bv["depth_multi"], t_ns, OFI_HORIZONS_S
        )
        comp = score_engine.components(bar, tape, fuel, level, direction, t_ns, cfg)
        if t_ns % (cfg.live.SNAP_INTERVAL_MS * 1_000_000) == 0:  # a grid time: later windows reuse it
            self._raw_cache.setdefault((round(level, 9), direction), {})[t_ns] = comp.raw
            self._raw_n += 1
        grid = score_engine.snap_grid(t_ns, cfg)
        raws = np.array([*self._raws(grid, level, direction), comp.raw])
        times = np.append(grid, t_ns)
        smooth = score_engine.ewma(times, raws, cfg.score.tau_score_s)
        sig = score_engine.signal(smooth, times, kin.distance_pt, bar.churn, cfg)
        conf = score_engine.confidence(comp, bar)
        # A break runs into the defending side's deeper levels (bids below a SUPPORT).
        run = score_engine.runway(
            level, direction, other_levels or [], fuel, *_defending_side(book, direction)
        )
        return feature_row(kin, tape, bar, ofi, fuel, comp, float(smooth[-1]), sig, conf, run)

    def snapshot(self, ts_ns: int, levels: list[tuple[str, str, float]]) -> dict[str, Any]:
        """The live payload's market part at ts_ns: spot (mid), bid, ask and, for every level
        (id, kind, price points) within MONITOR_BAND of spot, its direction (SUPPORT below spot,
        RESISTANCE above) and `level_features` (the same values batch Silver features hold).
        Flushes buffered events; uses only data strictly before ts_ns."""
        self.flush()
        book = self.book_before(ts_ns)
        bid = float(book[0][0]) if book is not None else math.nan
        ask = float(book[2][0]) if book is not None else math.nan
        spot = self.mid_before(ts_ns, book)
        rows = []
        if math.isfinite(spot):
            for lid, kind, price in levels:
                if abs(spot - price) > self.cfg.bands.MONITOR_BAND_pt:
                    continue
                direction = "SUPPORT" if spot >= price else "RESISTANCE"
                others = [(i, p) for i, _k, p in levels if i != lid]
                rows.append({"id": lid, "kind": kind, "price": price, "direction": direction,
                             **self.level_features(ts_ns, price, direction, others)})  # fmt: skip
        return {"ts_ns": ts_ns, "spot": spot, "bid": bid, "ask": ask, "levels": rows}


@numba.njit(cache=True, nogil=True)
def _sorted_after(ts, last):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """True when ts is non-decreasing and starts at or after `last`."""
    prev = last
    for i in range(ts.shape[0]):
        if ts[i] < prev:
            return False
        prev = ts[i]
    return True


def _defending_side(book: tuple[np.ndarray, ...] | None, direction: str) -> tuple[np.ndarray, np.ndarray]:
    """(prices, sizes) of the book side defending a level: bids for SUPPORT, asks for RESISTANCE;
    an empty side (NaN prices, 0 sizes) when there is no book yet."""
    if book is None:
        return np.full(D, np.nan), np.zeros(D)
    return (book[0], book[1]) if direction == "SUPPORT" else (book[2], book[3])
