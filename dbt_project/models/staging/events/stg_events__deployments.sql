with source as (

    {{ staging_source('events', 'deployments', {
        'source_tool': 'string',
        'deployment_id': 'string',
        'service': 'string',
        'environment': 'string',
        'environment_type': 'string',
        'is_production': 'boolean',
        'status': 'string',
        'started_at': 'timestamp',
        'finished_at': 'timestamp',
        'duration_seconds': 'double',
        'commit_sha': 'string',
        'commit_sha_prefix': 'string',
        'is_rollback': 'boolean',
        'repository': 'string',
        'version': 'string',
        'url': 'string',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
        'source_file': 'string',
        'source_line': 'bigint',
    }) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['source_tool', 'deployment_id'], latest_by=['_dlt_load_id', 'source_line']) }}

),

renamed as (

    select
        {{ dbt.concat(['source_tool', "':'", 'deployment_id']) }} as event_deployment_key,
        source_tool,
        deployment_id,
        project_id,
        organisation_id,
        account_id,
        service as service_name,
        environment as environment_name,
        environment_type,
        coalesce(is_production, environment_type = 'production') as is_production,
        status,
        started_at,
        finished_at,
        duration_seconds,
        {{ duration_hours('started_at', 'finished_at') }} as deployment_duration_hours,
        lower(commit_sha) as commit_sha,
        lower(commit_sha_prefix) as commit_sha_prefix,
        coalesce(is_rollback, false) as is_rollback,
        repository as repository_full_name,
        version,
        url,
        source_file,
        source_line,
        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
