-- The date spine: every UTC ISO week (from Monday) and calendar month from the first
-- activity in the warehouse (PR opened, Jira issue created) to the last one. Team marts
-- cross it with the teams so every team has a row for every period.
with recursive activity as (

    select created_at as ts from {{ ref('stg_github__pull_requests') }} where not is_deleted
    union all
    select coalesce(merged_at, closed_at, created_at) from {{ ref('stg_github__pull_requests') }} where not is_deleted
    union all
    select created_at from {{ ref('stg_jira__issues') }} where not is_deleted
    union all
    select resolved_at from {{ ref('stg_jira__issues') }} where not is_deleted and resolved_at is not null

),

bounds as (

    select
        cast({{ dbt.date_trunc('month', 'min(ts)') }} as date) as first_month,
        cast({{ dbt.date_trunc('week', 'min(ts)') }} as date) as first_week,
        cast(max(ts) as date) as last_day
    from activity
    where ts is not null

),

months (period_start) as (

    select first_month from bounds where first_month is not null
    union all
    select cast({{ dbt.dateadd('month', 1, 'm.period_start') }} as date)
    from months as m
    cross join bounds as b
    where cast({{ dbt.dateadd('month', 1, 'm.period_start') }} as date) <= b.last_day

),

weeks (period_start) as (

    select first_week from bounds where first_week is not null
    union all
    select cast({{ dbt.dateadd('day', 7, 'w.period_start') }} as date)
    from weeks as w
    cross join bounds as b
    where cast({{ dbt.dateadd('day', 7, 'w.period_start') }} as date) <= b.last_day

)

select 'month' as period_grain, period_start,
       cast({{ dbt.dateadd('month', 1, 'period_start') }} as date) as period_end
from months
union all
select 'week', period_start, cast({{ dbt.dateadd('day', 7, 'period_start') }} as date)
from weeks
