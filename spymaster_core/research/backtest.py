"""Level trades after costs (issue 22): what trading the touches would have made, at bar resolution
(`bar_trade`, the bar tier) and at trade resolution (`tick_trade`, the tick tier; see its docstring
for where it differs: entry at the next print, the book's spread, exits in print order).

A *decision* at a touch is `fade` (trade the bounce: long at SUPPORT, short at RESISTANCE), `break`
(the other side) or none. A trade is one contract:
- entry: the open of the first 1-minute bar starting at or after the touch bar's end (t + 1 min; the
  touch is known when its bar closes), paying the half spread (`backtest.half_spread_pt`); no trade
  when that open is already at the target or the stop (the setup is gone), or when no bar starts
  before the look-forward ends;
- target and stop measured from the level price as the labels are (`target_pt` / `stop_pt`, default
  the first label threshold): a long fade at support L aims at L + target and stops at L - stop;
- exits, bar by bar over the look-forward (bars starting in [t + 1 min, t + 1 min + LOOKFORWARD)):
  the stop is a stop-market order filled at the stop (or the bar's open when it gaps through) less
  the half spread and `stop_slippage_pt`; the target is a resting limit filled at the target price;
  **when one bar reaches both, the stop is assumed first** (a bar does not say which came first: the
  pessimistic reading); otherwise a time stop at the close of the last look-forward bar, less the
  half spread;
- costs: commission and exchange fees per side in USD (`backtest.*_usd_per_side`), twice per trade;
  P&L in points (after spread and slippage) and USD (points x the contract size, less fees): the
  size from the instrument definitions where the tier has them (`bronze.contract_terms`, the tick
  tier), else `instrument.es_multiplier_usd_per_pt` (the bar tier: bar files carry no definitions);
- one position per level at a time: a touch of a level while a trade on it is open is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from spymaster_core.calendar import MINUTE_NS
from spymaster_core.config import Config

FADE, BREAK = "fade", "break"
TRADE_SCHEMA = {
    "policy": pl.String,
    "touch_id": pl.String,
    "date": pl.String,
    "level_id": pl.String,
    "level_kind": pl.String,
    "direction": pl.String,
    "decision": pl.String,
    "side": pl.Int8,
    "entry_ns": pl.Int64,
    "entry_px": pl.Float64,
    "exit_ns": pl.Int64,
    "exit_px": pl.Float64,
    "exit_reason": pl.String,
    "pnl_pt": pl.Float64,
    "pnl_usd": pl.Float64,
}
"""One row per trade: side +1 long / -1 short; exit_ns the end of the exit bar; exit_reason
`target`, `stop` or `time`; pnl_pt after spread and slippage, pnl_usd after fees too."""


CONFIG_MULTIPLIER = "config instrument.es_multiplier_usd_per_pt"


@dataclass(frozen=True)
class TradeRules:
    """The numbers a trade needs, from the config (see module docstring). `multiplier_source` says
    where the USD per point came from: the instrument definitions, or the config when there were
    none (the bar tier has no definitions)."""

    target_pt: float
    stop_pt: float
    lookforward_min: float
    half_spread_pt: float
    stop_slippage_pt: float
    fees_usd_per_trade: float
    multiplier_usd_per_pt: float
    multiplier_source: str = CONFIG_MULTIPLIER

    @classmethod
    def of(cls, cfg: Config, multiplier_usd_per_pt: float | None = None, source: str = "") -> TradeRules:
        """Rules from `cfg.backtest`, `cfg.labels` (first threshold, look-forward) and the contract
        size: `multiplier_usd_per_pt` when given (from the definitions: `source` names them), else
        `cfg.instrument.es_multiplier_usd_per_pt`."""
        b, first = cfg.backtest, cfg.labels.thresholds_pt[0]
        if multiplier_usd_per_pt is None:
            mult, src = cfg.instrument.es_multiplier_usd_per_pt, CONFIG_MULTIPLIER
        else:
            mult, src = multiplier_usd_per_pt, source or "definitions"
        return cls(
            target_pt=b.target_pt or first,
            stop_pt=b.stop_pt or first,
            lookforward_min=cfg.labels.LOOKFORWARD_MINUTES,
            half_spread_pt=b.half_spread_pt,
            stop_slippage_pt=b.stop_slippage_pt,
            fees_usd_per_trade=2.0 * (b.commission_usd_per_side + b.exchange_fees_usd_per_side),
            multiplier_usd_per_pt=mult,
            multiplier_source=src,
        )


def side_of(direction: str, decision: str) -> int:
    """+1 (long) or -1 (short): a fade buys SUPPORT and sells RESISTANCE, a break the opposite."""
    toward = 1 if direction == "SUPPORT" else -1
    return toward if decision == FADE else -toward


def _bracket(level_pt: float, side: int, first_px: float, rules: TradeRules) -> tuple[float, float] | None:
    """(target, stop) points measured from the level for a `side` trade, or None when the entry
    price `first_px` is already at or past either (the setup is gone)."""
    target = level_pt + side * rules.target_pt
    stop = level_pt - side * rules.stop_pt
    if side * (first_px - target) >= 0 or side * (first_px - stop) <= 0:
        return None
    return target, stop


def _trade_fields(
    entry_ns: int, entry_px: float, exit_ns: int, exit_px: float, reason: str, side: int, rules: TradeRules
) -> dict:
    """The entry/exit fields of one trade with its P&L in points and in USD after fees."""
    pnl_pt = side * (exit_px - entry_px)
    return {
        "entry_ns": entry_ns,
        "entry_px": float(entry_px),
        "exit_ns": exit_ns,
        "exit_px": exit_px,
        "exit_reason": reason,
        "pnl_pt": pnl_pt,
        "pnl_usd": pnl_pt * rules.multiplier_usd_per_pt - rules.fees_usd_per_trade,
    }


def bar_trade(
    ts: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    touch_ns: int,
    level_pt: float,
    side: int,
    rules: TradeRules,
) -> dict | None:
    """One trade after a touch at bar start `touch_ns` (module docstring), or None when there is none.
    ts, o, h, lo, c: the date's 1-minute bars (start ns, OHLC points), sorted by start. Returns
    entry_ns, entry_px, exit_ns, exit_px, exit_reason, pnl_pt, pnl_usd."""
    start = touch_ns + MINUTE_NS
    end = start + int(rules.lookforward_min * MINUTE_NS)
    i0, i1 = int(np.searchsorted(ts, start)), int(np.searchsorted(ts, end))
    if i0 >= i1:
        return None
    bracket = _bracket(level_pt, side, o[i0], rules)
    if bracket is None:
        return None
    target, stop = bracket
    entry = o[i0] + side * rules.half_spread_pt
    exit_px, reason, k = float(c[i1 - 1]) - side * rules.half_spread_pt, "time", i1 - 1
    for i in range(i0, i1):
        bar_lo, bar_hi = lo[i], h[i]
        stopped = bar_lo <= stop if side > 0 else bar_hi >= stop
        if stopped:
            fill = min(o[i], stop) if side > 0 else max(o[i], stop)  # a gap through fills at the open
            exit_px, reason, k = (
                float(fill) - side * (rules.half_spread_pt + rules.stop_slippage_pt),
                "stop",
                i,
            )
            break
        if (bar_hi >= target) if side > 0 else (bar_lo <= target):
            exit_px, reason, k = float(target), "target", i
            break
    return _trade_fields(int(ts[i0]), entry, int(ts[k]) + MINUTE_NS, exit_px, reason, side, rules)


TradeFn = Callable[[dict, int], "dict | None"]
"""(touch row, side) -> the trade's entry/exit fields (as `bar_trade` returns) or None."""


