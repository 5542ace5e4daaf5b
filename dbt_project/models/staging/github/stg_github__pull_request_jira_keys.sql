with source as (

    {{ staging_source('github', 'pull_request_jira_keys', {
        'pull_request_id': 'string',
        'repository': 'string',
        'number': 'bigint',
        'jira_key': 'string',
        'found_in': 'string',
        'updated_at': 'timestamp',
    }) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['pull_request_id', 'jira_key'], latest_by=['updated_at', '_dlt_load_id']) }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

renamed as (

    select
        k.pull_request_id,
        k.repository as repository_full_name,
        k.number as pull_request_number,
        repositories.project_id,
        repositories.organisation_id,
        repositories.account_id,
        upper(k.jira_key) as jira_issue_key,
        {{ dbt.split_part('upper(k.jira_key)', "'-'", 1) }} as jira_project_key,
        k.found_in,
        k.updated_at as pull_request_updated_at,
        k._sei_deleted_at as deleted_at,
        k._sei_deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted,
        k._sei_loaded_at as loaded_at

    from deduplicated as k
    left join repositories
        on lower(k.repository) = lower(repositories.repository_full_name)

)

select * from renamed
