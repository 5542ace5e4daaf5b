-- Every pull request (shipped or not, deleted ones excluded): the timeline and phases of
-- int_pull_requests__timeline (coding, pickup, review; cycle time), plus what productivity
-- needs: size (lines changed) and its bucket from the productivity profile, rework
-- (commits pushed after the first review), the revert flag, linked Jira keys and the
-- alignment category they carry, and the author's team at creation in the primary tree
-- (var sei_primary_tree, default `reporting`; every tree's teams are in
-- bridge_pull_request_team).
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window', unique_key='pull_request_id',
          sei_window='created_at') }}
with timeline as (

    select * from {{ ref('int_pull_requests__timeline') }}

),

buckets as (

    select * from {{ ref('stg_config__productivity_pr_size_buckets') }}

),

sized as (

    select
        t.*,
        coalesce(t.additions, 0) + coalesce(t.deletions, 0) as size_lines
    from timeline as t

),

bucketed as (

    select s.pull_request_id, b.bucket_name, b.bucket_order
    from sized as s
    inner join buckets as b
        on {{ effective_config('b', 's.project_id', ref('stg_config__productivity_pr_size_buckets')) }}
       and s.size_lines >= b.min_lines
       and (b.max_lines is null or s.size_lines < b.max_lines)

),

jira_keys as (

    select k.pull_request_id, k.jira_issue_key, c.category, c.category_rank
    from {{ ref('stg_github__pull_request_jira_keys') }} as k
    left join {{ ref('int_alignment__issue_categories') }} as c
        on c.issue_key = k.jira_issue_key
    where not k.is_deleted

),

linked as (

    select
        pull_request_id,
        {{ dbt.listagg('jira_issue_key', "','", "order by jira_issue_key") }} as jira_issue_keys,
        count(*) as linked_issue_count
    from (select distinct pull_request_id, jira_issue_key from jira_keys) as k
    group by pull_request_id

),

linked_category as (

    -- the highest-ranked category among the linked issues (uncategorized ones rank last)
    select pull_request_id, category
    from (
        select pull_request_id, category,
               row_number() over (partition by pull_request_id
                                  order by coalesce(category_rank, 1000000), category) as rn
        from jira_keys
        where category is not null
    ) as r
    where rn = 1

),

primary_team as (

    select pull_request_id, min(team_id) as team_id, count(*) as n_teams
    from {{ ref('bridge_pull_request_team') }}
    where tree = '{{ var("sei_primary_tree", "reporting") }}'
    group by pull_request_id

),

final as (


    select
        s.pull_request_id,
        s.repository_full_name,
        s.pull_request_number,
        s.project_id,
        s.organisation_id,
        s.account_id,
        s.title,
        s.author_login,
        s.author_developer_id,
        pt.team_id as author_team_id,
        s.is_bot_author,
        s.is_draft,
        s.state,
        s.merged_at is not null as is_merged,
        -- GitHub's revert button: title `Revert "..."`, branch `revert-<number>-...`
        (s.title like 'Revert "%' or coalesce(s.head_branch_name, '') like 'revert-%') as is_revert,
        s.base_branch_name,
        s.head_branch_name,
        s.merge_commit_sha,
        s.created_at,
        s.ready_at,
        s.first_commit_at,
        s.first_review_at,
        s.first_approval_at,
        s.merged_at,
        s.closed_at,
        s.additions,
        s.deletions,
        s.changed_files,
        s.size_lines,
        b.bucket_name as size_bucket,
        b.bucket_order as size_bucket_order,
        s.review_count,
        s.review_comment_count,
        s.commits_after_first_review,
        s.first_review_at is not null and coalesce(s.commits_after_first_review, 0) > 0 as is_reworked,
        l.jira_issue_keys,
        coalesce(l.linked_issue_count, 0) as linked_issue_count,
        lc.category as alignment_category,
        s.coding_hours,
        s.pickup_hours,
        s.review_hours,
        s.cycle_time_hours,
        case when s.first_review_at is not null and s.first_review_at >= s.created_at
             then {{ duration_hours('s.created_at', 's.first_review_at') }} end as time_to_first_review_hours
    from sized as s
    left join bucketed as b
        on b.pull_request_id = s.pull_request_id
    left join linked as l
        on l.pull_request_id = s.pull_request_id
    left join linked_category as lc
        on lc.pull_request_id = s.pull_request_id
    left join primary_team as pt
        on pt.pull_request_id = s.pull_request_id

)

select * from final
{{ sei_window_filter() }}
