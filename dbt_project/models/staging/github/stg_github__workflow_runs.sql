{#- A table kept by load, not a view: millions of raw rows (macros/incremental/sei_loads.sql) -#}
{{ config(materialized=sei_incremental(), incremental_strategy='sei_loads', unique_key='workflow_run_id') }}

with source as (

    {{ staging_source('github', 'workflow_runs', {
        'id': 'bigint',
        'repository': 'string',
        'name': 'string',
        'workflow_id': 'bigint',
        'path': 'string',
        'run_number': 'bigint',
        'run_attempt': 'bigint',
        'event': 'string',
        'status': 'string',
        'conclusion': 'string',
        'head_branch': 'string',
        'head_sha': 'string',
        'display_title': 'string',
        'actor_login': 'string',
        'triggering_actor_login': 'string',
        'url': 'string',
        'created_at': 'timestamp',
        'updated_at': 'timestamp',
        'run_started_at': 'timestamp',
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
        w.id as workflow_run_id,
        w.repository as repository_full_name,
        repositories.project_id,
        repositories.organisation_id,
        repositories.account_id,
        w.workflow_id,
        w.name as workflow_name,
        w.path as workflow_path,
        w.run_number,
        w.run_attempt,
        w.event as trigger_event,
        lower(w.status) as status,
        lower(w.conclusion) as conclusion,
        w.head_branch as head_branch_name,
        w.head_sha,
        w.display_title,
        w.actor_login,
        w.triggering_actor_login,
        w.url,
        w.created_at,
        w.updated_at,
        w.run_started_at,
        -- GitHub's own "run time": started -> last update, for completed runs only
        case when lower(w.status) = 'completed'
            then {{ duration_hours('w.run_started_at', 'w.updated_at') }}
        end as run_duration_hours,
        w._sei_deleted_at as deleted_at,
        w._sei_deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted,
        w._sei_loaded_at as loaded_at

    from deduplicated as w
    left join repositories
        on lower(w.repository) = lower(repositories.repository_full_name)

)

select * from renamed
