-- Base rates per level kind and approach direction over every touch in Gold (the baseline a model must beat).
select
    level_kind,
    direction,
    count(*) as n_touches,
    count(*) filter (where outcome = 'BREAK') as n_break,
    count(*) filter (where outcome = 'BOUNCE') as n_bounce,
    count(*) filter (where outcome = 'CHOP') as n_chop,
    count(*) filter (where outcome = 'BREAK')::double
        / nullif(count(*) filter (where outcome in ('BREAK', 'BOUNCE')), 0) as break_rate,
    count(*) filter (where outcome in ('BREAK', 'BOUNCE'))::double / count(*) as tradeable_rate
from {{ ref('gold_training') }}
group by level_kind, direction
order by level_kind, direction
