with source as (

    {{ staging_source('org', 'current_teams', {
        'tree': 'string',
        'team_id': 'string',
        'name': 'string',
        'parent_team_id': 'string',
        'manager_email': 'string',
        'manager_developer_id': 'string',
        'depth': 'bigint',
        'path': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select
    tree,
    team_id,
    name as team_name,
    nullif(parent_team_id, '') as parent_team_id,
    lower(manager_email) as manager_email,
    manager_developer_id,
    depth,
    path
from source
