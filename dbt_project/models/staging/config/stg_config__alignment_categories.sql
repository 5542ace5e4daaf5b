with source as (

    {{ staging_source('config', 'alignment_categories', {
        'project_id': 'string',
        'category': 'string',
        'category_rank': 'bigint',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
