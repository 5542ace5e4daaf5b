{#- A table kept by load, not a view: millions of raw rows (macros/incremental/sei_loads.sql) -#}
{{ config(materialized=sei_incremental(), incremental_strategy='sei_loads', unique_key='issue_id') }}

with source as (

    {{ staging_source('jira', 'issues', {
        'id': 'string',
        'key': 'string',
        'project_key': 'string',
        'project_jira_id': 'string',
        'summary': 'string',
        'issue_type': 'string',
        'issue_type_id': 'string',
        'is_subtask': 'boolean',
        'hierarchy_level': 'bigint',
        'status': 'string',
        'status_id': 'string',
        'status_category': 'string',
        'status_category_name': 'string',
        'resolution': 'string',
        'priority': 'string',
        'assignee_account_id': 'string',
        'reporter_account_id': 'string',
        'parent_id': 'string',
        'parent_key': 'string',
        'parent_issue_type': 'string',
        'epic_id': 'string',
        'epic_key': 'string',
        'story_points': 'double',
        'severity': 'string',
        'changelog_total': 'bigint',
        'custom_fields': 'string',
        'url': 'string',
        'scope': 'string',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
        'created_at': 'timestamp',
        'updated_at': 'timestamp',
        'resolved_at': 'timestamp',
    }) }}

),

new_loads as (

    select * from source where {{ sei_new_loads() }}

),

deduplicated as (

    {{ deduplicate('new_loads', partition_by=['id'], latest_by=['updated_at', '_dlt_load_id']) }}

),

renamed as (

    select
        -- ids and scope
        id as issue_id,
        key as issue_key,
        project_key as jira_project_key,
        project_jira_id as jira_project_id,
        scope as source_scope,
        project_id,
        organisation_id,
        account_id,

        -- what it is
        summary,
        issue_type,
        issue_type_id,
        coalesce(is_subtask, false) as is_subtask,
        hierarchy_level,
        priority,
        severity,
        story_points,
        url,
        custom_fields,

        -- where it stands
        status,
        status_id,
        status_category,
        status_category_name,
        status_category = 'done' as is_done,
        resolution,

        -- people (Jira account ids; Data Center: user keys)
        assignee_account_id,
        reporter_account_id,

        -- hierarchy: a sub-task's epic is its parent's (resolved downstream through parent_issue_id)
        parent_id as parent_issue_id,
        parent_key as parent_issue_key,
        parent_issue_type,
        epic_id as epic_issue_id,
        epic_key as epic_issue_key,

        -- timestamps (UTC) and row-level durations
        created_at,
        updated_at,
        resolved_at,
        {{ duration_hours('created_at', 'resolved_at') }} as created_to_resolved_hours,
        changelog_total as changelog_count,

        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
