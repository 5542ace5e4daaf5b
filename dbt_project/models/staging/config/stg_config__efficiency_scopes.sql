with source as (

    {{ staging_source('config', 'efficiency_scopes', {
        'scope_key': 'string',
        'scope_type': 'string',
        'project_id': 'string',
        'tree': 'string',
        'team_id': 'string',
        'use_tool_production_flag': 'boolean',
        'count_rollbacks': 'boolean',
        'incident_window_hours': 'double',
        'lead_time_start': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
