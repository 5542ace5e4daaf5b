-- Deployment -> the team that owns its service (services file), in the owning team's tree:
-- one row per deployment with a known service. Deployments follow the service, not the
-- person who pressed the button (DESIGN.md §3). Ownership is the latest org import's.
select
    d.deployment_id,
    sc.owning_tree as tree,
    sc.owning_team_id as team_id,
    d.service,
    coalesce(d.finished_at, d.started_at) as event_at
from {{ ref('int_dora__deployments') }} as d
join {{ ref('int_dora__service_scopes') }} as sc
    on sc.service = d.service
where sc.owning_team_id is not null
