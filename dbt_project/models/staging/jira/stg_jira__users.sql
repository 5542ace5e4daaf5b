with source as (

    {{ staging_source('jira', 'users', {
        'jira_account_id': 'string',
        'display_name': 'string',
        'email_address': 'string',
        'account_type': 'string',
        'active': 'boolean',
        'time_zone': 'string',
        'user_name': 'string',
        'scope': 'string',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
    }) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['jira_account_id'], latest_by=['_dlt_load_id']) }}

),

renamed as (

    select
        jira_account_id,
        display_name,
        lower(email_address) as email,
        account_type,
        account_type = 'app' as is_bot,
        active as is_active,
        time_zone,
        user_name,
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
