-- Touch outcomes at bar resolution (DESIGN §6) per level kind, approach direction, year and
-- volatility regime: the real-history answer to "how do touches of PM/OR/SMA levels resolve?".
-- Regime = the touch's 30-bar ATR tercile over every bar-tier touch (low / mid / high); touches
-- without an ATR (fewer than 30 bars before them) or with a cut look-forward are left out.
with labelled as (
    select
        t.touch_id,
        t.level_kind,
        t.direction,
        extract(year from cast(t.date as date))::integer as year,
        l.outcome,
        l.atr_outcome,
        l.atr_pt
    from {{ source('silver', 'bar_touches') }} as t
    inner join {{ source('silver', 'bar_labels') }} as l using (touch_id)
    where l.lookforward_complete and l.atr_pt is not null
),

regimes as (
    select
        *,
        case ntile(3) over (order by atr_pt, touch_id) when 1 then 'low' when 2 then 'mid' else 'high' end
            as vol_regime
    from labelled
)

select
    level_kind,
    direction,
    year,
    vol_regime,
    count(*) as n_touches,
    count(*) filter (where outcome = 'BREAK') as n_break,
    count(*) filter (where outcome = 'BOUNCE') as n_bounce,
    count(*) filter (where outcome = 'CHOP') as n_chop,
    count(*) filter (where outcome = 'AMBIGUOUS') as n_ambiguous,
    count(*) filter (where outcome = 'BREAK')::double / count(*) as break_share,
    count(*) filter (where outcome = 'BOUNCE')::double / count(*) as bounce_share,
    count(*) filter (where outcome = 'CHOP')::double / count(*) as chop_share,
    count(*) filter (where atr_outcome = 'BREAK')::double / count(*) as atr_break_share,
    count(*) filter (where atr_outcome = 'BOUNCE')::double / count(*) as atr_bounce_share,
    median(atr_pt) as median_atr_pt
from regimes
group by level_kind, direction, year, vol_regime
order by level_kind, direction, year, vol_regime
