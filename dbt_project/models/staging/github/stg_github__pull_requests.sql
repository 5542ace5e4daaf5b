{#- A table kept by load, not a view: millions of raw rows (macros/incremental/sei_loads.sql) -#}
{{ config(materialized=sei_incremental(), incremental_strategy='sei_loads', unique_key='pull_request_id') }}

with source as (

    {{ staging_source('github', 'pull_requests', {
        'id': 'string',
        'database_id': 'bigint',
        'repository': 'string',
        'number': 'bigint',
        'title': 'string',
        'body': 'string',
        'url': 'string',
        'state': 'string',
        'is_draft': 'boolean',
        'author_login': 'string',
        'author_type': 'string',
        'is_bot_author': 'boolean',
        'base_ref_name': 'string',
        'head_ref_name': 'string',
        'merge_commit_sha': 'string',
        'additions': 'bigint',
        'deletions': 'bigint',
        'changed_files': 'bigint',
        'total_comments_count': 'bigint',
        'labels_count': 'bigint',
        'commits_count': 'bigint',
        'reviews_count': 'bigint',
        'first_commit_sha': 'string',
        'first_commit_authored_at': 'timestamp',
        'first_commit_committed_at': 'timestamp',
        'last_commit_sha': 'string',
        'last_commit_authored_at': 'timestamp',
        'last_commit_committed_at': 'timestamp',
        'ready_for_review_at': 'timestamp',
        'first_review_at': 'timestamp',
        'commits_after_first_review': 'bigint',
        'commits_after_first_review_exact': 'boolean',
        'created_at': 'timestamp',
        'updated_at': 'timestamp',
        'merged_at': 'timestamp',
        'closed_at': 'timestamp',
    }) }}

),

new_loads as (

    select * from source where {{ sei_new_loads() }}

),

deduplicated as (

    {{ deduplicate('new_loads', partition_by=['id'], latest_by=['updated_at', '_dlt_load_id']) }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

renamed as (

    select
        -- ids
        pr.id as pull_request_id,
        pr.database_id as pull_request_database_id,
        pr.repository as repository_full_name,
        pr.number as pull_request_number,

        -- scope
        repositories.project_id,
        repositories.organisation_id,
        repositories.account_id,

        -- what it is
        pr.title,
        pr.body,
        pr.url,
        lower(pr.state) as state,
        pr.is_draft,
        pr.merged_at is not null as is_merged,
        pr.author_login,
        pr.author_type,
        coalesce(pr.is_bot_author, pr.author_type = 'Bot') as is_bot_author,
        pr.base_ref_name as base_branch_name,
        pr.head_ref_name as head_branch_name,
        pr.merge_commit_sha,

        -- size and activity
        pr.additions,
        pr.deletions,
        pr.changed_files,
        pr.total_comments_count as comments_count,
        pr.labels_count,
        pr.commits_count,
        pr.reviews_count,
        pr.commits_after_first_review,
        pr.commits_after_first_review_exact as is_commits_after_first_review_exact,

        -- commits
        pr.first_commit_sha,
        pr.first_commit_authored_at,
        pr.first_commit_committed_at,
        pr.last_commit_sha,
        pr.last_commit_authored_at,
        pr.last_commit_committed_at,

        -- timestamps (UTC)
        pr.created_at,
        pr.updated_at,
        pr.ready_for_review_at,
        pr.first_review_at,
        pr.merged_at,
        pr.closed_at,

        -- row-level durations (hours, exact)
        {{ duration_hours('pr.created_at', 'pr.merged_at') }} as open_to_merge_hours,
        {{ duration_hours('pr.created_at', 'pr.closed_at') }} as open_to_close_hours,

        -- soft delete and load
        pr._sei_deleted_at as deleted_at,
        pr._sei_deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted,
        pr._sei_loaded_at as loaded_at

    from deduplicated as pr
    left join repositories
        on lower(pr.repository) = lower(repositories.repository_full_name)

)

select * from renamed
