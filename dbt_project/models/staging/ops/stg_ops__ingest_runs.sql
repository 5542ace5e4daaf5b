with source as (

    {{ staging_source('ops', 'ingest_runs', {
        'run_id': 'string',
        'source': 'string',
        'started_at': 'timestamp',
        'finished_at': 'timestamp',
        'status': 'string',
        'duration_s': 'double',
        'error_message': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['run_id', 'source'], latest_by=['finished_at']) }}

),

renamed as (

    select
        run_id as ingest_run_id,
        source as source_name,
        status,
        started_at,
        finished_at,
        duration_s as duration_seconds,
        {{ duration_hours('started_at', 'finished_at') }} as duration_hours,
        error_message

    from deduplicated

)

select * from renamed
