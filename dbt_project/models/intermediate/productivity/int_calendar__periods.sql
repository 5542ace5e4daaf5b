-- The date spine: every UTC ISO week (from Monday) and calendar month from the first
-- activity in the warehouse (PR opened, Jira issue created) to the last one. Team marts
-- cross it with the teams so every team has a row for every period.
with activity as (

    select created_at as ts from {{ ref('stg_github__pull_requests') }} where not is_deleted
    union all
    select coalesce(merged_at, closed_at, created_at) from {{ ref('stg_github__pull_requests') }} where not is_deleted
    union all
    select created_at from {{ ref('stg_jira__issues') }} where not is_deleted
    union all
    select resolved_at from {{ ref('stg_jira__issues') }} where not is_deleted and resolved_at is not null

),

bounds as (

    select min(ts) as lo, max(ts) as hi
    from activity
    where ts is not null

),

-- period_spine (macros/dora/period_spine.sql): each engine's series function, not a
-- recursive CTE (Spark runs recursion one job per step)
months as (
    {{ period_spine('month', 'bounds') }}
),

weeks as (
    {{ period_spine('week', 'bounds') }}
)

select 'month' as period_grain, period_start,
       cast({{ dbt.dateadd('month', 1, 'period_start') }} as date) as period_end
from months
union all
select 'week', period_start, cast({{ dbt.dateadd('day', 7, 'period_start') }} as date)
from weeks
