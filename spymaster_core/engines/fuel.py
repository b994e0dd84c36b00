"""Fuel engine (DESIGN §7): dealer gamma positioning in the 0DTE chain and what it does to a move.

Per option (strikes within FUEL_STRIKE_RANGE of the future F): implied vol by Black-76 from the
latest BBO mid strictly before t (front-month future as the underlying, time to the definition's
expiration, ACT/365), Black-76 gamma per point (`spymaster_core.engines.greeks`, compiled, tested against vollib). Trades are classified
against the latest BBO strictly before them: at/above the ask = customer buy (+1), at/below the bid
= customer sell (-1), else unclassified (0). Dealers are short what customers buy.

Dealer gamma exposure (GEX), USD per 1% move of the future, per option:
    GEX = gamma * dealer_contracts * multiplier * F^2 * 0.01   (multiplier: instrument config, ES 50)
(the "dollar gamma per 1%" convention, e.g. SqueezeMetrics' GEX white paper, 2017), from flow
since the RTH open, over W_g, and from open interest under the usual convention (dealers long
calls, short puts). Call wall / put wall: the strike with the largest |GEX| among calls / puts
(flow + open interest). Gamma flip (HVL): the spot nearest F where total GEX, repriced with each
option's implied vol fixed over a grid of spots, changes sign. Effect: AMPLIFY when net dealer
gamma < -threshold (dealers short gamma chase the move), DAMPEN when > +threshold.
An option with no valid implied vol is skipped and counted, never a NaN in an exposure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np

from spymaster_core.config import Config
from spymaster_core.engines.greeks import black76_chain, gamma_undiscounted
from spymaster_core.engines.quote_store import QuoteStore

NS_PER_YEAR = 365.0 * 86400 * 1e9


@dataclass(frozen=True)
class GammaWall:
    """Strike (points), its GEX (USD per 1%), CALL or PUT, strength = |GEX| / mean |GEX| of the side."""

    strike: float
    gex_usd: float
    wall_type: str
    strength: float


@dataclass(frozen=True)
class FuelMetrics:
    """Net dealer GEX (USD per 1%) from flow since the open, over W_g, and from open interest;
    effect; walls; gamma flip (points, NaN if none in range); GEX by strike (flow + OI); options
    used and skipped (no valid implied vol); `missing` names why fuel is unavailable ('' if not)."""

    effect: str
    net_dealer_gamma_usd: float
    net_dealer_gamma_window_usd: float
    net_dealer_gamma_oi_usd: float
    call_wall: GammaWall | None
    put_wall: GammaWall | None
    hvl: float
    gamma_by_strike: dict[float, float] = field(default_factory=dict)
    n_options: int = 0
    n_iv_skipped: int = 0
    missing: str = ""


def missing_fuel(reason: str) -> FuelMetrics:
    """Fuel metrics for a time with no usable options: NaN numbers, NEUTRAL effect, the reason."""
    nan = math.nan
    return FuelMetrics("NEUTRAL", nan, nan, nan, None, None, nan, {}, 0, 0, reason)


@dataclass
class OptionChain:
    """The 0DTE chain's definitions and its quote and trade history, per instrument.

    definitions: instrument_id -> (strike points, is_call, expiration_ns). Quotes: a `QuoteStore`
    (ts_ns, bid, ask points, per instrument in time order). Trades: ts_ns, instrument_id, price,
    size (contracts) and the customer sign (+1/-1/0) assigned on arrival against the latest quote
    strictly before the trade.
    Open interest: instrument_id -> contracts. Batch builds it from a day's arrays, live appends;
    both through `add_quotes` / `add_trades`, so both classify the same way.
    """

    definitions: dict[int, tuple[float, bool, int]] = field(default_factory=dict)
    quotes: QuoteStore = field(default_factory=QuoteStore)
    trade_ts: list[np.ndarray] = field(default_factory=list)
    trade_iid: list[np.ndarray] = field(default_factory=list)
    trade_size: list[np.ndarray] = field(default_factory=list)
    trade_sign: list[np.ndarray] = field(default_factory=list)
    open_interest: dict[int, float] = field(default_factory=dict)
    _trades: tuple[np.ndarray, ...] | None = None
    _defs: tuple[np.ndarray, ...] | None = None
    _def_slots: np.ndarray | None = None  # the quote store's slot of each definition
    # Dealer contracts per definition from classified trades in [t0, upto): t0 -> (upto, positions).
    _positions: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)

    def add_definitions(
        self, iid: np.ndarray, strike: np.ndarray, is_call: np.ndarray, expiration_ns: np.ndarray
    ) -> None:
        for i, k, c, e in zip(
            iid.tolist(), strike.tolist(), is_call.tolist(), expiration_ns.tolist(), strict=True
        ):
            self.definitions[int(i)] = (float(k), bool(c), int(e))
        self._defs = None

    def definition_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The definitions as arrays sorted by instrument_id: iid int64, strike float64 points,
        is_call bool, expiration_ns int64 (rebuilt after `add_definitions`)."""
        if self._defs is None or len(self._defs[0]) != len(self.definitions):
            items = sorted(self.definitions.items())
            self._defs = (
                np.array([i for i, _ in items], np.int64),
                np.array([d[0] for _, d in items], np.float64),
                np.array([d[1] for _, d in items], np.bool_),
                np.array([d[2] for _, d in items], np.int64),
            )
            self._def_slots = self.quotes.slots(self._defs[0])
            self._positions.clear()
        return self._defs  # type: ignore[return-value]

    def add_quotes(self, ts_ns: np.ndarray, iid: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> None:
        """Append quotes sorted by time (any mix of instruments; `QuoteStore.append`)."""
        self.quotes.append(ts_ns, iid, bid, ask)

    def quote_before(self, iid: int, t_ns: int) -> tuple[float, float]:
        """(bid, ask) of the latest quote of `iid` strictly before t_ns; (NaN, NaN) if none."""
        b, a = self.quotes_before(np.array([iid], np.int64), t_ns)
        return float(b[0]), float(a[0])

    def quotes_before(self, iids: np.ndarray, t_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """(bid, ask) arrays (points) of the latest quote of each of `iids` strictly before t_ns;
        NaN where an instrument has none."""
        return self.quotes.before(self.quotes.known(iids), t_ns)

    def definition_quotes_before(self, mask: np.ndarray, t_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """`quotes_before` for the definitions selected by `mask` (over `definition_arrays`)."""
        self.definition_arrays()
        return self.quotes.before(self._def_slots[mask], t_ns)  # type: ignore[index]

    def add_trades(self, ts_ns: np.ndarray, iid: np.ndarray, price: np.ndarray, size: np.ndarray) -> None:
        """Append trades sorted by time; each is classified against the quotes known so far."""
        if len(ts_ns) == 0:
            return
        bid, ask = self.quotes.before(self.quotes.known(np.asarray(iid, np.int64)), ts_ns)
        sign = np.where(price >= ask, 1, np.where(price <= bid, -1, 0)).astype(np.int8)
        if self._positions and ts_ns[0] < max(upto for upto, _ in self._positions.values()):
            self._positions.clear()  # a trade earlier than a kept sum: recompute from the trades
        self.trade_ts.append(ts_ns.astype(np.int64))
        self.trade_iid.append(iid.astype(np.int64))
        self.trade_size.append(size.astype(np.float64))
        self.trade_sign.append(sign)
        self._trades = None

    def trades(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All trades so far: ts_ns, instrument_id, size, customer sign (sorted by time)."""
        if self._trades is None:
            if not self.trade_ts:
                z = np.zeros(0)
                self._trades = (z.astype(np.int64), z.astype(np.int64), z, z.astype(np.int8))
            else:
                self._trades = tuple(
                    np.concatenate(x)
                    for x in (self.trade_ts, self.trade_iid, self.trade_size, self.trade_sign)
                )
                self.trade_ts, self.trade_iid, self.trade_size, self.trade_sign = ([a] for a in self._trades)
        return self._trades  # type: ignore[return-value]


FLOW_COLUMNS = ("call_buy", "call_sell", "put_buy", "put_sell")


def customer_flow_by_strike(chain: OptionChain, t0_ns: int, t_ns: int) -> dict[float, np.ndarray]:
    """Customer volume (contracts) per strike (points) from the chain's classified trades in
    [t0_ns, t_ns): float64 [call_buy, call_sell, put_buy, put_sell] (`FLOW_COLUMNS`). A buy is a
    trade at or above the ask quoted before it, a sell at or below the bid (`OptionChain.add_trades`,
    the rule dealer positions use); trades inside the spread count in neither. Strikes without a
    classified trade are left out."""
    ts, iid, size, sign = chain.trades()
    lo, hi = int(ts.searchsorted(t0_ns, side="left")), int(ts.searchsorted(t_ns, side="left"))
    ids, strike, is_call, _ = chain.definition_arrays()
    if hi <= lo or len(ids) == 0:
        return {}
    sub, sg, q = iid[lo:hi], sign[lo:hi], size[lo:hi]
    pos = np.minimum(ids.searchsorted(sub), len(ids) - 1)
    keep = (ids[pos] == sub) & (sg != 0)
    if not keep.any():
        return {}
    pos, sg, q = pos[keep], sg[keep], q[keep]
    col = np.where(is_call[pos], 0, 2) + np.where(sg > 0, 0, 1)
    ks, inv = np.unique(strike[pos], return_inverse=True)
    out = np.zeros((len(ks), 4))
    np.add.at(out, (inv, col), q)  # whole contracts: exact in any order
    return {float(k): row for k, row in zip(ks.tolist(), out, strict=True)}


def _positions_in(chain: OptionChain, ids: np.ndarray, t0_ns: int, t_ns: int) -> np.ndarray:
    """Dealer contracts per instrument in `ids` (sorted) from classified trades in [t0, t):
    -customer net. Sizes are whole contracts, so the float sums are exact in any order."""
    ts, iid, size, sign = chain.trades()
    lo, hi = int(ts.searchsorted(t0_ns, side="left")), int(ts.searchsorted(t_ns, side="left"))
    if hi <= lo or len(ids) == 0:
        return np.zeros(len(ids))
    tr = iid[lo:hi]
    k = np.minimum(np.searchsorted(ids, tr), len(ids) - 1)
    hit = ids[k] == tr
    return np.bincount(k[hit], weights=-(size[lo:hi] * sign[lo:hi])[hit], minlength=len(ids))


def dealer_positions(chain: OptionChain, t0_ns: int, t_ns: int, keep: bool = False) -> np.ndarray:
    """Dealer contracts per definition (`definition_arrays` order) from the trades classified in
    [t0_ns, t_ns): minus the customer net. `keep`: remember the sums so the next call with the same
    t0 and a later t only adds the trades in between (the since-open positions, asked every
    second); the same numbers as summing from t0 again, since whole contracts add exactly."""
    ids = chain.definition_arrays()[0]
    kept = chain._positions.get(t0_ns)
    if kept is not None and kept[0] <= t_ns:
        pos = kept[1] + _positions_in(chain, ids, kept[0], t_ns)
    else:
        pos = _positions_in(chain, ids, t0_ns, t_ns)
    if keep:
        chain._positions[t0_ns] = (t_ns, pos)
    return pos


def fuel_metrics(chain: OptionChain, F: float, t_ns: int, rth_open_ns: int, cfg: Config) -> FuelMetrics:
    """Fuel at t_ns with the future at F (points); see module docstring. Never raises on missing
    data: returns `missing_fuel(reason)` instead."""
    if not chain.definitions:
        return missing_fuel("no 0DTE option definitions for this date")
    if not math.isfinite(F):
        return missing_fuel("no futures price before t")
    rng = cfg.fuel.FUEL_STRIKE_RANGE_pt
    all_iid, all_k, all_call, all_exp = chain.definition_arrays()
    near = (np.abs(all_k - F) <= rng) & (all_exp > t_ns)
    sel = np.flatnonzero(near)
    ids, K, is_call = all_iid[near], all_k[near], all_call[near]
    ty = (all_exp[near] - t_ns) / NS_PER_YEAR
    bid, ask = chain.definition_quotes_before(near, t_ns)
    iv, gamma = black76_chain(bid, ask, F, K, ty, is_call)
    valid = np.isfinite(iv)
    skipped = int(len(ids) - valid.sum())
    if not valid.any():
        return missing_fuel(f"no option with a valid implied vol within {rng:g} pt ({skipped} skipped)")
    ids, K, is_call, ty, iv, gamma = ids[valid], K[valid], is_call[valid], ty[valid], iv[valid], gamma[valid]
    sel = sel[valid]
    dollar = cfg.instrument.es_multiplier_usd_per_pt * F * F * 0.01
    pos_open = dealer_positions(chain, rth_open_ns, t_ns, keep=True)[sel]
    pos_win = _positions_in(chain, ids, t_ns - int(round(cfg.windows.W_g_s * 1e9)), t_ns)
    oi = np.array([chain.open_interest.get(i, 0.0) for i in ids.tolist()])
    pos_oi = np.where(is_call, oi, -oi)
    gex_flow, gex_win, gex_oi = gamma * pos_open * dollar, gamma * pos_win * dollar, gamma * pos_oi * dollar
    total = gex_flow + gex_oi
    by_strike: dict[float, float] = {}
    by_side: tuple[dict[float, float], dict[float, float]] = ({}, {})  # puts, calls
    for k, g, c in zip(K.tolist(), total.tolist(), is_call.tolist(), strict=True):
        by_strike[k] = by_strike.get(k, 0.0) + g
        side = by_side[c]
        side[k] = side.get(k, 0.0) + g
    net = float(gex_flow.sum())
    thr = cfg.fuel.gamma_effect_threshold_usd
    effect = "AMPLIFY" if net < -thr else "DAMPEN" if net > thr else "NEUTRAL"
    hvl = _gamma_flip(F, K, ty, iv, pos_open + pos_oi, cfg)
    return FuelMetrics(
        effect,
        net,
        float(gex_win.sum()),
        float(gex_oi.sum()),
        _wall(by_side[True], "CALL"),
        _wall(by_side[False], "PUT"),
        hvl,
        dict(sorted(by_strike.items())),
        len(ids),
        skipped,
        "",
    )


def _wall(by_strike: dict[float, float], kind: str) -> GammaWall | None:
    """The strike with the largest |GEX| (USD per 1%, summed per strike over one side's options)."""
    if not by_strike:
        return None
    strikes = sorted(by_strike)
    mag = [abs(by_strike[k]) for k in strikes]
    top = max(mag)
    if top <= 0:
        return None
    j = mag.index(top)  # the first, as argmax
    return GammaWall(strikes[j], by_strike[strikes[j]], kind, top / float(np.mean(mag)))


def _gamma_flip(
    F: float, K: np.ndarray, ty: np.ndarray, iv: np.ndarray, pos: np.ndarray, cfg: Config
) -> float:
    """Spot nearest F where total dealer GEX, repriced over a grid of spots (tick steps within
    FUEL_STRIKE_RANGE of F, implied vols fixed), changes sign; the crossing is linearly
    interpolated. NaN when it never changes sign. The grid's intervals are visited outward from F
    and the search stops once no unvisited interval can hold a nearer crossing, so a flip near F
    costs a few spots instead of the whole grid (same answer as scanning it all)."""
    step = cfg.bands.tick_size_pt * 4
    rng = cfg.fuel.FUEL_STRIKE_RANGE_pt
    spots = F + np.arange(-rng, rng + step / 2, step)
    return float(_flip_kernel(F, spots, K, ty, iv, pos, cfg.instrument.es_multiplier_usd_per_pt))


@numba.njit(cache=True, nogil=True)
def _total_gex(spot, ln_k, s, pos, mult):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Total dealer GEX (USD per 1%) at one spot: sum over options of Black-76 gamma (r = 0) x
    dealer contracts x multiplier x S^2 x 0.01; per option ln K and total vol s are precomputed."""
    ln_s = math.log(spot)
    acc = 0.0
    for j in range(ln_k.shape[0]):
        acc += gamma_undiscounted(ln_s - ln_k[j], s[j], spot) * pos[j]
    return acc * mult * spot * spot * 0.01


@numba.njit(cache=True, nogil=True)
def _flip_kernel(F, spots, K, ty, iv, pos, mult):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    m = spots.shape[0]
    if m < 2:
        return np.nan
    held = pos != 0.0  # options without a dealer position add nothing at any spot
    ln_k, s, w = np.log(K[held]), iv[held] * np.sqrt(ty[held]), pos[held]
    total = np.full(m, np.nan)
    done = np.zeros(m, np.bool_)
    c = 0  # the interval [spots[c], spots[c + 1]] that holds F
    while c < m - 2 and spots[c + 1] < F:
        c += 1
    best, best_d, best_i = np.nan, np.inf, m
    left, right = c - 1, c + 1
    i = c
    while True:
        for k in (i, i + 1):
            if not done[k]:
                total[k] = _total_gex(spots[k], ln_k, s, w, mult)
                done[k] = True
        y0, y1 = total[i], total[i + 1]
        if (y0 > 0.0 and y1 < 0.0) or (y0 < 0.0 and y1 > 0.0):
            x0, x1 = spots[i], spots[i + 1]
            root = x0 - y0 * (x1 - x0) / (y1 - y0)
            d = abs(root - F)
            if d < best_d or (d == best_d and i < best_i):
                best, best_d, best_i = root, d, i
        # Next: the unvisited interval nearest F; stop when even it is farther than the best root.
        bound_l = F - spots[left + 1] if left >= 0 else np.inf
        bound_r = spots[right] - F if right <= m - 2 else np.inf
        if min(bound_l, bound_r) > best_d or (bound_l == np.inf and bound_r == np.inf):
            return best
        if bound_l <= bound_r:
            i = left
            left -= 1
        else:
            i = right
            right += 1
