-- Merged PRs per team, period (ISO week from Monday / calendar month, UTC) and size bucket
-- of the productivity profile: the size distribution behind pr_size_p50_lines. Same
-- attribution as productivity_team_weekly/monthly (author's teams at creation, bots
-- excluded, with sub-teams each PR once). Every team has a row per period and bucket.
-- Incremental by period like int_productivity__team_periods.
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window', sei_window='period_start',
          sei_window_grain='period') }}
with grains as (

    select 'week' as period_grain
    union all
    select 'month'

),

merged as (

    select b.tree, b.team_id, p.pull_request_id, p.size_bucket, g.period_grain,
           cast(case g.period_grain when 'week' then {{ dbt.date_trunc('week', 'p.merged_at') }}
                                    else {{ dbt.date_trunc('month', 'p.merged_at') }} end as date) as period_start
    from {{ ref('fct_pull_requests') }} as p
    inner join {{ ref('bridge_pull_request_team') }} as b
        on b.pull_request_id = p.pull_request_id
    cross join grains as g
    where p.is_merged and not p.is_bot_author and p.size_bucket is not null
      and {{ sei_window_since('p.merged_at', 'period') }}

),

scoped as (

    select distinct tree, team_id, false as includes_subteams, period_grain, period_start, size_bucket,
           pull_request_id
    from merged
    union all
    select distinct m.tree, c.ancestor_team_id, true, m.period_grain, m.period_start, m.size_bucket, m.pull_request_id
    from merged as m
    inner join {{ ref('dim_team_closure') }} as c
        on c.tree = m.tree and c.descendant_team_id = m.team_id

),

counts as (

    select tree, team_id, includes_subteams, period_grain, period_start, size_bucket, count(*) as merged_prs
    from scoped
    group by tree, team_id, includes_subteams, period_grain, period_start, size_bucket

),

buckets as (

    -- bucket names across projects, in their smallest position
    select bucket_name, min(bucket_order) as bucket_order
    from {{ ref('stg_config__productivity_pr_size_buckets') }}
    group by bucket_name

),

spine as (

    select t.tree, t.team_id, s.includes_subteams, p.period_grain, p.period_start, b.bucket_name, b.bucket_order
    from {{ ref('dim_team') }} as t
    cross join (select false as includes_subteams union all select true) as s
    cross join {{ ref('int_calendar__periods') }} as p
    cross join buckets as b

),

final as (

    select
        s.tree,
        s.team_id,
        s.includes_subteams,
        s.period_grain,
        s.period_start,
        s.bucket_name as size_bucket,
        cast(s.bucket_order as bigint) as size_bucket_order,
        cast(coalesce(c.merged_prs, 0) as bigint) as merged_prs
    from spine as s
    left join counts as c
        on c.tree = s.tree and c.team_id = s.team_id and c.includes_subteams = s.includes_subteams
       and c.period_grain = s.period_grain and c.period_start = s.period_start and c.size_bucket = s.bucket_name

)

select * from final {{ sei_window_filter() }}
