"""The level-trade backtest as an asset (issue 22): every policy's trades after costs on the bar
tier's walk-forward test dates (`ml.backtest`), written to the lake's gold/evaluation and logged
to MLflow (per-policy metrics, the equity curves, the trade list). Unpartitioned, like the Gold
summary marts: the walk-forward reads every bar-tier date. The dbt mart gold_backtest aggregates
the trades."""

import dagster as dg

from spymaster_assets.defs.bar_tier import silver_bar_features, silver_bar_labels
from spymaster_assets.resources import LakeResource
from spymaster_assets.versioning import code_version, current_config, version_metadata
from spymaster_core.io import lake as lake_io

GROUP = "bar_backtest"
SECTIONS = ("backtest", "model", "labels", "instrument")


@dg.asset(
    group_name=GROUP,
    code_version=code_version(*SECTIONS),
    deps=[silver_bar_features, silver_bar_labels],
    check_specs=[dg.AssetCheckSpec("policies_share_test_dates", asset="bar_backtest_trades")],
)
def bar_backtest_trades(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Trades of always_fade, always_break, base_rate and model (`ml.backtest`) over every bar-tier
    date in the lake, one file (`research.backtest.TRADE_SCHEMA`); metadata: per policy trades,
    expectancy after costs with its date-bootstrap interval, total, daily Sharpe, max drawdown; the
    MLflow run (experiment break_bounce_bars) with the equity curves."""
    from ml import backtest
    from spymaster_core.research import backtest as bt

    cfg = current_config()
    touches, trade = backtest.inputs_from_lake(lake.path, cfg)
    if touches.is_empty():
        raise ValueError(
            f"no bar-tier touches in the lake at {lake.path}: import bars first (`spymaster bars import`)"
        )
    context.log.info(f"backtest over {touches['date'].n_unique()} dates, {touches.height} touches")
    res = backtest.run(touches, trade, cfg)
    lake_io.write_file(lake_io.file_path(lake.path, "backtest_trades"), res.trades)
    run_id = backtest.log_backtest(lake.data_dir, res, cfg, {"source": "lake bar tier"})
    table = bt.policy_table(res.trades, res.test_dates, cfg)
    policies = {
        r["policy"]: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "policy"}
        for r in table.iter_rows(named=True)
    }
    # Every policy trades only on the walk-forward test dates (none on a date its models trained on).
    outside = sorted(set(res.trades["date"].unique().to_list()) - set(res.test_dates))
    check = dg.AssetCheckResult(
        check_name="policies_share_test_dates",
        passed=not outside,
        metadata={"test_dates": len(res.test_dates), "trade_dates_outside": outside[:31]},
    )
    return dg.MaterializeResult(
        metadata={
            "trades": res.trades.height,
            "test_dates": len(res.test_dates),
            "first_test_date": res.test_dates[0] if res.test_dates else "",
            "policies": dg.MetadataValue.json(policies),
            "model_thresholds_by_block": dg.MetadataValue.json(res.thresholds),
            "mlflow_run_id": run_id,
            "path": str(lake_io.file_path(lake.path, "backtest_trades")),
            **version_metadata(*SECTIONS),
        },
        check_results=[check],
    )


assets = [bar_backtest_trades]
