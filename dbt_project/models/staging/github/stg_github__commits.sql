{#- A table kept by load, not a view: millions of raw rows (macros/incremental/sei_loads.sql) -#}
{{ config(materialized=sei_incremental(), incremental_strategy='sei_loads', unique_key=['repository_full_name', 'commit_sha']) }}

with source as (

    {{ staging_source('github', 'commits', {
        'repository': 'string',
        'sha': 'string',
        'branch': 'string',
        'first_parent_sha': 'string',
        'parent_count': 'bigint',
        'authored_at': 'timestamp',
        'committed_at': 'timestamp',
        'author_name': 'string',
        'author_email': 'string',
        'author_login': 'string',
        'committer_name': 'string',
        'committer_email': 'string',
        'committer_login': 'string',
        'message': 'string',
    }) }}

),

new_loads as (

    select * from source where {{ sei_new_loads() }}

),

deduplicated as (

    {{ deduplicate('new_loads', partition_by=['repository', 'sha'], latest_by=['_dlt_load_id']) }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

renamed as (

    select
        c.repository as repository_full_name,
        c.sha as commit_sha,
        repositories.project_id,
        repositories.organisation_id,
        repositories.account_id,
        c.branch as branch_name,
        c.first_parent_sha,
        c.parent_count,
        coalesce(c.parent_count, 0) > 1 as is_merge_commit,
        c.authored_at,
        c.committed_at,
        c.author_name,
        lower(c.author_email) as author_email,
        c.author_login,
        c.committer_name,
        lower(c.committer_email) as committer_email,
        c.committer_login,
        c.message,
        c._sei_deleted_at as deleted_at,
        c._sei_deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted,
        c._sei_loaded_at as loaded_at

    from deduplicated as c
    left join repositories
        on lower(c.repository) = lower(repositories.repository_full_name)

)

select * from renamed
