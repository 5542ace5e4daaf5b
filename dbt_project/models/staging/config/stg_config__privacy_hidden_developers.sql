with source as (

    {{ staging_source('config', 'privacy_hidden_developers', {
        'developer_id': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
