with source as (

    {{ staging_source('org', 'current_service_harness_ids', {
        'service': 'string',
        'harness_service_id': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select distinct service, harness_service_id
from source
