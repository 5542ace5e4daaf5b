with source as (

    {{ staging_source('config', 'goals', {
        'goal_id': 'string',
        'goal_name': 'string',
        'tree': 'string',
        'team_id': 'string',
        'include_subteams': 'boolean',
        'metric': 'string',
        'period': 'string',
        'direction': 'string',
        'target': 'double',
        'warning': 'double',
        'critical': 'double',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
