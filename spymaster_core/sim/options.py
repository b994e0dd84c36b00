"""A 0DTE ES option chain for a simulated session: definitions, BBO (mbp-1) and trades.

Strikes every 5 points within +/-100 points of the 09:30 price (+/-500 at real scale); expiration
16:00 ET on the session date; the underlying is the simulated front-month future. Quotes are
Black-76 values (Black 1976, "The pricing of commodity contracts", J. Financial Economics 3) on a
skewed smile, half-spread 0.25 points plus 2% of value, on a 0.05 grid: refreshed once a minute
through RTH, or at real scale updated as a Poisson process concentrated near the money
(`simulate_options` with `atm_quotes_per_s`).
"""

from __future__ import annotations

import datetime as dt

import databento_dbn as dbn
import numpy as np
from scipy.special import ndtr

from spymaster_core.sim.path import TICK, PricePath
from spymaster_core.sim.writer import empty_records

PX_SCALE = 1_000_000_000
ES_MULTIPLIER_USD_PER_PT = 50  # CME ES contract size: $50 x the index; Databento unit_of_measure_qty
OPT_TICK = 0.05


def black76_price(
    F: np.ndarray, K: np.ndarray, t: np.ndarray, sigma: np.ndarray, is_call: np.ndarray
) -> np.ndarray:
    """Black-76 option value in points (r = 0): F, K points; t years; sigma annualised."""
    t = np.maximum(t, 1e-9)
    sd = sigma * np.sqrt(t)
    d1 = (np.log(F / K) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    call = F * ndtr(d1) - K * ndtr(d2)
    put = K * ndtr(-d2) - F * ndtr(-d1)
    return np.where(is_call, call, put)


def smile_vol(F: float, K: np.ndarray, atm_vol: float = 0.14) -> np.ndarray:
    """Skewed smile: higher vol for low strikes (put skew), mild call-side curvature."""
    m = np.log(K / F)
    return atm_vol * (1.0 - 2.5 * m + 18.0 * m * m)


def daily_root(date: dt.date) -> str:
    """CME-style 0DTE root: E{week}{A..D} Monday-Thursday, EW{week} on Friday."""
    week = (date.day - 1) // 7 + 1
    if date.weekday() == 4:
        return f"EW{week}"
    return f"E{week}{'ABCD'[date.weekday()]}"


def chain_definitions(
    date: dt.date,
    center: float,
    underlying: str,
    underlying_id: int,
    expiration_ns: int,
    ts_ns: int,
    first_id: int,
    month_code: str,
    half_width_pt: float = 100.0,
) -> tuple[list[dbn.InstrumentDefMsg], dict]:
    """Definitions for calls and puts at 5-point strikes within `half_width_pt` points of `center`;
    returns (defs, info by id: (raw symbol, strike points, is_call))."""
    root = daily_root(date)
    lo = np.floor(center / 5) * 5
    strikes = np.arange(lo - half_width_pt, lo + half_width_pt + 5, 5.0)
    defs, info = [], {}
    iid = first_id
    for k in strikes:
        for cp in ("C", "P"):
            sym = f"{root}{month_code} {cp}{int(k)}"
            defs.append(
                dbn.InstrumentDefMsg(
                    publisher_id=1,
                    instrument_id=iid,
                    ts_event=ts_ns,
                    ts_recv=ts_ns,
                    min_price_increment=int(OPT_TICK * PX_SCALE),
                    display_factor=PX_SCALE,
                    raw_symbol=sym,
                    asset=root,
                    security_type="OOF",
                    instrument_class=dbn.InstrumentClass.CALL if cp == "C" else dbn.InstrumentClass.PUT,
                    security_update_action=dbn.SecurityUpdateAction.ADD,
                    expiration=expiration_ns,
                    strike_price=int(k * PX_SCALE),
                    underlying_id=underlying_id,
                    underlying=underlying,
                    unit_of_measure_qty=int(ES_MULTIPLIER_USD_PER_PT * PX_SCALE),
                    unit_of_measure="IPNT",
                    currency="USD",
                    exchange="XCME",
                    strike_price_currency="USD",
                )
            )
            info[iid] = (sym, float(k), cp == "C")
            iid += 1
    return defs, info


def _chain_arrays(info: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(instrument ids sorted, strikes in points, is_call) of a chain's `info` by id."""
    ids = np.array(sorted(info), dtype=np.int64)
    return ids, np.array([info[i][1] for i in ids]), np.array([info[i][2] for i in ids])


def simulate_options(
    rng: np.random.Generator,
    path: PricePath,
    t0_ns: int,
    info: dict,
    expiration_ns: int,
    rth_open_s: int,
    rth_close_s: int,
    trade_rate: float,
    short_gamma: bool = False,
    atm_quotes_per_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(bbo mbp-1 records, trade records) for the chain, sorted by ts_event. Quotes: every
    instrument once a minute through RTH, or, with `atm_quotes_per_s` (real scale), each
    instrument's top of book changing as a Poisson process (`_dense_quotes`). Trades: customer
    flow each minute at that minute's quotes (`_minute_trades`)."""
    ids, K, is_call = _chain_arrays(info)
    dense = None
    if atm_quotes_per_s is not None:
        dense = _dense_quotes(
            rng, path, t0_ns, ids, K, is_call, expiration_ns, rth_open_s, rth_close_s, atm_quotes_per_s
        )
    blocks, tr_rows = [], []
    for s in np.arange(rth_open_s, rth_close_s, 60):
        ts = t0_ns + int(s) * 1_000_000_000 + 500_000_000
        F = (path.bid_ticks[s] + 0.5) * TICK
        bid, ask = _quote(np.full(len(K), F), K, np.full(len(K), ts), expiration_ns, is_call)
        if dense is None:
            blocks.append(_minute_quotes(rng, ts, ids, bid, ask))
        _minute_trades(rng, ts, ids, K, F, bid, ask, trade_rate, short_gamma, tr_rows)
    quotes = dense if dense is not None else (np.concatenate(blocks) if blocks else empty_records("mbp-1", 0))
    return quotes, _trade_records(tr_rows)


def _minute_quotes(
    rng: np.random.Generator, ts: int, ids: np.ndarray, bid: np.ndarray, ask: np.ndarray
) -> np.ndarray:
    """One minute's refresh of every instrument's quote (mbp-1 records 1 us apart from `ts`)."""
    rows = empty_records("mbp-1", len(ids))
    rows["ts_event"] = ts + np.arange(len(ids)) * 1000
    rows["ts_recv"] = rows["ts_event"] + 200_000
    rows["instrument_id"] = ids
    rows["action"] = b"A"
    rows["side"] = b"N"
    rows["flags"] = 128
    rows["price"] = np.round(bid * PX_SCALE).astype(np.int64)
    rows["bid_px_00"] = np.round(bid * PX_SCALE).astype(np.int64)
    rows["ask_px_00"] = np.round(ask * PX_SCALE).astype(np.int64)
    rows["bid_sz_00"] = rng.integers(5, 200, len(ids))
    rows["ask_sz_00"] = rng.integers(5, 200, len(ids))
    rows["bid_ct_00"] = 1
    rows["ask_ct_00"] = 1
    return rows


def _minute_trades(
    rng: np.random.Generator,
    ts: int,
    ids: np.ndarray,
    K: np.ndarray,
    F: float,
    bid: np.ndarray,
    ask: np.ndarray,
    trade_rate: float,
    short_gamma: bool,
    out: list[tuple],
) -> None:
    """One minute's customer trades, appended to `out` as (ts_event, instrument_id, price, size,
    side). Customer flow concentrates near the money (Poisson, `trade_rate` x exp(-|K-F|/25) a
    minute); buys lift the ask, sells hit the bid. On a short-gamma day customers are net buyers
    (dealers short gamma), else net sellers."""
    near = np.exp(-np.abs(K - F) / 25.0)
    n_tr = rng.poisson(trade_rate * near)
    for j in np.nonzero(n_tr)[0]:
        for _ in range(int(n_tr[j])):
            buy = rng.random() < (0.75 if short_gamma else 0.3)
            out.append(
                (
                    ts + int(rng.integers(1_000_000, 59_000_000_000)),
                    int(ids[j]),
                    ask[j] if buy else bid[j],
                    int(rng.integers(1, 30)),
                    b"B" if buy else b"A",
                )
            )


def _trade_records(tr_rows: list[tuple]) -> np.ndarray:
    """`_minute_trades` rows -> trades records sorted by ts_event."""
    tr_rows.sort()
    trades = empty_records("trades", len(tr_rows))
    if tr_rows:
        ts_arr, iid_arr, px_arr, sz_arr, side_arr = zip(*tr_rows, strict=True)
        trades["ts_event"] = ts_arr
        trades["ts_recv"] = np.array(ts_arr, dtype=np.uint64) + 200_000
        trades["instrument_id"] = iid_arr
        trades["price"] = np.round(np.array(px_arr) * PX_SCALE).astype(np.int64)
        trades["size"] = sz_arr
        trades["action"] = b"T"
        trades["side"] = side_arr
        trades["flags"] = 128
    return trades


def _quote(
    F: np.ndarray, K: np.ndarray, ts_ns: np.ndarray, expiration_ns: int, is_call: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(bid, ask) points: the Black-76 value on the smile, half-spread 0.25 + 2% of value, on the
    0.05 grid (ask at least one tick)."""
    t_years = np.maximum((expiration_ns - ts_ns) / 1e9, 60.0) / (365.0 * 86400.0)
    val = black76_price(F, K, t_years, smile_vol(F, K), is_call)
    half = 0.25 + 0.02 * val
    bid = np.maximum(np.floor((val - half) / OPT_TICK) * OPT_TICK, 0.0)
    ask = np.maximum(np.ceil((val + half) / OPT_TICK) * OPT_TICK, OPT_TICK)
    return bid, ask


def _dense_quotes(
    rng: np.random.Generator,
    path: PricePath,
    t0_ns: int,
    ids: np.ndarray,
    K: np.ndarray,
    is_call: np.ndarray,
    expiration_ns: int,
    rth_open_s: int,
    rth_close_s: int,
    atm_quotes_per_s: float,
) -> np.ndarray:
    """mbp-1 records of a real-scale chain: each instrument's top of book changes as a Poisson
    process of `atm_quotes_per_s` x exp(-|K-F|/25) a second (F the future's mid that second), so
    updates concentrate near the money as on a real 0DTE chain; each update is the Black-76 quote
    at that second's F with fresh sizes. Sorted by ts_event."""
    secs = np.arange(rth_open_s, rth_close_s)
    F_s = (path.bid_ticks[secs] + 0.5) * TICK
    counts = rng.poisson(atm_quotes_per_s * np.exp(-np.abs(K[None, :] - F_s[:, None]) / 25.0))
    si, ii = np.nonzero(counts)
    reps = counts[si, ii]
    ts_s = t0_ns + secs[si].astype(np.int64) * 1_000_000_000
    bid, ask = _quote(F_s[si], K[ii], ts_s, expiration_ns, is_call[ii])
    n = int(reps.sum())
    rows = empty_records("mbp-1", n)
    ts = np.repeat(ts_s, reps) + rng.integers(0, 1_000_000_000, n)
    order = np.argsort(ts, kind="stable")
    rows["ts_event"] = ts[order]
    rows["ts_recv"] = rows["ts_event"] + 200_000
    rows["instrument_id"] = np.repeat(ids[ii], reps)[order]
    rows["action"] = b"A"
    rows["side"] = b"N"
    rows["flags"] = 128
    b = np.round(np.repeat(bid, reps)[order] * PX_SCALE).astype(np.int64)
    rows["price"] = b
    rows["bid_px_00"] = b
    rows["ask_px_00"] = np.round(np.repeat(ask, reps)[order] * PX_SCALE).astype(np.int64)
    rows["bid_sz_00"] = rng.integers(5, 200, n)
    rows["ask_sz_00"] = rng.integers(5, 200, n)
    rows["bid_ct_00"] = 1
    rows["ask_ct_00"] = 1
    return rows


def open_interest(rng: np.random.Generator, info: dict, center: float, ts_ns: int) -> list[dbn.StatMsg]:
    """Open interest (statistics stat_type 9, contracts) per option, largest near the money."""
    out = []
    for iid, (_, k, _) in sorted(info.items()):
        oi = int(rng.integers(200, 800) + 4000 * np.exp(-abs(k - center) / 40.0))
        out.append(
            dbn.StatMsg(
                publisher_id=1,
                instrument_id=iid,
                ts_event=ts_ns,
                ts_recv=ts_ns,
                ts_ref=ts_ns,
                price=dbn.UNDEF_PRICE,
                quantity=oi,
                stat_type=dbn.StatType.OPEN_INTEREST,
                sequence=0,
                update_action=dbn.StatUpdateAction.NEW,
            )
        )
    return out
