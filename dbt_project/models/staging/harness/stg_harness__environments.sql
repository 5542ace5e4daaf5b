with source as (

    {{ staging_source('harness', 'environments', {
        'harness_account_id': 'string',
        'org_identifier': 'string',
        'project_identifier': 'string',
        'identifier': 'string',
        'name': 'string',
        'type': 'string',
        'is_production': 'boolean',
        'description': 'string',
        'color': 'string',
        'tags': 'string',
        'deleted': 'boolean',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
        'created_at': 'timestamp',
        'last_modified_at': 'timestamp',
    }) }}

),

deduplicated as (

    {{ deduplicate('source',
                   partition_by=['harness_account_id', 'org_identifier', 'project_identifier', 'identifier'],
                   latest_by=['last_modified_at', '_dlt_load_id']) }}

),

renamed as (

    select
        {{ dbt.concat(['org_identifier', "'/'", 'project_identifier', "'/'", 'identifier']) }} as harness_environment_key,
        harness_account_id,
        org_identifier as harness_org_identifier,
        project_identifier as harness_project_identifier,
        identifier as environment_identifier,
        name as environment_name,
        type as environment_type,
        coalesce(is_production, type = 'Production') as is_production,
        description,
        color,
        tags,
        project_id,
        organisation_id,
        account_id,
        created_at,
        last_modified_at as updated_at,
        _sei_deleted_at as deleted_at,
        coalesce(deleted, false) or _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
