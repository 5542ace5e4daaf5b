{#- An issue's labels: a dlt nested table of issues (the label is dlt's `value`). -#}
with labels as (

    {{ staging_source('jira', 'issues__labels', {
        'value': 'string',
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
        labels.value as label_name,
        labels._dlt_list_idx as label_index,
        issues.project_id,
        issues.organisation_id,
        issues.account_id,
        issues.updated_at as issue_updated_at,
        issues._dlt_load_id,
        issues._sei_loaded_at,
        issues._sei_deleted_at
    from labels
    inner join issues
        on labels._dlt_root_id = issues._dlt_id

),

deduplicated as (

    {{ deduplicate('joined', partition_by=['issue_id', 'label_name'], latest_by=['issue_updated_at', '_dlt_load_id']) }}

),

renamed as (

    select
        issue_id,
        issue_key,
        label_name,
        label_index,
        project_id,
        organisation_id,
        account_id,
        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
