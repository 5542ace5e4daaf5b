with source as (

    {{ staging_source('ops', 'ingest_resources', {
        'run_id': 'string',
        'source': 'string',
        'resource': 'string',
        'status': 'string',
        'rows': 'bigint',
        'requests': 'bigint',
        'retries': 'bigint',
        'wait_seconds': 'double',
        'ratelimit_waits': 'bigint',
        'min_ratelimit_remaining': 'bigint',
        'error_message': 'string',
        'cursor_value': 'string',
        'started_at': 'timestamp',
        'finished_at': 'timestamp',
    }, soft_delete=false, dlt_load_id=false) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['run_id', 'source', 'resource'], latest_by=['finished_at']) }}

),

renamed as (

    select
        run_id as ingest_run_id,
        source as source_name,
        resource as resource_name,
        status,
        {{ adapter.quote('rows') }} as rows_loaded,
        requests as request_count,
        retries as retry_count,
        wait_seconds,
        ratelimit_waits as rate_limit_wait_count,
        min_ratelimit_remaining,
        error_message,
        cursor_value,
        started_at,
        finished_at

    from deduplicated

)

select * from renamed
