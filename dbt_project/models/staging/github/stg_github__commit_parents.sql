{#- A commit's parents in order: dlt nested table of commits (`_dlt_root_id` = the commit
    row's `_dlt_id`, `_dlt_list_idx` = the parent's position; 0 is the first parent, the
    one first-parent history walks).
    A table kept by load (macros/incremental/sei_loads.sql): a window build takes the parents
    of the commits loaded since and replaces those commits' parents (a commit's parents are
    part of its identity: they never change). -#}
{{ config(materialized=sei_incremental(), incremental_strategy='sei_loads',
          unique_key=['repository_full_name', 'commit_sha']) }}
with parents as (

    {{ staging_source('github', 'commits__parents', {
        'value': 'string',
        '_dlt_root_id': 'string',
        '_dlt_list_idx': 'bigint',
    }, soft_delete=false, dlt_load_id=false) }}

),

commits as (

    {{ staging_source('github', 'commits', {
        '_dlt_id': 'string',
        'repository': 'string',
        'sha': 'string',
    }) }}

),

new_loads as (

    select * from commits where {{ sei_new_loads() }}

),

joined as (

    select
        commits.repository,
        commits.sha,
        parents.value as parent_sha,
        parents._dlt_list_idx as parent_index,
        commits._dlt_load_id,
        commits._sei_loaded_at,
        commits._sei_deleted_at
    from parents
    inner join new_loads as commits
        on parents._dlt_root_id = commits._dlt_id

),

deduplicated as (

    {{ deduplicate('joined', partition_by=['repository', 'sha', 'parent_index'], latest_by=['_dlt_load_id']) }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

renamed as (

    select
        p.repository as repository_full_name,
        p.sha as commit_sha,
        p.parent_index,
        p.parent_sha,
        p.parent_index = 0 as is_first_parent,
        repositories.project_id,
        repositories.organisation_id,
        repositories.account_id,
        p._sei_deleted_at as deleted_at,
        p._sei_deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted,
        p._sei_loaded_at as loaded_at

    from deduplicated as p
    left join repositories
        on lower(p.repository) = lower(repositories.repository_full_name)

)

select * from renamed
