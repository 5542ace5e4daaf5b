-- Productivity per (tree, team, team alone / with sub-teams, week or month), both grains in
-- one pass; productivity_team_weekly / _monthly publish them. Every fact reaches teams
-- through its person's bridge (PR author at creation, reviewer at submission, commit author
-- at authoring, issue assignee at resolution). With sub-teams, facts fan out to every
-- ancestor through dim_team_closure and are de-duplicated per ancestor, so medians are exact
-- over the subtree's distinct PRs (the fan-out is bounded by the tree's depth).
-- Incremental by period (macros/incremental/sei_window.sql): a row depends only on the
-- facts of its own period, so an hourly run reads the facts from the window's first week
-- or month on and recomputes those periods.
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window', sei_window='period_start',
          sei_window_grain='period') }}
with grains as (

    select 'week' as period_grain
    union all
    select 'month'

),

merged as (

    select b.tree, b.team_id, b.developer_id, p.pull_request_id, p.merged_at as event_at,
           p.cycle_time_hours, p.coding_hours, p.pickup_hours, p.review_hours, p.time_to_first_review_hours,
           p.size_lines, p.review_count, p.review_comment_count, p.first_review_at, p.is_reworked
    from {{ ref('fct_pull_requests') }} as p
    inner join {{ ref('bridge_pull_request_team') }} as b
        on b.pull_request_id = p.pull_request_id
    where p.is_merged and not p.is_bot_author
      and {{ sei_window_since('p.merged_at', 'period') }}

),

activity as (

    -- who was active when: PRs opened, reviews submitted, commits authored
    select tree, team_id, developer_id, created_at as event_at, 'pr' as kind from {{ ref('bridge_pull_request_team') }}
    where {{ sei_window_since('created_at', 'period') }}
    union all
    select tree, team_id, developer_id, submitted_at, 'review' from {{ ref('bridge_review_team') }}
    where {{ sei_window_since('submitted_at', 'period') }}
    union all
    select tree, team_id, developer_id, authored_at, 'commit' from {{ ref('bridge_commit_team') }}
    where {{ sei_window_since('authored_at', 'period') }}

),

completed as (

    select b.tree, b.team_id, b.developer_id, i.issue_id, i.completed_at as event_at,
           coalesce(i.story_points, 0) as story_points
    from {{ ref('int_jira__issues') }} as i
    inner join {{ ref('bridge_issue_team') }} as b
        on b.issue_id = i.issue_id
    where i.is_completed and i.completed_at is not null
      and lower(coalesce(i.issue_type, '')) <> 'epic'
      and {{ sei_window_since('i.completed_at', 'period') }}

),

closure as (

    select tree, ancestor_team_id, descendant_team_id from {{ ref('dim_team_closure') }}

),

-- ---------------------------------------------------------------- merged PRs
merged_periods as (

    select m.*, g.period_grain,
           cast(case g.period_grain when 'week' then {{ dbt.date_trunc('week', 'm.event_at') }}
                                    else {{ dbt.date_trunc('month', 'm.event_at') }} end as date) as period_start
    from merged as m
    cross join grains as g

),

merged_scoped as (

    select distinct tree, team_id, false as includes_subteams, period_grain, period_start, pull_request_id,
           cycle_time_hours, coding_hours, pickup_hours, review_hours, time_to_first_review_hours, size_lines,
           review_count, review_comment_count, first_review_at, is_reworked
    from merged_periods
    union all
    select distinct m.tree, c.ancestor_team_id, true, m.period_grain, m.period_start, m.pull_request_id,
           m.cycle_time_hours, m.coding_hours, m.pickup_hours, m.review_hours, m.time_to_first_review_hours,
           m.size_lines, m.review_count, m.review_comment_count, m.first_review_at, m.is_reworked
    from merged_periods as m
    inner join closure as c
        on c.tree = m.tree and c.descendant_team_id = m.team_id

),

pr_stats as (

    select
        tree, team_id, includes_subteams, period_grain, period_start,
        count(*) as merged_prs,
        percentile_cont(0.5) within group (order by cycle_time_hours) as pr_cycle_time_p50_hours,
        percentile_cont(0.9) within group (order by cycle_time_hours) as pr_cycle_time_p90_hours,
        percentile_cont(0.5) within group (order by coding_hours) as coding_time_p50_hours,
        percentile_cont(0.9) within group (order by coding_hours) as coding_time_p90_hours,
        percentile_cont(0.5) within group (order by pickup_hours) as pickup_time_p50_hours,
        percentile_cont(0.9) within group (order by pickup_hours) as pickup_time_p90_hours,
        percentile_cont(0.5) within group (order by review_hours) as review_time_p50_hours,
        percentile_cont(0.9) within group (order by review_hours) as review_time_p90_hours,
        percentile_cont(0.5) within group (order by time_to_first_review_hours) as time_to_first_review_p50_hours,
        percentile_cont(0.5) within group (order by size_lines) as pr_size_p50_lines,
        sum(case when review_count > 0 then 1 else 0 end) as reviewed_prs,
        sum(case when review_count > 0 then coalesce(review_comment_count, 0) else 0 end) as review_comments,
        sum(case when first_review_at is not null then 1 else 0 end) as prs_with_first_review,
        sum(case when is_reworked then 1 else 0 end) as reworked_prs
    from merged_scoped
    group by tree, team_id, includes_subteams, period_grain, period_start

),

