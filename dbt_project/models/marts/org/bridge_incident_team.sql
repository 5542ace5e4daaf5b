-- Incident -> the team that owned its service when it was opened, in the owning team's
-- tree (ownership effective-dated by the org imports: stg_org__service_ownership).
with incidents as (

    select incident_id, service, project_id, opened_at as event_at
    from {{ ref('int_dora__incidents_unioned') }}
    where service is not null

)

select
    i.incident_id,
    o.owning_tree as tree,
    o.owning_team_id as team_id,
    i.service,
    i.project_id,
    i.event_at
from incidents as i
join {{ ref('stg_org__service_ownership') }} as o
    on o.service = i.service
   and {{ effective_at('i.event_at', 'o.valid_from', 'o.valid_to') }}
where o.owning_team_id is not null
