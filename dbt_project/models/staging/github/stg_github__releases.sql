with source as (

    {{ staging_source('github', 'releases', {
        'id': 'bigint',
        'repository': 'string',
        'tag_name': 'string',
        'name': 'string',
        'target_commitish': 'string',
        'draft': 'boolean',
        'prerelease': 'boolean',
        'author_login': 'string',
        'url': 'string',
        'body': 'string',
        'created_at': 'timestamp',
        'published_at': 'timestamp',
    }) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['id'], latest_by=['_dlt_load_id']) }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

renamed as (

    select
        r.id as release_id,
        r.repository as repository_full_name,
        repositories.project_id,
        repositories.organisation_id,
        repositories.account_id,
        r.tag_name,
        r.name as release_name,
        r.target_commitish,
        r.draft as is_draft,
        r.prerelease as is_prerelease,
        r.author_login,
        r.url,
        r.body,
        r.created_at,
        r.published_at,
        r._sei_deleted_at as deleted_at,
        r._sei_deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted,
        r._sei_loaded_at as loaded_at

    from deduplicated as r
    left join repositories
        on lower(r.repository) = lower(repositories.repository_full_name)

)

select * from renamed
