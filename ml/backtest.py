"""Policies at a touch, walk-forward by date, and their trades after costs (issue 22; the bar tier
and, with `tick_inputs_from_lake`, the tick tier).

Policies (decisions per touch; trades by `spymaster_core.research.backtest`):
- `always_fade`, `always_break`: the naive baselines, every touch;
- `base_rate`: per level kind, the side of the more common tradeable outcome (BOUNCE -> fade, BREAK ->
  break) on the training dates;
- `model`: the direction head (XGBoost on the bar features, trained on the training dates' BREAK and
  BOUNCE touches) gives P(BREAK) for every touch of the test block; break at p >= t, fade at
  p <= 1 - t, else no trade. The threshold t is chosen from `backtest.model_thresholds` on the
  earlier test blocks' out-of-sample predictions only (the t with the largest P&L there among those
  with at least `min_trades_for_threshold` trades); before there are any, the model does not trade.
Every policy is judged on the same test dates: the walk-forward blocks (`heads.walk_forward_blocks`)
that have training dates. Nothing about a touch's own date or later dates enters its decision.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from ml import bar_models, heads, plots, registry
from spymaster_core.bronze import contract_terms
from spymaster_core.config import Config
from spymaster_core.engines import feature_row
from spymaster_core.io import lake
from spymaster_core.research import backtest as bt
from spymaster_core.research import bar_features

POLICIES = ("always_fade", "always_break", "base_rate", "model")
TRADEABLE = ("BREAK", "BOUNCE")


Features = Callable[[pl.DataFrame], tuple[np.ndarray, list[str]]]


@dataclass(frozen=True)
class BacktestInputs:
    """What one tier's backtest needs. tier: `bars` or `tick`; touches: gold rows with `outcome`,
    `level_price`, `level_id` and the model's inputs; trade: the tier's trade function
    (`bt.bar_trade_fn` / `bt.tick_trade_fn`) built with `rules`; features: the model matrix of the
    tier (`bar_features.model_matrix` / `feature_row.model_matrix`)."""

    tier: str
    touches: pl.DataFrame
    trade: bt.TradeFn
    rules: bt.TradeRules
    features: Features


@dataclass
class BacktestResult:
    """trades: TRADE_SCHEMA rows of every policy plus `tier`; test_dates: the dates judged;
    thresholds: the model policy's threshold per test block ({first test date: t or None}); tier and
    rules: those of the inputs."""

    trades: pl.DataFrame
    test_dates: list[str]
    tier: str
    rules: bt.TradeRules
    thresholds: dict[str, float | None] = field(default_factory=dict)


def _hypothetical(touches: pl.DataFrame, trade: bt.TradeFn) -> dict[str, tuple[float | None, float | None]]:
    """{touch_id: (fade pnl_usd, break pnl_usd)} of a lone trade each way (None: no trade possible)."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for r in touches.iter_rows(named=True):
        pnl = []
        for decision in (bt.FADE, bt.BREAK):
            t = trade(r, bt.side_of(r["direction"], decision))
            pnl.append(None if t is None else t["pnl_usd"])
        out[r["touch_id"]] = (pnl[0], pnl[1])
    return out


def choose_threshold(p: np.ndarray, fade_usd: np.ndarray, break_usd: np.ndarray, cfg: Config) -> float | None:
    """The threshold with the largest P&L over earlier out-of-sample predictions p (NaN P&L = no trade
    possible), among those giving at least `min_trades_for_threshold` trades; None if none does."""
    best, best_pnl = None, -np.inf
    for t in cfg.backtest.model_thresholds:
        pnl = np.where(p >= t, break_usd, np.where(p <= 1 - t, fade_usd, np.nan))
        n = int(np.isfinite(pnl).sum())
        if n >= cfg.backtest.min_trades_for_threshold and np.nansum(pnl) > best_pnl:
            best, best_pnl = t, float(np.nansum(pnl))
    return best


