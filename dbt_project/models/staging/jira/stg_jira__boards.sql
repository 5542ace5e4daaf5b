with source as (

    {{ staging_source('jira', 'boards', {
        'id': 'bigint',
        'name': 'string',
        'type': 'string',
        'project_key': 'string',
        'project_jira_id': 'string',
        'location_name': 'string',
        'scope': 'string',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
    }) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['id'], latest_by=['_dlt_load_id']) }}

),

renamed as (

    select
        id as board_id,
        name as board_name,
        type as board_type,
        project_key as jira_project_key,
        project_jira_id as jira_project_id,
        location_name,
        scope as source_scope,
        project_id,
        organisation_id,
        account_id,
        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
