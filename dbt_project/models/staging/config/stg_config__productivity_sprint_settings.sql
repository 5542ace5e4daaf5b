with source as (

    {{ staging_source('config', 'productivity_sprint_settings', {
        'project_id': 'string',
        'grace_period_hours': 'double',
        'predictability_sprints': 'bigint',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
