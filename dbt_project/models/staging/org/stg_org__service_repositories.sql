with source as (

    {{ staging_source('org', 'current_service_repositories', {
        'service': 'string',
        'repository': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select distinct service, repository as repository_full_name
from source
