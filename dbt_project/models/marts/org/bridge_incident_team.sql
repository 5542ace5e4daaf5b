-- Incident -> the team that owns its service (services file), in the owning team's tree:
-- one row per incident with a known service. Ownership is the latest org import's.
select
    i.incident_id,
    sc.owning_tree as tree,
    sc.owning_team_id as team_id,
    i.service,
    i.opened_at as event_at
from {{ ref('int_dora__incidents_unioned') }} as i
join {{ ref('int_dora__service_scopes') }} as sc
    on sc.service = i.service
where sc.owning_team_id is not null
