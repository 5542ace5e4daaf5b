with source as (

    {{ staging_source('config', 'productivity_status_categories', {
        'project_id': 'string',
        'status_name': 'string',
        'category': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
