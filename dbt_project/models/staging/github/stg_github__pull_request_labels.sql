{#- Labels are a dlt nested table of pull_requests (`_dlt_root_id` = the PR row's
    `_dlt_id`); one row per (pull request, label). -#}
with labels as (

    {{ staging_source('github', 'pull_requests__labels', {
        'name': 'string',
        '_dlt_root_id': 'string',
        '_dlt_list_idx': 'bigint',
    }, soft_delete=false, dlt_load_id=false) }}

),

pull_requests as (

    {{ staging_source('github', 'pull_requests', {
        '_dlt_id': 'string',
        'id': 'string',
        'repository': 'string',
        'updated_at': 'timestamp',
    }) }}

),

joined as (

    select
        pull_requests.id as pull_request_id,
        pull_requests.repository,
        labels.name as label_name,
        labels._dlt_list_idx as label_index,
        pull_requests.updated_at as pull_request_updated_at,
        pull_requests._dlt_load_id,
        pull_requests._sei_loaded_at,
        pull_requests._sei_deleted_at
    from labels
    inner join pull_requests
        on labels._dlt_root_id = pull_requests._dlt_id

),

deduplicated as (

    {{ deduplicate('joined', partition_by=['pull_request_id', 'label_name'],
                   latest_by=['pull_request_updated_at', '_dlt_load_id']) }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

renamed as (

    select
        l.pull_request_id,
        l.repository as repository_full_name,
        repositories.project_id,
        repositories.organisation_id,
        repositories.account_id,
        l.label_name,
        l.label_index,
        l._sei_deleted_at as deleted_at,
        l._sei_deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted,
        l._sei_loaded_at as loaded_at

    from deduplicated as l
    left join repositories
        on lower(l.repository) = lower(repositories.repository_full_name)

)

select * from renamed
