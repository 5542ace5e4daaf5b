with source as (

    {{ staging_source('org', 'current_services', {
        'service': 'string',
        'owning_tree': 'string',
        'owning_team_id': 'string',
        'project_id': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select service, owning_tree, owning_team_id, project_id
from source
