-- Per-developer productivity per calendar month (UTC) and team the developer was in at the
-- time of the work, for managers (published only within their scope). Respects the
-- privacy settings of the productivity profile: empty when per_person_metrics is false;
-- hidden developers never appear (their work still counts in team figures). Incremental
-- by month (macros/incremental/sei_window.sql): a row depends only on its month's work.
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window', sei_window='month_start',
          sei_window_grain='month') }}
with privacy as (

    select coalesce({{ dbt.bool_or('not per_person_metrics') }}, false) as is_off
    from {{ ref('stg_config__privacy_settings') }}

),

hidden as (

    select developer_id from {{ ref('stg_config__privacy_hidden_developers') }}

),

merged as (

    select b.developer_id, b.tree, b.team_id,
           cast({{ dbt.date_trunc('month', 'p.merged_at') }} as date) as month_start,
           p.pull_request_id, p.cycle_time_hours
    from {{ ref('fct_pull_requests') }} as p
    inner join {{ ref('bridge_pull_request_team') }} as b
        on b.pull_request_id = p.pull_request_id
    where p.is_merged and not p.is_bot_author
      and {{ sei_window_since('p.merged_at', 'month') }}

),

events as (

    select developer_id, tree, team_id, cast({{ dbt.date_trunc('month', 'created_at') }} as date) as month_start,
           'pr' as kind, cast(created_at as date) as event_day, cast(null as {{ dbt.type_string() }}) as issue_id,
           cast(0 as {{ sei_double() }}) as story_points
    from {{ ref('bridge_pull_request_team') }}
    where {{ sei_window_since('created_at', 'month') }}
    union all
    select developer_id, tree, team_id, cast({{ dbt.date_trunc('month', 'submitted_at') }} as date), 'review',
           cast(submitted_at as date), null, 0
    from {{ ref('bridge_review_team') }}
    where {{ sei_window_since('submitted_at', 'month') }}
    union all
    select developer_id, tree, team_id, cast({{ dbt.date_trunc('month', 'authored_at') }} as date), 'commit',
           cast(authored_at as date), null, 0
    from {{ ref('bridge_commit_team') }}
    where {{ sei_window_since('authored_at', 'month') }}
    union all
    select b.developer_id, b.tree, b.team_id, cast({{ dbt.date_trunc('month', 'i.completed_at') }} as date), 'issue',
           cast(i.completed_at as date), i.issue_id, coalesce(i.story_points, 0)
    from {{ ref('int_jira__issues') }} as i
    inner join {{ ref('bridge_issue_team') }} as b
        on b.issue_id = i.issue_id
    where i.is_completed and i.completed_at is not null and lower(coalesce(i.issue_type, '')) <> 'epic'
      and {{ sei_window_since('i.completed_at', 'month') }}

),

activity as (

    select developer_id, tree, team_id, month_start,
           sum(case when kind = 'pr' then 1 else 0 end) as opened_prs,
           sum(case when kind = 'review' then 1 else 0 end) as reviews_submitted,
           count(distinct case when kind = 'commit' then event_day end) as coding_days,
           count(distinct issue_id) as completed_issues,
           sum(story_points) as completed_story_points
    from events
    where month_start is not null
    group by developer_id, tree, team_id, month_start

),

merged_stats as (

    select developer_id, tree, team_id, month_start,
           count(*) as merged_prs,
           percentile_cont(0.5) within group (order by cycle_time_hours) as pr_cycle_time_p50_hours
    from merged
    group by developer_id, tree, team_id, month_start

),

final as (

    select
        a.developer_id,
        a.tree,
        a.team_id,
        a.month_start,
        cast(a.opened_prs as bigint) as opened_prs,
        cast(coalesce(m.merged_prs, 0) as bigint) as merged_prs,
        cast(m.pr_cycle_time_p50_hours as {{ sei_double() }}) as pr_cycle_time_p50_hours,
        cast(a.reviews_submitted as bigint) as reviews_submitted,
        cast(a.coding_days as bigint) as coding_days,
        cast(a.completed_issues as bigint) as completed_issues,
        cast(a.completed_story_points as {{ sei_double() }}) as completed_story_points
    from activity as a
    left join merged_stats as m
        on m.developer_id = a.developer_id and m.tree = a.tree and m.team_id = a.team_id
       and m.month_start = a.month_start
    where not coalesce((select is_off from privacy), false)
      and a.developer_id not in (select developer_id from hidden where developer_id is not null)

)

select * from final {{ sei_window_filter() }}
