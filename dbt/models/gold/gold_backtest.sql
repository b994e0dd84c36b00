-- What trading the level touches would have made (issue 22): per tier and policy, and per tier,
-- policy and level kind / year, the trades, hit rate, average win and loss, expectancy after costs
-- (USD per contract and points) and total, from the trades bar_backtest_trades (bars) and
-- tick_backtest_trades (tick) wrote (walk-forward test dates). Intervals, daily Sharpe and
-- drawdown need the trade order: they are in the assets' metadata and MLflow runs.
-- depends_on: {{ source('evaluation', 'backtest_trades_tick') }}
with trades as (
    select *, coalesce(tier, 'bars') as tier_, substr(date, 1, 4) as year
    from {{ source('evaluation', 'backtest_trades') }}
)

select
    tier_ as tier,
    policy,
    coalesce(level_kind, 'ALL') as level_kind,
    coalesce(year, 'ALL') as year,
    count(*) as trades,
    avg(case when pnl_usd > 0 then 1.0 else 0.0 end) as hit_rate,
    avg(pnl_usd) filter (where pnl_usd > 0) as avg_win_usd,
    avg(pnl_usd) filter (where pnl_usd <= 0) as avg_loss_usd,
    avg(pnl_usd) as expectancy_usd,
    avg(pnl_pt) as expectancy_pt,
    sum(pnl_usd) as total_usd,
    avg(case when exit_reason = 'stop' then 1.0 else 0.0 end) as share_stop
from trades
group by grouping sets ((tier_, policy), (tier_, policy, level_kind), (tier_, policy, year))
order by tier, policy, level_kind, year
