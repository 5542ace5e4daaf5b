-- One row per deployment of any source and environment, with the efficiency profile's
-- rules applied (int_dora__deployments) and, for finished production deployments:
--   is_hotfix: it shipped a PR carrying a hotfix label or from a hotfix branch;
--   is_failure / failure_reason (the first that applies, a deployment counts once):
--     failed_status  its status is one of failed_statuses;
--     incident       an incident is blamed on it (fct_incidents' window rule);
--     rolled_back    a rollback replaced it (count_rollbacks on);
--     hotfix         a hotfix deployment replaced it;
--     re-deploys of the live commit fail only by their status;
--   restored_at / recovery_hours (failures only): the latest resolution among the incidents
--     it caused (null while one is open); without incidents, the next successful production
--     deployment of the service (a fix, or the rollback).
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window', unique_key='deployment_id',
          sei_window='coalesce(finished_at, started_at)') }}
with deployments as (

    select * from {{ ref('int_dora__deployments') }}

),

vals as (

    select * from {{ ref('int_dora__efficiency_values') }}

),

hotfix as (

    select distinct c.deployment_id
    from {{ ref('int_dora__deployment_commits') }} as c
    join deployments as d
        on d.deployment_id = c.deployment_id
    join {{ ref('stg_github__pull_requests') }} as pr
        on pr.pull_request_id = c.pull_request_id
    where exists (select 1 from vals as v
                  where v.scope_key = d.scope_key and v.list_name = 'hotfix_branch'
                    and lower(pr.head_branch_name) like v.value escape {{ sei_literal('\\') }})
       or exists (select 1 from {{ ref('stg_github__pull_request_labels') }} as l
                  join vals as v
                      on v.scope_key = d.scope_key and v.list_name = 'hotfix_label' and v.value = lower(l.label_name)
                  where l.pull_request_id = pr.pull_request_id and not l.is_deleted)

),

flagged as (

    select d.*, h.deployment_id is not null as is_hotfix
    from deployments as d
    left join hotfix as h
        on h.deployment_id = d.deployment_id

),

replaced_by_rollback as (

    select distinct live_deployment_id as deployment_id
    from flagged
    where is_production and is_success and is_rollback and count_rollbacks and live_deployment_id is not null

),

replaced_by_hotfix as (

    select distinct live_deployment_id as deployment_id
    from flagged
    where is_production and is_success and is_hotfix and live_deployment_id is not null

),

caused as (

    select
        caused_by_deployment_id as deployment_id,
        count(*) as incidents,
        max(resolved_at) as last_resolved_at,
        count(*) - count(resolved_at) as open_incidents
    from {{ ref('fct_incidents') }}
    where caused_by_deployment_id is not null
    group by caused_by_deployment_id

),

failures as (

    select
        f.*,
        coalesce(c.incidents, 0) as caused_incident_count,
        case
            when not (f.is_production and f.is_finished) then null
            when f.is_failed_status then 'failed_status'
            when f.is_redeploy then null
            when c.deployment_id is not null then 'incident'
            when rb.deployment_id is not null then 'rolled_back'
            when hf.deployment_id is not null then 'hotfix'
        end as failure_reason,
        case
            when c.deployment_id is not null then case when c.open_incidents = 0 then c.last_resolved_at end
            else f.next_success_finished_at
        end as restoration_at
    from flagged as f
    left join replaced_by_rollback as rb
        on rb.deployment_id = f.deployment_id
    left join replaced_by_hotfix as hf
        on hf.deployment_id = f.deployment_id
    left join caused as c
        on c.deployment_id = f.deployment_id

),

final as (


    select
        f.deployment_id,
        source,
        source_deployment_id,
        source_url,
        f.service,
        b.tree as owning_tree,
        b.team_id,
        f.project_id,
        scope_key as efficiency_scope,
        environment_name,
        is_production,
        status,
        is_finished,
        started_at,
        finished_at,
        case when finished_at >= started_at then {{ duration_hours('started_at', 'finished_at') }} end as duration_hours,
        repository_full_name,
        commit_sha,
        commit_position,
        live_deployment_id as replaced_deployment_id,
        is_baseline,
        is_redeploy,
        is_rollback,
        is_hotfix,
        is_production and is_finished and (is_rollback or is_hotfix) as is_rework,
        failure_reason is not null as is_failure,
        failure_reason,
        caused_incident_count,
        case when failure_reason is not null and restoration_at >= finished_at then restoration_at end as restored_at,
        case when failure_reason is not null and restoration_at >= finished_at
             then {{ duration_hours('finished_at', 'restoration_at') }} end as recovery_hours
    from failures as f
    -- the owner when it happened (bridge_deployment_team), as in the team metrics; a service
    -- that changed hands keeps its past deployments on the old team
    left join {{ ref('bridge_deployment_team') }} as b
        on b.deployment_id = f.deployment_id

)

select * from final
{{ sei_window_filter() }}
