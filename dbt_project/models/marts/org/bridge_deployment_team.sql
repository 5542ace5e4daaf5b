-- Deployment -> the team that owned its service when it happened (finished, else started),
-- in the owning team's tree: one row per deployment with a known service and owner.
-- Deployments follow the service, not the person who pressed the button (DESIGN.md §3);
-- ownership is effective-dated by the org imports (stg_org__service_ownership).
with deployments as (

    select deployment_id, service, project_id, coalesce(finished_at, started_at) as event_at
    from {{ ref('int_dora__deployments') }}
    where service is not null

)

select
    d.deployment_id,
    o.owning_tree as tree,
    o.owning_team_id as team_id,
    d.service,
    d.project_id,
    d.event_at
from deployments as d
join {{ ref('stg_org__service_ownership') }} as o
    on o.service = d.service
   and {{ effective_at('d.event_at', 'o.valid_from', 'o.valid_to') }}
where o.owning_team_id is not null
