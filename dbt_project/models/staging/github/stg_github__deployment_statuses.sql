with source as (

    {{ staging_source('github', 'deployment_statuses', {
        'id': 'bigint',
        'deployment_id': 'bigint',
        'repository': 'string',
        'state': 'string',
        'environment': 'string',
        'description': 'string',
        'creator_login': 'string',
        'target_url': 'string',
        'log_url': 'string',
        'environment_url': 'string',
        'created_at': 'timestamp',
        'updated_at': 'timestamp',
    }) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['id'], latest_by=['updated_at', '_dlt_load_id']) }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

renamed as (

    select
        s.id as deployment_status_id,
        s.deployment_id,
        s.repository as repository_full_name,
        repositories.project_id,
        repositories.organisation_id,
        repositories.account_id,
        lower(s.state) as state,
        s.environment as environment_name,
        s.description,
        s.creator_login,
        s.target_url,
        s.log_url,
        s.environment_url,
        s.created_at,
        s.updated_at,
        s._sei_deleted_at as deleted_at,
        s._sei_deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted,
        s._sei_loaded_at as loaded_at

    from deduplicated as s
    left join repositories
        on lower(s.repository) = lower(repositories.repository_full_name)

)

select * from renamed
