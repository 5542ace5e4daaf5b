with source as (

    {{ staging_source('jira', 'sprints', {
        'id': 'bigint',
        'board_id': 'bigint',
        'origin_board_id': 'bigint',
        'name': 'string',
        'state': 'string',
        'goal': 'string',
        'scope': 'string',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
        'start_at': 'timestamp',
        'end_at': 'timestamp',
        'complete_at': 'timestamp',
        'created_at': 'timestamp',
    }) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['id'], latest_by=['_dlt_load_id']) }}

),

renamed as (

    select
        id as sprint_id,
        board_id,
        origin_board_id,
        name as sprint_name,
        lower(state) as state,
        goal,
        scope as source_scope,
        project_id,
        organisation_id,
        account_id,
        created_at,
        start_at as started_at,
        end_at as planned_end_at,
        complete_at as completed_at,
        {{ duration_hours('start_at', 'end_at') }} as planned_length_hours,
        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
