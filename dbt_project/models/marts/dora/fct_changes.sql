-- One row per pull request shipped to production, counted at the FIRST successful production
-- deployment whose change set contains its merge (or squash) commit, with the shared PR
-- phases (int_pull_requests__timeline) and the deploy phase and lead time:
--   deploy_hours    merged -> that deployment finished;
--   lead_time_hours the profile's start event -> deployed: first_commit (the PR's first
--                   commit), pr_opened (the PR created), or issue_in_progress (its linked Jira
--                   issues' first move into an in_progress_statuses status; the first commit
--                   when no linked issue has one).
-- A duration is null when an end is missing or precedes its start. PRs by bots (flagged by
-- GitHub or the identity resolution, or matching the profile's bot patterns) are not changes.
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window', unique_key='pull_request_id',
          sei_window='deployed_at') }}
with shipped as (

    select c.pull_request_id, c.deployment_id, c.deployed_at, d.service, d.scope_key, d.project_id
    from {{ ref('fct_deployment_changes') }} as c
    join {{ ref('int_dora__deployments') }} as d
        on d.deployment_id = c.deployment_id
    where c.is_first_deployment_of_pull_request

),

timeline as (

    select * from {{ ref('int_pull_requests__timeline') }}

),

vals as (

    select * from {{ ref('int_dora__efficiency_values') }}

),

in_progress as (

    -- first move of any Jira issue linked to the PR into an in-progress status of the profile
    select k.pull_request_id, s.scope_key, min(ch.changed_at) as in_progress_at
    from {{ ref('stg_github__pull_request_jira_keys') }} as k
    join shipped as s
        on s.pull_request_id = k.pull_request_id
    join {{ ref('stg_jira__issue_changelogs') }} as ch
        on ch.issue_key = k.jira_issue_key and lower(ch.field_name) = 'status' and not ch.is_deleted
    join vals as v
        on v.scope_key = s.scope_key and v.list_name = 'in_progress_status' and v.value = lower(ch.to_string)
    where not k.is_deleted
    group by k.pull_request_id, s.scope_key

),

joined as (

    select
        t.pull_request_id,
        t.repository_full_name,
        t.pull_request_number,
        t.project_id,
        t.author_login,
        t.author_developer_id,
        s.service,
        s.deployment_id,
        sc.lead_time_start,
        t.first_commit_at,
        t.created_at as opened_at,
        t.ready_at,
        t.first_review_at,
        t.merged_at,
        s.deployed_at,
        case sc.lead_time_start
            when 'pr_opened' then t.created_at
            when 'issue_in_progress' then coalesce(ip.in_progress_at, t.first_commit_at)
            else t.first_commit_at
        end as lead_time_started_at,
        t.coding_hours,
        t.pickup_hours,
        t.review_hours,
        t.cycle_time_hours
    from shipped as s
    join timeline as t
        on t.pull_request_id = s.pull_request_id
    join {{ ref('int_dora__efficiency_scopes') }} as sc
        on sc.scope_key = s.scope_key
    left join in_progress as ip
        on ip.pull_request_id = s.pull_request_id
    where not coalesce(t.is_bot_author, false)
      and not exists (select 1 from vals as v
                      where v.scope_key = s.scope_key and v.list_name = 'bot'
                        and lower(t.author_login) like v.value escape {{ sei_literal('\\') }})

),

final as (


    select
        pull_request_id,
        repository_full_name,
        pull_request_number,
        project_id,
        author_login,
        author_developer_id,
        service,
        deployment_id,
        lead_time_start,
        lead_time_started_at,
        first_commit_at,
        opened_at,
        ready_at,
        first_review_at,
        merged_at,
        deployed_at,
        coding_hours,
        pickup_hours,
        review_hours,
        case when deployed_at >= merged_at then {{ duration_hours('merged_at', 'deployed_at') }} end as deploy_hours,
        cycle_time_hours,
        case when deployed_at >= lead_time_started_at
             then {{ duration_hours('lead_time_started_at', 'deployed_at') }} end as lead_time_hours
    from joined

)

select * from final
{{ sei_window_filter() }}