def bar_trade_fn(bars_by_date: dict[str, pl.DataFrame], rules: TradeRules) -> TradeFn:
    """`bar_trade` over {date: `futures.ohlcv_1m.v1`} (arrays made once per date)."""
    arrays: dict[str, tuple[np.ndarray, ...]] = {}

    def fn(r: dict, side: int) -> dict | None:
        d = r["date"]
        if d not in arrays:
            b = bars_by_date[d].sort("bar_start_ns")
            arrays[d] = (
                b["bar_start_ns"].to_numpy(),
                *(b[k].to_numpy() for k in ("open", "high", "low", "close")),
            )
        return bar_trade(*arrays[d], int(r["ts_ns"]), float(r["level_price"]), side, rules)

    return fn


def trades_for(policy: str, touches: pl.DataFrame, decisions: dict[str, str], trade: TradeFn) -> pl.DataFrame:
    """The trades of one policy: for each touch (`silver.touches.v2` rows: touch_id, date, ts_ns,
    level_id, level_kind, level_price, direction) with a decision in `decisions` ({touch_id: fade |
    break}), in time order, skipping touches of a level whose previous trade is still open.
    trade: `bar_trade_fn` or `tick_trade_fn`. Returns TRADE_SCHEMA rows."""
    rows: list[dict] = []
    open_until: dict[str, int] = {}
    for r in touches.sort("ts_ns", "level_id").iter_rows(named=True):
        decision = decisions.get(r["touch_id"])
        if decision is None or r["ts_ns"] < open_until.get(r["level_id"], -1):
            continue
        side = side_of(r["direction"], decision)
        t = trade(r, side)
        if t is None:
            continue
        open_until[r["level_id"]] = t["exit_ns"]
        rows.append(
            {
                "policy": policy,
                "touch_id": r["touch_id"],
                "date": r["date"],
                "level_id": r["level_id"],
                "level_kind": r["level_kind"],
                "direction": r["direction"],
                "decision": decision,
                "side": side,
                **t,
            }
        )
    return pl.DataFrame(rows, schema=TRADE_SCHEMA)


