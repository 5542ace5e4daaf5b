with source as (

    {{ staging_source('events', 'incidents', {
        'source_tool': 'string',
        'incident_id': 'string',
        'service': 'string',
        'environment': 'string',
        'severity': 'string',
        'title': 'string',
        'status': 'string',
        'opened_at': 'timestamp',
        'resolved_at': 'timestamp',
        'duration_seconds': 'double',
        'caused_by_deployment_id': 'string',
        'url': 'string',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
        'source_file': 'string',
        'source_line': 'bigint',
    }) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['source_tool', 'incident_id'], latest_by=['_dlt_load_id', 'source_line']) }}

),

renamed as (

    select
        {{ dbt.concat(['source_tool', "':'", 'incident_id']) }} as event_incident_key,
        source_tool,
        incident_id,
        project_id,
        organisation_id,
        account_id,
        service as service_name,
        environment as environment_name,
        severity,
        title,
        status,
        opened_at,
        resolved_at,
        duration_seconds,
        {{ duration_hours('opened_at', 'resolved_at') }} as time_to_resolve_hours,
        caused_by_deployment_id,
        url,
        source_file,
        source_line,
        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
