with source as (

    {{ staging_source('config', 'alignment_settings', {
        'project_id': 'string',
        'effort': 'string',
        'uncategorized_name': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
