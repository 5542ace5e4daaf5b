-- Each service's efficiency scope: the nearest team scope at or above its owning team (in
-- the owning team's tree), else its project's scope, else the default.
with services as (

    select service, owning_tree, owning_team_id, project_id
    from {{ ref('stg_org__services') }}

),

scopes as (

    select * from {{ ref('int_dora__efficiency_scopes') }}

),

team_match as (

    select s.service, sc.scope_key,
           row_number() over (partition by s.service order by c.depth) as nearest
    from services as s
    join {{ ref('dim_team_closure') }} as c
        on c.tree = s.owning_tree and c.descendant_team_id = s.owning_team_id
    join scopes as sc
        on sc.scope_type = 'team' and sc.tree = c.tree and sc.team_id = c.ancestor_team_id

)

select
    s.service,
    s.owning_tree,
    s.owning_team_id,
    s.project_id,
    coalesce(t.scope_key, p.scope_key, 'default') as scope_key
from services as s
left join team_match as t
    on t.service = s.service and t.nearest = 1
left join scopes as p
    on p.scope_type = 'project' and p.project_id = s.project_id
