with source as (

    {{ staging_source('github', 'deployments', {
        'id': 'bigint',
        'node_id': 'string',
        'repository': 'string',
        'sha': 'string',
        'ref': 'string',
        'task': 'string',
        'environment': 'string',
        'original_environment': 'string',
        'production_environment': 'boolean',
        'transient_environment': 'boolean',
        'description': 'string',
        'creator_login': 'string',
        'payload': 'string',
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
        d.id as deployment_id,
        d.node_id as deployment_node_id,
        d.repository as repository_full_name,
        repositories.project_id,
        repositories.organisation_id,
        repositories.account_id,
        d.sha as commit_sha,
        d.ref,
        d.task,
        d.environment as environment_name,
        d.original_environment as original_environment_name,
        d.production_environment as is_production_environment,
        d.transient_environment as is_transient_environment,
        d.description,
        d.creator_login,
        d.payload,
        d.created_at,
        d.updated_at,
        d._sei_deleted_at as deleted_at,
        d._sei_deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted,
        d._sei_loaded_at as loaded_at

    from deduplicated as d
    left join repositories
        on lower(d.repository) = lower(repositories.repository_full_name)

)

select * from renamed