def decide(
    touches: pl.DataFrame, trade: bt.TradeFn, cfg: Config, features: Features = bar_features.model_matrix
) -> tuple[dict, list[str], dict]:
    """({policy: {touch_id: decision}}, test dates, model thresholds by block) walk-forward by date.
    touches: gold rows with `outcome`, `level_price`, `level_id` and the model's inputs (`features`:
    the bar features by default; the tick tier passes `feature_row.model_matrix`); trade: the tier's
    trade function (`research.backtest.bar_trade_fn` / `tick_trade_fn`)."""
    hyp = _hypothetical(touches, trade)
    dates = sorted(touches["date"].unique().to_list())
    decisions: dict[str, dict[str, str]] = {p: {} for p in POLICIES}
    test_dates: list[str] = []
    thresholds: dict[str, float | None] = {}
    oof_p: list[np.ndarray] = []
    oof_ids: list[str] = []
    for train_dates, block in heads.walk_forward_blocks(dates, cfg.model):
        tr = touches.filter(pl.col("date").is_in(train_dates))
        te = touches.filter(pl.col("date").is_in(block))
        if te.is_empty():
            continue
        test_dates.extend(sorted(set(te["date"].to_list())))
        ids = te["touch_id"].to_list()
        for tid in ids:
            decisions["always_fade"][tid] = bt.FADE
            decisions["always_break"][tid] = bt.BREAK
        rates = (
            tr.filter(pl.col("outcome").is_in(TRADEABLE))
            .group_by("level_kind")
            .agg((pl.col("outcome") == "BREAK").mean().alias("break_share"))
        )
        side_of_kind = {k: (bt.BREAK if s > 0.5 else bt.FADE) for k, s in rates.iter_rows()}
        for tid, kind in zip(ids, te["level_kind"], strict=True):
            if kind in side_of_kind:
                decisions["base_rate"][tid] = side_of_kind[kind]
        train = tr.filter(pl.col("outcome").is_in(TRADEABLE))
        y = (train["outcome"] == "BREAK").to_numpy().astype(int)
        if not heads.trainable(y, cfg.model):
            continue
        model = heads.new_model(cfg.model).fit(features(train)[0], y)
        p = model.predict_proba(features(te)[0])[:, 1]
        t = None
        if oof_ids:
            earlier = np.concatenate(oof_p)
            f = np.array([np.nan if hyp[i][0] is None else hyp[i][0] for i in oof_ids])
            b = np.array([np.nan if hyp[i][1] is None else hyp[i][1] for i in oof_ids])
            t = choose_threshold(earlier, f, b, cfg)
        thresholds[block[0]] = t
        if t is not None:
            for tid, pi in zip(ids, p, strict=True):
                if pi >= t:
                    decisions["model"][tid] = bt.BREAK
                elif pi <= 1 - t:
                    decisions["model"][tid] = bt.FADE
        oof_p.append(p)
        oof_ids.extend(ids)
    return decisions, test_dates, thresholds


def run(inputs: BacktestInputs, cfg: Config) -> BacktestResult:
    """Every policy's trades on the walk-forward test dates (module docstring), each row tagged
    with the inputs' tier."""
    decisions, test_dates, thresholds = decide(inputs.touches, inputs.trade, cfg, inputs.features)
    judged = inputs.touches.filter(pl.col("date").is_in(test_dates))
    parts = [bt.trades_for(p, judged, decisions[p], inputs.trade) for p in POLICIES]
    trades = pl.concat(parts).with_columns(tier=pl.lit(inputs.tier))
    return BacktestResult(trades, test_dates, inputs.tier, inputs.rules, thresholds)


def inputs_from_bars(by_date: dict[str, pl.DataFrame], cfg: Config) -> BacktestInputs:
    """The bar tier's inputs from {date: 1-minute bars}: touches with labels and bar features
    (AMBIGUOUS kept) and the bar trade function; the contract size from the config (bars carry
    no definitions)."""
    rules = bt.TradeRules.of(cfg)
    gold = bar_models.bar_gold(by_date, cfg, keep_ambiguous=True)
    return BacktestInputs("bars", gold, bt.bar_trade_fn(by_date, rules), rules, bar_features.model_matrix)


def inputs_from_lake(root: lake.LakePath, cfg: Config, dates: list[str] | None = None) -> BacktestInputs:
    """`inputs_from_bars` from the bar tier in the lake (`bar_models.bar_gold_from_lake`)."""
    rules = bt.TradeRules.of(cfg)
    gold = bar_models.bar_gold_from_lake(root, cfg, dates, keep_ambiguous=True)
    bars: dict[str, pl.DataFrame] = {}
    for d in gold["date"].unique().to_list() if gold.height else []:
        b = lake.read_partition(root, "futures_ohlcv_1m", d)
        if b is not None:
            bars[d] = b
    return BacktestInputs("bars", gold, bt.bar_trade_fn(bars, rules), rules, bar_features.model_matrix)


