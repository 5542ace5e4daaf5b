{#- Stages are a dlt nested table of pipeline_executions (`_dlt_root_id` = the execution
    row's `_dlt_id`); dlt replaces an execution's stages whenever it is merged again. -#}
with stages as (

    {{ staging_source('harness', 'pipeline_executions__stages', {
        'stage_index': 'bigint',
        'stage_identifier': 'string',
        'node_uuid': 'string',
        'name': 'string',
        'node_type': 'string',
        'module': 'string',
        'is_cd': 'boolean',
        'status': 'string',
        'start_ts': 'timestamp',
        'end_ts': 'timestamp',
        'service_identifier': 'string',
        'service_name': 'string',
        'deployment_type': 'string',
        'environment_identifier': 'string',
        'environment_name': 'string',
        'environment_type': 'string',
        'infrastructure_identifier': 'string',
        'infrastructure_name': 'string',
        'artifact_image': 'string',
        'artifact_tag': 'string',
        'artifact_display_name': 'string',
        'failure_message': 'string',
        '_dlt_root_id': 'string',
        '_dlt_list_idx': 'bigint',
    }, soft_delete=false, dlt_load_id=false) }}

),

executions as (

    {{ staging_source('harness', 'pipeline_executions', {
        '_dlt_id': 'string',
        'plan_execution_id': 'string',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
    }) }}

),

joined as (

    select
        stages.*,
        coalesce(stages.stage_index, stages._dlt_list_idx) as stage_position,
        executions.plan_execution_id,
        executions.project_id,
        executions.organisation_id,
        executions.account_id,
        executions._dlt_load_id,
        executions._sei_loaded_at,
        executions._sei_deleted_at
    from stages
    inner join executions
        on stages._dlt_root_id = executions._dlt_id

),

deduplicated as (

    {{ deduplicate('joined', partition_by=['plan_execution_id', 'stage_position'], latest_by=['_dlt_load_id']) }}

),

renamed as (

    select
        plan_execution_id as pipeline_execution_id,
        stage_position as stage_index,
        stage_identifier,
        node_uuid as stage_node_id,
        name as stage_name,
        node_type,
        module,
        coalesce(is_cd, module = 'cd') as is_cd,
        status as harness_status,
        start_ts as started_at,
        end_ts as finished_at,
        {{ duration_hours('start_ts', 'end_ts') }} as stage_duration_hours,
        service_identifier,
        service_name,
        deployment_type,
        environment_identifier,
        environment_name,
        environment_type,
        infrastructure_identifier,
        infrastructure_name,
        artifact_image,
        artifact_tag,
        artifact_display_name,
        failure_message,
        project_id,
        organisation_id,
        account_id,
        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
