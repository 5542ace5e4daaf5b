-- Every goal of the goals profile, for every period of its grain: the actual value of its
-- metric for its team (alone or with sub-teams), the status against its thresholds, and
-- the trend against the previous period.
--   lower_is_better:  on_track  actual <= warning;  at_risk  actual <= critical;  else off_track
--   higher_is_better: on_track  actual >= warning;  at_risk  actual >= critical;  else off_track
--   no value:         no_data
-- trend: improving / worsening / flat (equal) in the goal's direction; null when either
-- period has no value.
with goals as (

    select * from {{ ref('stg_config__goals') }}

),

periods as (

    select g.*, p.period_start, p.period_end
    from goals as g
    inner join {{ ref('int_calendar__periods') }} as p
        on p.period_grain = g.period

),

valued as (

    select
        p.*,
        v.metric_value as actual
    from periods as p
    left join {{ ref('int_goals__metric_values') }} as v
        on v.tree = p.tree and v.team_id = p.team_id and v.includes_subteams = p.include_subteams
       and v.period_grain = p.period and v.period_start = p.period_start and v.metric = p.metric

),

with_previous as (

    select
        v.*,
        lag(v.actual) over (partition by v.goal_id order by v.period_start) as previous_actual,
        row_number() over (partition by v.goal_id order by v.period_start desc) = 1 as is_latest_period
    from valued as v

)

select
    goal_id,
    goal_name,
    tree,
    team_id,
    include_subteams,
    metric,
    period,
    period_start,
    period_end,
    direction,
    target,
    warning,
    critical,
    actual,
    case
        when actual is null then 'no_data'
        when direction = 'lower_is_better' and actual <= warning then 'on_track'
        when direction = 'lower_is_better' and actual <= critical then 'at_risk'
        when direction = 'lower_is_better' then 'off_track'
        when actual >= warning then 'on_track'
        when actual >= critical then 'at_risk'
        else 'off_track'
    end as status,
    case when actual is not null then
        case when direction = 'lower_is_better' then actual <= target else actual >= target end
    end as is_target_met,
    actual - target as gap_to_target,
    previous_actual,
    actual - previous_actual as change_vs_previous,
    case
        when actual is null or previous_actual is null then null
        when actual = previous_actual then 'flat'
        when (direction = 'lower_is_better') = (actual < previous_actual) then 'improving'
        else 'worsening'
    end as trend,
    is_latest_period
from with_previous
