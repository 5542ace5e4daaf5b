with source as (

    {{ staging_source('config', 'efficiency_values', {
        'scope_key': 'string',
        'list_name': 'string',
        'value': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