def tick_trade(
    ts: np.ndarray,
    px: np.ndarray,
    half_spread: np.ndarray,
    touch_ns: int,
    level_pt: float,
    side: int,
    rules: TradeRules,
) -> dict | None:
    """One trade after a touch at trade resolution (the tick tier): entry at the first trade after the
    touch print, paying that moment's half spread (`half_spread`, per trade: the book's when known,
    never less than `rules.half_spread_pt`); then trade by trade until touch + LOOKFORWARD: the
    first print at or through the target exits there (limit), the first at or through the stop
    exits at the stop (or the print, when it is worse) less the half spread and the stop slippage;
    else the last print of the window less the half spread. Trades arrive one at a time, so the
    order of target and stop is known. ts, px: the date's front-month trades (ns, points), sorted.
    exit_ns is the exiting print's time. None when no print follows the touch in the window or the
    entry print is already at the target or stop."""
    end = touch_ns + int(rules.lookforward_min * MINUTE_NS)
    i0 = int(np.searchsorted(ts, touch_ns, side="right"))
    i1 = int(np.searchsorted(ts, end, side="left"))
    if i0 >= i1:
        return None
    bracket = _bracket(level_pt, side, px[i0], rules)
    if bracket is None:
        return None
    target, stop = bracket
    entry = px[i0] + side * half_spread[i0]
    seg = side * (px[i0 + 1 : i1] - target) >= 0
    hit_t = int(np.argmax(seg)) + i0 + 1 if seg.any() else i1
    seg = side * (px[i0 + 1 : i1] - stop) <= 0
    hit_s = int(np.argmax(seg)) + i0 + 1 if seg.any() else i1
    if hit_s < hit_t:
        fill = min(px[hit_s], stop) if side > 0 else max(px[hit_s], stop)
        k, reason = hit_s, "stop"
        exit_px = float(fill) - side * (half_spread[k] + rules.stop_slippage_pt)
    elif hit_t < i1:
        k, reason, exit_px = hit_t, "target", float(target)
    else:
        k, reason = i1 - 1, "time"
        exit_px = float(px[k]) - side * half_spread[k]
    return _trade_fields(int(ts[i0]), entry, int(ts[k]), exit_px, reason, side, rules)


def half_spreads(trades: pl.DataFrame, book: pl.DataFrame | None, rules: TradeRules) -> np.ndarray:
    """Per trade, half the best bid/ask spread of the book as of the print (`book`: `ts_event_ns`,
    `bid_px_00`, `ask_px_00` of the MBP-10), never less than `rules.half_spread_pt`; that floor
    alone without a book or before its first quote."""
    floor = np.full(trades.height, rules.half_spread_pt)
    if book is None or book.is_empty():
        return floor
    q = (
        book.select("ts_event_ns", ((pl.col("ask_px_00") - pl.col("bid_px_00")) / 2).alias("hs"))
        .filter(pl.col("hs").is_finite() & (pl.col("hs") > 0))
        .sort("ts_event_ns")
    )
    joined = (
        trades.select(pl.col("ts_event_ns").cast(pl.Int64))
        .with_row_index("i")
        .sort("ts_event_ns")
        .join_asof(q, on="ts_event_ns", strategy="backward")
    )
    hs = joined.sort("i")["hs"].fill_null(0.0).to_numpy()
    return np.maximum(floor, hs)


def tick_trade_fn(
    trades_by_date: dict[str, pl.DataFrame], books_by_date: dict[str, pl.DataFrame | None], rules: TradeRules
) -> TradeFn:
    """`tick_trade` over {date: `futures.trades.v1`} with half spreads from {date: MBP-10 top of book}."""
    arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def fn(r: dict, side: int) -> dict | None:
        d = r["date"]
        if d not in arrays:
            t = trades_by_date[d].sort("ts_event_ns")
            arrays[d] = (
                t["ts_event_ns"].to_numpy(),
                t["price"].to_numpy().astype(np.float64),
                half_spreads(t, books_by_date.get(d), rules),
            )
        return tick_trade(*arrays[d], int(r["ts_ns"]), float(r["level_price"]), side, rules)

    return fn


def max_drawdown(pnl: np.ndarray) -> float:
    """Largest peak-to-trough fall of the cumulative P&L (same units as pnl; 0 when it never falls)."""
    if not len(pnl):
        return 0.0
    equity = np.concatenate([[0.0], np.cumsum(pnl)])
    return float((np.maximum.accumulate(equity) - equity).max())


