{#- Reviews are a dlt nested table of pull_requests: each row points at its PR row
    through `_dlt_root_id` = the PR's `_dlt_id`, and dlt replaces a PR's reviews whenever
    the PR is merged again. The PR's latest row gives the repository, its author (to flag
    self-reviews) and the load time.
    A table kept by load (macros/incremental/sei_loads.sql): a window build takes the reviews
    of the PRs loaded since, and replaces all reviews of those PRs. GitHub never deletes a
    submitted review (a dismissed one stays, in state DISMISSED), so a PR's reviews are
    replaced by a set that holds them all. -#}
{{ config(materialized=sei_incremental(), incremental_strategy='sei_loads', unique_key='pull_request_id') }}
with reviews as (

    {{ staging_source('github', 'pull_requests__reviews', {
        'id': 'string',
        'database_id': 'bigint',
        'pull_request_id': 'string',
        'author_login': 'string',
        'author_type': 'string',
        'state': 'string',
        'submitted_at': 'timestamp',
        'created_at': 'timestamp',
        '_dlt_root_id': 'string',
        '_dlt_list_idx': 'bigint',
    }, soft_delete=false, dlt_load_id=false) }}

),

pull_requests as (

    {{ staging_source('github', 'pull_requests', {
        '_dlt_id': 'string',
        'id': 'string',
        'repository': 'string',
        'author_login': 'string',
        'updated_at': 'timestamp',
    }) }}

),

new_loads as (

    select * from pull_requests where {{ sei_new_loads() }}

),

joined as (

    select
        reviews.*,
        pull_requests.id as parent_pull_request_id,
        pull_requests.repository,
        pull_requests.author_login as pull_request_author_login,
        pull_requests.updated_at as pull_request_updated_at,
        pull_requests._dlt_load_id,
        pull_requests._sei_loaded_at,
        pull_requests._sei_deleted_at
    from reviews
    inner join new_loads as pull_requests
        on reviews._dlt_root_id = pull_requests._dlt_id

),

deduplicated as (

    {{ deduplicate('joined', partition_by=['id'], latest_by=['pull_request_updated_at', '_dlt_load_id']) }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

renamed as (

    select
        r.id as review_id,
        r.database_id as review_database_id,
        coalesce(r.pull_request_id, r.parent_pull_request_id) as pull_request_id,
        r.repository as repository_full_name,
        repositories.project_id,
        repositories.organisation_id,
        repositories.account_id,
        r._dlt_list_idx as review_index,
        r.author_login as reviewer_login,
        r.author_type as reviewer_type,
        r.author_type = 'Bot' as is_bot_reviewer,
        r.author_login is not null and r.author_login = r.pull_request_author_login as is_self_review,
        lower(r.state) as state,
        r.submitted_at,
        r.created_at,
        r._sei_deleted_at as deleted_at,
        r._sei_deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted,
        r._sei_loaded_at as loaded_at

    from deduplicated as r
    left join repositories
        on lower(r.repository) = lower(repositories.repository_full_name)

)

select * from renamed
