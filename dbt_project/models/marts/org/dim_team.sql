select
    tree,
    team_id,
    team_name as name,
    parent_team_id,
    path,
    cast(depth as integer) as depth,
    case when manager_developer_id in (select developer_id from {{ ref('stg_org__developers') }})
         then manager_developer_id end as manager_developer_id
from {{ ref('stg_org__teams') }}
