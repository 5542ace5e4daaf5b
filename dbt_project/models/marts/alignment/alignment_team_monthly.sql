-- Where each team's effort went, per calendar month (UTC) and alignment category: completed
-- Jira issues (done, not wont_do; epics excluded, their children carry the work) in the
-- month they were completed, attributed to the teams of their assignee (bridge_issue_team).
-- Effort per the alignment profile: issue_count, story_points or time_in_progress (hours in
-- in_progress statuses). Each team has a row per month and category (0 without work), for
-- the team alone and with its sub-teams (an issue counted once per ancestor).
with completed as (

    select
        c.issue_id,
        c.category,
        c.effort_measure,
        cast({{ dbt.date_trunc('month', 'i.completed_at') }} as date) as period_start,
        coalesce(i.story_points, 0) as story_points,
        i.in_progress_hours
    from {{ ref('int_alignment__issue_categories') }} as c
    inner join {{ ref('int_jira__issues') }} as i
        on i.issue_id = c.issue_id
    where i.is_completed
      and i.completed_at is not null
      and lower(coalesce(i.issue_type, '')) <> 'epic'

),

attributed as (

    select b.tree, b.team_id, c.*
    from completed as c
    inner join {{ ref('bridge_issue_team') }} as b
        on b.issue_id = c.issue_id

),

scoped as (

    select distinct tree, team_id, false as includes_subteams, issue_id, category, effort_measure, period_start,
           story_points, in_progress_hours
    from attributed

    union all

    select distinct a.tree, cl.ancestor_team_id, true, a.issue_id, a.category, a.effort_measure, a.period_start,
           a.story_points, a.in_progress_hours
    from attributed as a
    inner join {{ ref('dim_team_closure') }} as cl
        on cl.tree = a.tree and cl.descendant_team_id = a.team_id

),

totals as (

    select
        tree, team_id, includes_subteams, period_start, category,
        count(*) as completed_issues,
        sum(story_points) as story_points,
        sum(in_progress_hours) as in_progress_hours,
        sum(case effort_measure when 'story_points' then story_points
                                when 'time_in_progress' then in_progress_hours
                                else 1 end) as effort,
        case when min(effort_measure) = max(effort_measure) then min(effort_measure) else 'mixed' end as effort_measure
    from scoped
    group by tree, team_id, includes_subteams, period_start, category

),

categories as (

    select distinct category from {{ ref('stg_config__alignment_categories') }}
    union
    select distinct uncategorized_name from {{ ref('stg_config__alignment_settings') }}
    union
    select distinct category from completed

),

default_measure as (

    select min(effort) as effort_measure from {{ ref('stg_config__alignment_settings') }} where project_id is null

),

spine as (

    select t.tree, t.team_id, s.includes_subteams, p.period_start, c.category
    from {{ ref('dim_team') }} as t
    cross join (select false as includes_subteams union all select true) as s
    cross join (select period_start from {{ ref('int_calendar__periods') }} where period_grain = 'month') as p
    cross join categories as c

),

filled as (

    select
        s.tree, s.team_id, s.includes_subteams, s.period_start, s.category,
        coalesce(t.completed_issues, 0) as completed_issues,
        coalesce(t.story_points, 0) as story_points,
        coalesce(t.in_progress_hours, 0) as in_progress_hours,
        coalesce(t.effort, 0) as effort,
        coalesce(t.effort_measure, d.effort_measure, 'issue_count') as effort_measure
    from spine as s
    left join totals as t
        on t.tree = s.tree and t.team_id = s.team_id and t.includes_subteams = s.includes_subteams
       and t.period_start = s.period_start and t.category = s.category
    cross join default_measure as d

)

select
    tree,
    team_id,
    includes_subteams,
    period_start as month_start,
    category,
    cast(completed_issues as bigint) as completed_issues,
    cast(story_points as {{ sei_double() }}) as story_points,
    cast(in_progress_hours as {{ sei_double() }}) as in_progress_hours,
    effort_measure,
    cast(effort as {{ sei_double() }}) as effort,
    cast(case when sum(effort) over (partition by tree, team_id, includes_subteams, period_start) > 0
              then effort / sum(effort) over (partition by tree, team_id, includes_subteams, period_start)
         end as {{ sei_double() }}) as effort_share
from filled
