-- One row per level touch: the touch, its Silver features (known strictly before the touch) and its labels.
-- Incremental by trading date: a run rebuilds only the dates of its partition window.
select
    t.touch_id,
    t.date,
    t.ts_ns,
    t.level_id,
    t.level_kind,
    t.level_price,
    t.direction,
    t.touch_price,
    t.prior_touches,
    f.* exclude (touch_id, ts_ns),
    -- every label column (outcome, one outcome_<thr> per configured threshold, time, strength, MFE/MAE)
    l.* exclude (touch_id)
from {{ source('silver', 'touches') }} as t
join {{ source('silver', 'features') }} as f using (touch_id)
join {{ source('silver', 'labels') }} as l using (touch_id)
where {{ in_date_window('t.date') }}
order by t.ts_ns, t.level_id