-- ---------------------------------------------------------------- people
activity_periods as (

    select a.tree, a.team_id, a.developer_id, a.kind, g.period_grain,
           cast(case g.period_grain when 'week' then {{ dbt.date_trunc('week', 'a.event_at') }}
                                    else {{ dbt.date_trunc('month', 'a.event_at') }} end as date) as period_start,
           cast(a.event_at as date) as event_day
    from activity as a
    cross join grains as g
    where a.event_at is not null

),

activity_scoped as (

    select tree, team_id, false as includes_subteams, period_grain, period_start, developer_id, kind, event_day
    from activity_periods
    union all
    select a.tree, c.ancestor_team_id, true, a.period_grain, a.period_start, a.developer_id, a.kind, a.event_day
    from activity_periods as a
    inner join closure as c
        on c.tree = a.tree and c.descendant_team_id = a.team_id

),

people_stats as (

    select
        tree, team_id, includes_subteams, period_grain, period_start,
        count(distinct developer_id) as active_developers,
        count(distinct case when kind = 'commit'
                            then {{ dbt.concat(['developer_id', "'|'", 'cast(event_day as ' ~ dbt.type_string() ~ ')']) }}
                       end) as coding_days
    from activity_scoped
    group by tree, team_id, includes_subteams, period_grain, period_start

),

-- ---------------------------------------------------------------- Jira work
completed_periods as (

    select c.*, g.period_grain,
           cast(case g.period_grain when 'week' then {{ dbt.date_trunc('week', 'c.event_at') }}
                                    else {{ dbt.date_trunc('month', 'c.event_at') }} end as date) as period_start
    from completed as c
    cross join grains as g

),

completed_scoped as (

    select distinct tree, team_id, false as includes_subteams, period_grain, period_start, issue_id, story_points
    from completed_periods
    union all
    select distinct p.tree, c.ancestor_team_id, true, p.period_grain, p.period_start, p.issue_id, p.story_points
    from completed_periods as p
    inner join closure as c
        on c.tree = p.tree and c.descendant_team_id = p.team_id

),

issue_stats as (

    select tree, team_id, includes_subteams, period_grain, period_start,
           count(*) as completed_issues, sum(story_points) as completed_story_points
    from completed_scoped
    group by tree, team_id, includes_subteams, period_grain, period_start

),

spine as (

    select t.tree, t.team_id, s.includes_subteams, p.period_grain, p.period_start, p.period_end
    from {{ ref('dim_team') }} as t
    cross join (select false as includes_subteams union all select true) as s
    cross join {{ ref('int_calendar__periods') }} as p

),

final as (

    select
        s.tree,
        s.team_id,
        s.includes_subteams,
        s.period_grain,
        s.period_start,
        s.period_end,
        coalesce(ps.active_developers, 0) as active_developers,
        coalesce(pr.merged_prs, 0) as merged_prs,
        pr.pr_cycle_time_p50_hours,
        pr.pr_cycle_time_p90_hours,
        pr.coding_time_p50_hours,
        pr.coding_time_p90_hours,
        pr.pickup_time_p50_hours,
        pr.pickup_time_p90_hours,
        pr.review_time_p50_hours,
        pr.review_time_p90_hours,
        pr.time_to_first_review_p50_hours,
        pr.pr_size_p50_lines,
        coalesce(pr.reviewed_prs, 0) as reviewed_prs,
        coalesce(pr.review_comments, 0) as review_comments,
        coalesce(pr.prs_with_first_review, 0) as prs_with_first_review,
        coalesce(pr.reworked_prs, 0) as reworked_prs,
        coalesce(ps.coding_days, 0) as coding_days,
        coalesce(iss.completed_issues, 0) as completed_issues,
        coalesce(iss.completed_story_points, 0) as completed_story_points
    from spine as s
    left join pr_stats as pr
        on pr.tree = s.tree and pr.team_id = s.team_id and pr.includes_subteams = s.includes_subteams
       and pr.period_grain = s.period_grain and pr.period_start = s.period_start
    left join people_stats as ps
        on ps.tree = s.tree and ps.team_id = s.team_id and ps.includes_subteams = s.includes_subteams
       and ps.period_grain = s.period_grain and ps.period_start = s.period_start
    left join issue_stats as iss
        on iss.tree = s.tree and iss.team_id = s.team_id and iss.includes_subteams = s.includes_subteams
       and iss.period_grain = s.period_grain and iss.period_start = s.period_start

)

select * from final {{ sei_window_filter() }}
