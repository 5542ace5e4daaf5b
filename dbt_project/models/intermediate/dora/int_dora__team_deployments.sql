-- Finished production deployments per team, through the service's owning team
-- (bridge_deployment_team): the team alone (includes_subteams false) and every ancestor in
-- its tree (includes_subteams true, the team itself included). Each deployment appears once
-- per (tree, team, includes_subteams).
with deployments as (

    select b.tree, b.team_id, f.*
    from {{ ref('int_dora__service_facts') }} as f
    join {{ ref('bridge_deployment_team') }} as b
        on b.deployment_id = f.deployment_id

)

select distinct tree, team_id, false as includes_subteams, deployment_id, finished_at, is_success, is_failure,
       is_rework, recovery_hours
from deployments

union all

select distinct c.tree, c.ancestor_team_id as team_id, true as includes_subteams, d.deployment_id, d.finished_at,
       d.is_success, d.is_failure, d.is_rework, d.recovery_hours
from deployments as d
join {{ ref('dim_team_closure') }} as c
    on c.tree = d.tree and c.descendant_team_id = d.team_id
