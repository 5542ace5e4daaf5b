with source as (

    {{ staging_source('config', 'privacy_settings', {
        'per_person_metrics': 'boolean',
        'retention_months': 'bigint',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
