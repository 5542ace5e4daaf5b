-- One row per incident (Jira issues of the profile's incident types, generic incidents
-- files), with the deployment it is blamed on by the window rule: the latest successful
-- production deployment of the same service that changed the live version (re-deploys of the
-- live commit excluded; baselines and rollbacks included) finished at or before the incident
-- opened, if it finished at most incident_window_hours (its service's profile) before.
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window', unique_key='incident_id',
          sei_window='opened_at') }}
with incidents as (

    select * from {{ ref('int_dora__incidents_unioned') }}

),

candidates as (

    select deployment_id, service, finished_at, incident_window_hours
    from {{ ref('int_dora__deployments') }}
    where is_production and is_success and not is_redeploy

),

latest as (

    select
        i.incident_id,
        d.deployment_id,
        d.incident_window_hours,
        {{ duration_hours('d.finished_at', 'i.opened_at') }} as hours_after,
        row_number() over (partition by i.incident_id order by d.finished_at desc, d.deployment_id desc) as nth
    from incidents as i
    join candidates as d
        on d.service = i.service and d.finished_at <= i.opened_at

),

final as (


    select
        i.incident_id,
        i.source,
        i.source_incident_id,
        i.source_url,
        i.service,
        b.tree as owning_tree,
        b.team_id,
        i.project_id,
        i.severity,
        i.title,
        i.opened_at,
        i.resolved_at,
        case when i.resolved_at >= i.opened_at then {{ duration_hours('i.opened_at', 'i.resolved_at') }} end
            as time_to_resolve_hours,
        l.deployment_id as last_deployment_id,
        l.hours_after as hours_after_last_deployment,
        case when l.hours_after <= l.incident_window_hours then l.deployment_id end as caused_by_deployment_id
    from incidents as i
    left join latest as l
        on l.incident_id = i.incident_id and l.nth = 1
    -- the owner when it was opened (bridge_incident_team), as in the team metrics
    left join {{ ref('bridge_incident_team') }} as b
        on b.incident_id = i.incident_id

)

select * from final
{{ sei_window_filter() }}