def date_bootstrap_mean(
    values: np.ndarray, dates: np.ndarray, n_boot: int, seed: int = 0
) -> tuple[float, float] | None:
    """95% percentile interval of the mean per trade, resampling dates with replacement (trades of a
    session are not independent); None with fewer than 2 dates."""
    uniq, inv = np.unique(dates, return_inverse=True)
    if len(uniq) < 2:
        return None
    sums = np.bincount(inv, weights=values, minlength=len(uniq))
    counts = np.bincount(inv, minlength=len(uniq)).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(uniq), (n_boot, len(uniq)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def summarize(trades: pl.DataFrame, dates: list[str], cfg: Config) -> dict[str, float | int | None]:
    """Figures of one policy's trades over the study's `dates` (days without trades count as 0 P&L):
    trades, hit_rate (share with pnl_usd > 0), avg_win_usd, avg_loss_usd, expectancy_usd and _pt per
    trade with its date-bootstrap interval (expectancy_usd_lo/_hi), total_usd, sharpe_daily
    (mean / std of daily P&L x sqrt(252)), max_drawdown_usd, and the exit shares."""
    n = trades.height
    out: dict[str, float | int | None] = {"trades": n}
    if not n:
        return out
    usd = trades["pnl_usd"].to_numpy()
    out["hit_rate"] = float((usd > 0).mean())
    out["avg_win_usd"] = float(usd[usd > 0].mean()) if (usd > 0).any() else None
    out["avg_loss_usd"] = float(usd[usd <= 0].mean()) if (usd <= 0).any() else None
    out["expectancy_usd"] = float(usd.mean())
    out["expectancy_pt"] = float(trades["pnl_pt"].mean())
    ci = date_bootstrap_mean(usd, trades["date"].to_numpy(), cfg.backtest.bootstrap, cfg.model.seed)
    out["expectancy_usd_lo"], out["expectancy_usd_hi"] = ci if ci else (None, None)
    out["total_usd"] = float(usd.sum())
    daily = dict(trades.group_by("date").agg(pl.col("pnl_usd").sum()).iter_rows())
    per_day = np.array([daily.get(d, 0.0) for d in dates])
    sd = per_day.std(ddof=1) if len(per_day) > 1 else 0.0
    out["sharpe_daily"] = float(per_day.mean() / sd * np.sqrt(252)) if sd > 0 else None
    ordered = trades.sort("exit_ns")["pnl_usd"].to_numpy()
    out["max_drawdown_usd"] = max_drawdown(ordered)
    for reason in ("target", "stop", "time"):
        out[f"share_{reason}"] = float((trades["exit_reason"] == reason).mean())
    return out


def policy_table(
    trades: pl.DataFrame, dates: list[str], cfg: Config, by: list[str] | None = None
) -> pl.DataFrame:
    """`summarize` per policy (and per `by` columns, e.g. ["level_kind"] or ["year"]); one row each."""
    keys = ["policy", *(by or [])]
    df = trades.with_columns(year=pl.col("date").str.slice(0, 4)) if "year" in keys else trades
    rows = []
    for key, g in df.group_by(keys, maintain_order=True):
        rows.append({**dict(zip(keys, key, strict=True)), **summarize(g, dates, cfg)})
    return pl.DataFrame(rows, infer_schema_length=None)


def render(table: pl.DataFrame, title: str) -> list[str]:
    """Terminal lines of a `policy_table` (policies only): trades, hit rate, average win/loss, expectancy
    after costs with its interval, total, daily Sharpe, max drawdown (USD per contract)."""

    def f(v: object, fmt: str) -> str:
        return "n/a" if v is None else format(v, fmt)

    lines = [
        f"{title}",
        f"  {'policy':<13} {'trades':>6} {'hit':>6} {'avg win':>8} {'avg loss':>9} "
        f"{'expectancy USD [95%]':>28} {'total USD':>10} {'Sharpe':>7} {'max DD':>9}",
    ]
    for r in table.iter_rows(named=True):
        if not r.get("trades"):
            lines.append(f"  {r['policy']:<13} {0:>6}  (no trades)")
            continue
        iv = (
            f"[{r['expectancy_usd_lo']:+.1f}, {r['expectancy_usd_hi']:+.1f}]"
            if r.get("expectancy_usd_lo") is not None
            else ""
        )
        lines.append(
            f"  {r['policy']:<13} {r['trades']:>6} {r['hit_rate']:>6.1%} {f(r['avg_win_usd'], '8.1f'):>8} "
            f"{f(r['avg_loss_usd'], '9.1f'):>9} {r['expectancy_usd']:>+10.2f} {iv:>17} {r['total_usd']:>10.0f} "
            f"{f(r['sharpe_daily'], '7.2f'):>7} {r['max_drawdown_usd']:>9.0f}"
        )
    return lines
