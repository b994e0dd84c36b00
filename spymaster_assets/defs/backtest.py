"""The level-trade backtest as assets (issue 22): every policy's trades after costs on a tier's
walk-forward test dates (`ml.backtest`), written to the lake's gold/evaluation/backtest_trades/ and
logged to MLflow (per-policy metrics, the equity curves, the trade list).

- `bar_backtest_trades`: the bar tier (1-minute bars; entry at the next bar open);
- `tick_backtest_trades`: the tick tier (gold_training touches; entry at the next print, the MBP-10
  spread, exits in print order; the contract size from the Bronze option definitions).

Unpartitioned, like the Gold summary marts: a walk-forward reads every date of its tier. The dbt
mart gold_backtest aggregates both files."""

import dagster as dg

from spymaster_assets.defs.bar_tier import silver_bar_features, silver_bar_labels
from spymaster_assets.resources import LakeResource
from spymaster_assets.versioning import code_version, current_config, version_metadata
from spymaster_core.io import lake as lake_io

GROUP = "backtest"
SECTIONS = ("backtest", "model", "labels", "instrument")
CHECK = "policies_share_test_dates"


def _materialize(context: dg.AssetExecutionContext, lake: LakeResource, tier: str) -> dg.MaterializeResult:
    """Run the tier's backtest, write its trades file, log the MLflow run, report per-policy figures
    and the check that no policy traded outside the walk-forward test dates."""
    from ml import backtest
    from spymaster_core.research import backtest as bt

    cfg = current_config()
    if tier == "bars":
        inputs, table_name, hint = (
            backtest.inputs_from_lake(lake.path, cfg),
            "backtest_trades",
            "`spymaster bars import`",
        )
    else:
        inputs, table_name, hint = (
            backtest.tick_inputs_from_lake(lake.path, cfg),
            "backtest_trades_tick",
            "gold_daily_marts",
        )
    if inputs.touches.is_empty():
        raise ValueError(f"no {tier}-tier touches in the lake at {lake.path}: build them first ({hint})")
    touches = inputs.touches
    context.log.info(f"{tier} backtest over {touches['date'].n_unique()} dates, {touches.height} touches")
    res = backtest.run(inputs, cfg)
    path = lake_io.file_path(lake.path, table_name)
    lake_io.write_file(path, res.trades)
    run_id = backtest.log_backtest(lake.data_dir, res, cfg, {"source": f"lake {tier} tier"})
    table = bt.policy_table(res.trades, res.test_dates, cfg)
    policies = {
        r["policy"]: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "policy"}
        for r in table.iter_rows(named=True)
    }
    # Every policy trades only on the walk-forward test dates (none on a date its models trained on).
    outside = sorted(set(res.trades["date"].unique().to_list()) - set(res.test_dates))
    check = dg.AssetCheckResult(
        check_name=CHECK,
        passed=not outside,
        metadata={"test_dates": len(res.test_dates), "trade_dates_outside": outside[:31]},
    )
    return dg.MaterializeResult(
        metadata={
            "tier": tier,
            "trades": res.trades.height,
            "test_dates": len(res.test_dates),
            "first_test_date": res.test_dates[0] if res.test_dates else "",
            "policies": dg.MetadataValue.json(policies),
            "model_thresholds_by_block": dg.MetadataValue.json(res.thresholds),
            "multiplier_usd_per_pt": res.rules.multiplier_usd_per_pt,
            "multiplier_source": res.rules.multiplier_source,
            "mlflow_run_id": run_id,
            "path": str(path),
            **version_metadata(*SECTIONS),
        },
        check_results=[check],
    )


@dg.asset(
    group_name=GROUP,
    code_version=code_version(*SECTIONS),
    deps=[silver_bar_features, silver_bar_labels],
    check_specs=[dg.AssetCheckSpec(CHECK, asset="bar_backtest_trades")],
)
def bar_backtest_trades(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Trades of always_fade, always_break, base_rate and model (`ml.backtest`) over every bar-tier
    date in the lake, one file (`research.backtest.TRADE_SCHEMA` plus `tier`); metadata: per policy
    trades, expectancy after costs with its date-bootstrap interval, total, daily Sharpe, max
    drawdown; the MLflow run (experiment break_bounce_bars) with the equity curves. Raises
    ValueError when the lake has no bar-tier touches."""
    return _materialize(context, lake, "bars")


@dg.asset(
    group_name=GROUP,
    code_version=code_version(*SECTIONS),
    deps=[
        dg.AssetKey("gold_training"),
        dg.AssetKey("bronze_futures_trades"),
        dg.AssetKey("bronze_futures_mbp10"),
        dg.AssetKey("bronze_options_definitions"),
    ],  # fmt: skip
    check_specs=[dg.AssetCheckSpec(CHECK, asset="tick_backtest_trades")],
)
def tick_backtest_trades(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """The same policies on the tick tier: every gold_training date with a complete look-forward,
    traded print by print on its Bronze front-month trades with the MBP-10 spread, P&L in USD with
    the contract size of the Bronze option definitions (`ml.backtest.tick_inputs_from_lake`); MLflow
    experiment break_bounce. Raises ValueError when gold_training has no such touches."""
    return _materialize(context, lake, "tick")


assets = [bar_backtest_trades, tick_backtest_trades]