def tick_inputs_from_lake(root: lake.LakePath, cfg: Config, dates: list[str] | None = None) -> BacktestInputs:
    """The tick tier's inputs: touches of `gold_training` (Silver touches, features and labels;
    complete look-forwards only) and `tick_trade_fn` over the dates' Bronze front-month trades with
    the MBP-10 top of book for the spread; the contract size from the dates' Bronze option
    definitions (`contract_terms.multiplier_usd_per_pt`), the config's when none carry it.
    Raises ValueError when the dates' definitions disagree on the contract size."""
    gold = lake.read_table(root, "gold_training")
    if gold is None:
        gold = pl.DataFrame()
    else:
        gold = gold.filter(pl.col("lookforward_complete"))
        if dates is not None:
            gold = gold.filter(pl.col("date").is_in(dates))
    trades: dict[str, pl.DataFrame] = {}
    books: dict[str, pl.DataFrame | None] = {}
    defs: list[pl.DataFrame] = []
    for d in sorted(gold["date"].unique().to_list()) if gold.height else []:
        t = lake.read_partition(root, "futures_trades", d)
        if t is None:
            continue
        trades[d] = t
        books[d] = lake.read_partition(root, "futures_mbp10", d, ["ts_event_ns", "bid_px_00", "ask_px_00"])
        od = lake.read_partition(root, "options_definitions", d)
        if od is not None and "unit_of_measure_qty" in od.columns:
            defs.append(od.select("unit_of_measure_qty"))
    where = f"Bronze options_definitions of {len(defs)} dates under {root}"
    mult = contract_terms.multiplier_usd_per_pt(pl.concat(defs) if defs else pl.DataFrame(), where)
    rules = bt.TradeRules.of(cfg, mult, where)
    if gold.height:
        gold = gold.filter(pl.col("date").is_in(list(trades)))
    return BacktestInputs(
        "tick", gold, bt.tick_trade_fn(trades, books, rules), rules, feature_row.model_matrix
    )


EXITS_IN_ONE_STEP = {
    "bars": "both exits in one bar = stop (pessimistic)",
    "tick": "exits in print order",
}


def render(res: BacktestResult, cfg: Config, title: str) -> list[str]:
    """The policy table (bt.render) with the rules and costs it assumed (the tier's own: entry,
    spread, contract size and its source), the test dates and the model's chosen thresholds."""
    rules = res.rules
    lines = bt.render(bt.policy_table(res.trades, res.test_dates, cfg), title)
    chosen = sorted({t for t in res.thresholds.values() if t is not None})
    spread = (
        f"{rules.half_spread_pt:g} pt half spread per side"
        if res.tier == "bars"
        else f"the book's half spread per side (at least {rules.half_spread_pt:g} pt)"
    )
    lines.append(
        f"  {len(res.test_dates)} test dates walk-forward; target {rules.target_pt:g} pt, stop "
        f"{rules.stop_pt:g} pt from the level, time stop {rules.lookforward_min:g} min; costs: "
        f"{spread}, {rules.stop_slippage_pt:g} pt stop slippage, ${rules.fees_usd_per_trade:.2f} fees per "
        f"round turn; {EXITS_IN_ONE_STEP[res.tier]}; ${rules.multiplier_usd_per_pt:g} per point "
        f"({'definitions' if rules.multiplier_source != bt.CONFIG_MULTIPLIER else 'config'})"
    )
    lines.append(f"  model thresholds chosen on earlier dates: {chosen or 'none (too few earlier trades)'}")
    return lines


METRICS = ("trades", "hit_rate", "expectancy_usd", "expectancy_usd_lo", "expectancy_usd_hi", "expectancy_pt",
           "total_usd", "sharpe_daily", "max_drawdown_usd")  # fmt: skip


def log_backtest(data_dir: Path, res: BacktestResult, cfg: Config, params: dict[str, object]) -> str:
    """Log the backtest to MLflow (experiment `registry.BAR_EXPERIMENT` for the bar tier,
    `registry.EXPERIMENT` for the tick tier; tags `kind=backtest`, `tier`): per
    policy the METRICS as `<policy>_<metric>`, the costs and rules as params, and the equity curves
    of every policy on one axis (`equity.png`) with the trade list (`trades.parquet`) as artifacts.
    Returns the run id."""
    table = bt.policy_table(res.trades, res.test_dates, cfg)
    metrics: dict[str, float | None] = {}
    for r in table.iter_rows(named=True):
        for m in METRICS:
            v = r.get(m)
            metrics[f"{r['policy']}_{m}"] = None if v is None else float(v)
    rules = res.rules
    all_params = {
        **params,
        "test_dates": len(res.test_dates),
        "target_pt": rules.target_pt,
        "stop_pt": rules.stop_pt,
        "half_spread_pt": rules.half_spread_pt,
        "stop_slippage_pt": rules.stop_slippage_pt,
        "fees_usd_per_round_turn": rules.fees_usd_per_trade,
        "multiplier_usd_per_pt": rules.multiplier_usd_per_pt,
        "multiplier_source": rules.multiplier_source[:250],
    }
    with tempfile.TemporaryDirectory() as tmp:
        png = plots.equity_png(res.trades, Path(tmp) / "equity.png", "Level-trade policies after costs")
        trades = Path(tmp) / "trades.parquet"
        res.trades.write_parquet(trades)
        run_id, _ = registry.log_run(
            data_dir, all_params, metrics, {"tier": res.tier, "kind": "backtest"}, artifacts=[png, trades],
            experiment=registry.BAR_EXPERIMENT if res.tier == "bars" else registry.EXPERIMENT,
        )  # fmt: skip
    return run_id
