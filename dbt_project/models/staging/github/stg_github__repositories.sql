with source as (

    {{ staging_source('github', 'repositories', {
        'repository': 'string',
        'scope': 'string',
        'base_url': 'string',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
    }) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['repository'], latest_by=['_dlt_load_id']) }}

),

renamed as (

    select
        repository as repository_full_name,
        {{ dbt.split_part('repository', "'/'", 1) }} as repository_owner,
        {{ dbt.split_part('repository', "'/'", 2) }} as repository_name,
        scope as source_scope,
        base_url as api_base_url,
        project_id,
        organisation_id,
        account_id,
        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
