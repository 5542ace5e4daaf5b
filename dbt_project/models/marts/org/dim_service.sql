-- One row per (service, repository); a service without repositories has one row with a null repository.
select
    s.service,
    s.owning_tree,
    s.owning_team_id,
    s.project_id,
    r.repository_full_name
from {{ ref('stg_org__services') }} as s
left join {{ ref('stg_org__service_repositories') }} as r
    on r.service = s.service
