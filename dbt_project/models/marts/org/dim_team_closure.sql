-- Every (ancestor, descendant) pair of each tree, a team being its own ancestor at depth 0.
-- Standard recursive CTE (DuckDB and PostgreSQL); the import rejects cycles, and the depth
-- bound stops a runaway all the same.
with recursive closure (tree, ancestor_team_id, descendant_team_id, depth) as (

    select tree, team_id, team_id, 0
    from {{ ref('stg_org__teams') }}

    union all

    select c.tree, c.ancestor_team_id, t.team_id, c.depth + 1
    from closure as c
    join {{ ref('stg_org__teams') }} as t
        on t.tree = c.tree and t.parent_team_id = c.descendant_team_id
    where c.depth < 100

)

select tree, ancestor_team_id, descendant_team_id, cast(depth as integer) as depth
from closure
