{#- Every sprint an issue has been in (Jira's Sprint field): a dlt nested table of issues
    (`_dlt_root_id` = the issue row's `_dlt_id`), replaced whenever the issue is merged
    again. Which sprint the issue was in *when* comes from the changelog's Sprint items. -#}
with issue_sprints as (

    {{ staging_source('jira', 'issues__sprints', {
        'sprint_id': 'bigint',
        'board_id': 'bigint',
        '_dlt_root_id': 'string',
        '_dlt_list_idx': 'bigint',
    }, soft_delete=false, dlt_load_id=false) }}

),

issues as (

    {{ staging_source('jira', 'issues', {
        '_dlt_id': 'string',
        'id': 'string',
        'key': 'string',
        'updated_at': 'timestamp',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
    }) }}

),

joined as (

    select
        issues.id as issue_id,
        issues.key as issue_key,
        issue_sprints.sprint_id,
        issue_sprints.board_id,
        issue_sprints._dlt_list_idx as sprint_index,
        issues.project_id,
        issues.organisation_id,
        issues.account_id,
        issues.updated_at as issue_updated_at,
        issues._dlt_load_id,
        issues._sei_loaded_at,
        issues._sei_deleted_at
    from issue_sprints
    inner join issues
        on issue_sprints._dlt_root_id = issues._dlt_id

),

deduplicated as (

    {{ deduplicate('joined', partition_by=['issue_id', 'sprint_id'], latest_by=['issue_updated_at', '_dlt_load_id']) }}

),

renamed as (

    select
        issue_id,
        issue_key,
        sprint_id,
        board_id,
        sprint_index,
        project_id,
        organisation_id,
        account_id,
        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
