-- Held-out scores of every head and both baselines, per model run: the comparison users read
-- beside MLflow. Inputs are the pooled walk-forward predictions break_bounce_model writes.
-- AUC by the Mann-Whitney rank-sum with average ranks for ties (equal to scikit-learn's
-- roc_auc_score); Brier and log-loss on probabilities clipped to [1e-6, 1 - 1e-6] (ml.heads.CLIP).
with ranked as (
    select
        *,
        rank() over (partition by run_id, head, predictor order by p)
            + (count(*) over (partition by run_id, head, predictor, p) - 1) / 2.0 as avg_rank,
        least(greatest(p, 1e-6), 1 - 1e-6) as pc
    from {{ source('evaluation', 'predictions') }}
),
scored as (
    select
        run_id,
        head,
        predictor,
        count(*) as n_test,
        sum(y_true) as n_positive,
        count(distinct date) as n_test_dates,
        min(date) as first_test_date,
        max(date) as last_test_date,
        sum(avg_rank) filter (where y_true = 1) as rank_sum_positive,
        avg((pc - y_true) * (pc - y_true)) as brier,
        -avg(y_true * ln(pc) + (1 - y_true) * ln(1 - pc)) as log_loss
    from ranked
    group by run_id, head, predictor
)
select
    run_id,
    head,
    predictor,
    n_test,
    n_positive,
    n_test_dates,
    first_test_date,
    last_test_date,
    case
        when n_positive > 0 and n_positive < n_test
            then (rank_sum_positive - n_positive * (n_positive + 1) / 2.0)
                / (n_positive * (n_test - n_positive))
    end as auc,
    brier,
    log_loss
from scored
order by run_id, head, predictor
