-- Deployments with the efficiency profile's rules applied and their place in their
-- service's production sequence.
--
-- is_production: the source is listed in the profile's deployments.sources and the
--   environment is production (its name listed in production_environments, or the tool says
--   so and use_tool_production_flag is on).
-- is_finished: success, or a status listed in failed_statuses, with a finish time; other
--   states (in progress, queued, ...) count nowhere yet.
-- commit_position: the deployed commit's place on the default branch's first-parent chain
--   (int_dora__default_branch_history; by SHA prefix when the tool gives only a prefix);
--   null when unknown (no commit, or not on the chain).
-- Per service, finished production deployments in order of finish (then id):
--   live_position: the commit of the latest earlier successful production deployment with a
--     known commit, i.e. what was live when this one finished; live_deployment_id: the
--     deployment that made that commit live (the first of a run of deployments of it);
--   is_baseline: successful, commit known, nothing known live before it (the first
--     deployment seen: its change set would be all of history, so it ships nothing countable);
--   is_redeploy: successful and deploys the live commit again (neither a change nor a failure);
--   is_rollback: the tool says so, or it deploys an older commit than the live one.
with deployments as (

    select d.*, sc.scope_key, sc.owning_tree, sc.owning_team_id
    from {{ ref('int_dora__deployments_unioned') }} as d
    left join {{ ref('int_dora__service_scopes') }} as sc
        on sc.service = d.service

),

scopes as (

    select * from {{ ref('int_dora__efficiency_scopes') }}

),

vals as (

    select * from {{ ref('int_dora__efficiency_values') }}

),

history as (

    select * from {{ ref('int_dora__default_branch_history') }}

),

classified as (

    select
        d.*,
        exists (select 1 from vals as v
                where v.scope_key = coalesce(d.scope_key, 'default') and v.list_name = 'source' and v.value = d.source)
            as is_counted_source,
        (exists (select 1 from vals as v
                 where v.scope_key = coalesce(d.scope_key, 'default') and v.list_name = 'production_environment'
                   and v.value = lower(d.environment_name))
         or (s.use_tool_production_flag and d.is_tool_production)) as is_production_environment,
        exists (select 1 from vals as v
                where v.scope_key = coalesce(d.scope_key, 'default') and v.list_name = 'failed_status'
                  and v.value = d.status) as is_failed_status,
        s.count_rollbacks,
        s.incident_window_hours
    from deployments as d
    left join scopes as s
        on s.scope_key = coalesce(d.scope_key, 'default')

),

positioned as (

    select
        c.*,
        coalesce(exact.commit_sha, prefixed.commit_sha) as resolved_commit_sha,
        coalesce(exact.position, prefixed.position) as commit_position,
        c.is_counted_source and c.is_production_environment and c.service is not null as is_production,
        c.finished_at is not null and (c.status = 'success' or c.is_failed_status) as is_finished,
        c.finished_at is not null and c.status = 'success' as is_success
    from classified as c
    left join history as exact
        on lower(exact.repository_full_name) = lower(c.repository_full_name) and exact.commit_sha = c.commit_sha
    left join history as prefixed
        on c.commit_sha is null and c.commit_sha_prefix is not null
       and lower(prefixed.repository_full_name) = lower(c.repository_full_name)
       and substr(prefixed.commit_sha, 1, length(c.commit_sha_prefix)) = c.commit_sha_prefix

),

production as (

    select * from positioned where is_production and is_finished

),

known as (

    -- successful deployments with a known commit, in order; a run of the same commit is one
    -- version, made live by the run's first deployment
    select
        service, deployment_id, finished_at, commit_position,
        row_number() over (partition by service order by finished_at, deployment_id) as known_index,
        coalesce(commit_position <> lag(commit_position) over (partition by service order by finished_at, deployment_id),
                 true) as is_new_version
    from production
    where is_success and commit_position is not null

),

versions as (

    select
        k.*,
        sum(case when is_new_version then 1 else 0 end) over (
            partition by service order by finished_at, deployment_id rows between unbounded preceding and current row
        ) as version_no
    from known as k

),

origins as (

    select v.*,
           first_value(deployment_id) over (partition by service, version_no order by finished_at, deployment_id
                                            rows between unbounded preceding and unbounded following) as origin_deployment_id
    from versions as v

),

ordered as (

    select
        p.deployment_id,
        p.service,
        -- known-commit successful deployments before this one: the index of the live one
        coalesce(sum(case when is_success and commit_position is not null then 1 else 0 end) over (
            partition by service order by finished_at, deployment_id
            rows between unbounded preceding and 1 preceding), 0) as live_index,
        -- the next successful production deployment's finish (recovery of a failure)
        min(case when is_success then finished_at end) over (
            partition by service order by finished_at, deployment_id
            rows between 1 following and unbounded following) as next_success_finished_at
    from production as p

),

sequenced as (

    select
        o.deployment_id,
        o.next_success_finished_at,
        live.origin_deployment_id as live_deployment_id,
        live.commit_position as live_position
    from ordered as o
    left join origins as live
        on live.service = o.service and live.known_index = o.live_index

)

select
    p.deployment_id,
    p.source,
    p.source_deployment_id,
    p.source_url,
    p.service,
    p.owning_tree,
    p.owning_team_id,
    p.project_id,
    coalesce(p.scope_key, 'default') as scope_key,
    p.environment_name,
    p.is_production,
    p.status,
    p.is_finished,
    p.is_success,
    p.is_failed_status,
    p.started_at,
    p.finished_at,
    p.repository_full_name,
    coalesce(p.resolved_commit_sha, p.commit_sha) as commit_sha,
    p.commit_position,
    s.live_deployment_id,
    s.live_position,
    s.next_success_finished_at,
    coalesce(p.is_production and p.is_success and p.commit_position is not null and s.live_deployment_id is null, false)
        as is_baseline,
    coalesce(p.is_production and p.is_success and p.commit_position = s.live_position, false) as is_redeploy,
    coalesce(p.is_production and (p.is_tool_rollback or p.commit_position < s.live_position), false) as is_rollback,
    p.count_rollbacks,
    p.incident_window_hours
from positioned as p
left join sequenced as s
    on s.deployment_id = p.deployment_id
