{#- A table kept by load, not a view: millions of raw rows (macros/incremental/sei_loads.sql) -#}
{{ config(materialized=sei_incremental(), incremental_strategy='sei_loads', unique_key='changelog_item_id') }}

with source as (

    {{ staging_source('jira', 'issue_changelogs', {
        'history_id': 'string',
        'item_index': 'bigint',
        'issue_id': 'string',
        'issue_key': 'string',
        'author_account_id': 'string',
        'created_at': 'timestamp',
        'field': 'string',
        'field_type': 'string',
        'field_id': 'string',
        'from_value': 'string',
        'from_string': 'string',
        'to_value': 'string',
        'to_string': 'string',
        'from_account_id': 'string',
        'to_account_id': 'string',
        'scope': 'string',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
    }) }}

),

new_loads as (

    select * from source where {{ sei_new_loads() }}

),

deduplicated as (

    {{ deduplicate('new_loads', partition_by=['history_id', 'item_index'], latest_by=['_dlt_load_id']) }}

),

renamed as (

    select
        {{ dbt.concat(['history_id', "':'", 'cast(item_index as ' ~ dbt.type_string() ~ ')']) }} as changelog_item_id,
        history_id,
        item_index,
        issue_id,
        issue_key,
        scope as source_scope,
        project_id,
        organisation_id,
        account_id,
        author_account_id,
        created_at as changed_at,
        field as field_name,
        field_type,
        field_id,
        lower(field) = 'status' as is_status_change,
        lower(field) = 'sprint' as is_sprint_change,
        from_value,
        from_string,
        to_value,
        to_string,
        from_account_id,
        to_account_id,
        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
