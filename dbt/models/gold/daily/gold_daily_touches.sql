-- One row per trading date: how many touches, their outcomes and what the engines read at them.
-- Incremental by trading date, like gold_training.
select
    date,
    count(*) as n_touches,
    count(*) filter (where outcome = 'BREAK') as n_break,
    count(*) filter (where outcome = 'BOUNCE') as n_bounce,
    count(*) filter (where outcome = 'CHOP') as n_chop,
    avg(break_score_smooth) as mean_break_score,
    count(*) filter (where barrier_state = 'VACUUM') as n_vacuum,
    count(*) filter (where barrier_state = 'WALL') as n_wall,
    count(*) filter (where fuel_missing_reason is null) as n_with_fuel
from {{ ref('gold_training') }}
where {{ in_date_window('date') }}
group by date
order by date
