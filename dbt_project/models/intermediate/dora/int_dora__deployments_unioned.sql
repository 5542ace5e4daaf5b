-- Every deployment any source reports, in one shape, with its service (org services file):
--   harness  CD executions (stg_harness__pipeline_executions, is_deployment): the service through the
--            services file's harness_service_ids, else a service of the same name; the deployed commit
--            from the CI stage or an artifact tag that is the SHA (null when neither is known);
--   github   deployments with their latest terminal status (success, failure, error; `inactive`
--            only follows success); the service whose repositories include the repository (the
--            alphabetically first when several services share one);
-- source_url links to the deployment in its tool: the Harness execution, the GitHub terminal
-- status's log (else its target) URL, the events file's url, the merged pull request.
--   events   the generic deployments files, by service name;
--   release_branches  merged PRs whose base branch matches a release_branches pattern of the
--            service's profile (a production deployment at merge time of the merge commit).
-- Which sources count is decided per service by its efficiency profile (int_dora__deployments).
with services as (

    select service, project_id from {{ ref('stg_org__services') }}

),

repo_service as (

    select repository_full_name, min(service) as service
    from {{ ref('stg_org__service_repositories') }}
    group by repository_full_name

),

service_repo as (

    select service, min(repository_full_name) as repository_full_name
    from {{ ref('stg_org__service_repositories') }}
    group by service

),

harness as (

    select
        {{ dbt.concat(["'harness:'", 'e.pipeline_execution_id']) }} as deployment_id,
        'harness' as source,
        e.pipeline_execution_id as source_deployment_id,
        e.url as source_url,
        coalesce(hid.service, byname.service) as service,
        coalesce(e.environment_name, e.environment_identifier) as environment_name,
        coalesce(e.is_production, lower(e.environment_type) = 'production') as is_tool_production,
        lower(e.status) as status,
        coalesce(e.deployment_started_at, e.started_at) as started_at,
        case when e.is_finished or e.is_finished is null
             then coalesce(e.deployment_finished_at, e.finished_at) end as finished_at,
        e.deployed_commit_sha as commit_sha,
        e.deployed_commit_sha_prefix as commit_sha_prefix,
        e.is_rollback as is_tool_rollback,
        cast(null as {{ dbt.type_string() }}) as repository_full_name,
        e.project_id
    from {{ ref('stg_harness__pipeline_executions') }} as e
    left join {{ ref('stg_org__service_harness_ids') }} as hid
        on hid.harness_service_id = e.service_identifier
    left join services as byname
        on byname.service = coalesce(e.service_name, e.service_identifier)
    where e.is_deployment and not e.is_deleted

),

github_terminal as (

    select
        deployment_id,
        state,
        created_at,
        coalesce(log_url, target_url) as url,
        row_number() over (partition by deployment_id order by created_at, deployment_status_id) as nth
    from {{ ref('stg_github__deployment_statuses') }}
    where state in ('success', 'failure', 'error') and not is_deleted

),

github as (

    select
        {{ dbt.concat(["'github:'", 'cast(d.deployment_id as ' ~ dbt.type_string() ~ ')']) }} as deployment_id,
        'github' as source,
        cast(d.deployment_id as {{ dbt.type_string() }}) as source_deployment_id,
        t.url as source_url,
        rs.service,
        d.environment_name,
        coalesce(d.is_production_environment, false) as is_tool_production,
        coalesce(t.state, 'in_progress') as status,
        d.created_at as started_at,
        t.created_at as finished_at,
        lower(d.commit_sha) as commit_sha,
        cast(null as {{ dbt.type_string() }}) as commit_sha_prefix,
        false as is_tool_rollback,
        d.repository_full_name,
        d.project_id
    from {{ ref('stg_github__deployments') }} as d
    left join github_terminal as t
        on t.deployment_id = d.deployment_id and t.nth = 1
    left join repo_service as rs
        on lower(rs.repository_full_name) = lower(d.repository_full_name)
    where not d.is_deleted

),

events as (

    select
        {{ dbt.concat(["'events:'", 'e.event_deployment_key']) }} as deployment_id,
        'events' as source,
        e.event_deployment_key as source_deployment_id,
        e.url as source_url,
        s.service,
        e.environment_name,
        coalesce(e.is_production, false) as is_tool_production,
        lower(e.status) as status,
        e.started_at,
        e.finished_at,
        e.commit_sha,
        e.commit_sha_prefix,
        e.is_rollback as is_tool_rollback,
        e.repository_full_name,
        e.project_id
    from {{ ref('stg_events__deployments') }} as e
    left join services as s
        on s.service = e.service_name
    where not e.is_deleted

),

release_branches as (

    select
        {{ dbt.concat(["'release_branches:'", 'pr.pull_request_id']) }} as deployment_id,
        'release_branches' as source,
        pr.pull_request_id as source_deployment_id,
        pr.url as source_url,
        rs.service,
        pr.base_branch_name as environment_name,
        true as is_tool_production,
        'success' as status,
        pr.merged_at as started_at,
        pr.merged_at as finished_at,
        lower(pr.merge_commit_sha) as commit_sha,
        cast(null as {{ dbt.type_string() }}) as commit_sha_prefix,
        false as is_tool_rollback,
        pr.repository_full_name,
        pr.project_id
    from {{ ref('stg_github__pull_requests') }} as pr
    join repo_service as rs
        on lower(rs.repository_full_name) = lower(pr.repository_full_name)
    join {{ ref('int_dora__service_scopes') }} as sc
        on sc.service = rs.service
    where pr.merged_at is not null and not pr.is_deleted
      and exists (
          select 1 from {{ ref('int_dora__efficiency_values') }} as v
          where v.scope_key = sc.scope_key and v.list_name = 'release_branch'
            and lower(pr.base_branch_name) like v.value escape {{ sei_literal('\\') }}
      )

),

unioned as (

    select * from harness
    union all select * from github
    union all select * from events
    union all select * from release_branches

)

select
    u.deployment_id,
    u.source,
    u.source_deployment_id,
    u.source_url,
    u.service,
    u.environment_name,
    u.is_tool_production,
    u.status,
    u.started_at,
    u.finished_at,
    u.commit_sha,
    u.commit_sha_prefix,
    coalesce(u.is_tool_rollback, false) as is_tool_rollback,
    coalesce(u.repository_full_name, sr.repository_full_name) as repository_full_name,
    coalesce(s.project_id, u.project_id) as project_id
from unioned as u
left join services as s
    on s.service = u.service
left join service_repo as sr
    on sr.service = u.service
