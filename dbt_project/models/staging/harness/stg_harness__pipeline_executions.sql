with source as (

    {{ staging_source('harness', 'pipeline_executions', {
        'plan_execution_id': 'string',
        'harness_account_id': 'string',
        'org_identifier': 'string',
        'project_identifier': 'string',
        'project_id': 'string',
        'organisation_id': 'string',
        'account_id': 'string',
        'pipeline_identifier': 'string',
        'name': 'string',
        'run_sequence': 'bigint',
        'status': 'string',
        'status_normalized': 'string',
        'is_finished': 'boolean',
        'start_ts': 'timestamp',
        'end_ts': 'timestamp',
        'created_at': 'timestamp',
        'duration_seconds': 'double',
        'trigger_type': 'string',
        'triggered_by': 'string',
        'triggered_by_email': 'string',
        'is_rerun': 'boolean',
        'execution_mode': 'string',
        'is_rollback_execution': 'boolean',
        'modules': 'string',
        'failure_message': 'string',
        'is_deployment': 'boolean',
        'cd_stage_count': 'bigint',
        'service_identifier': 'string',
        'service_name': 'string',
        'deployment_type': 'string',
        'environment_identifier': 'string',
        'environment_name': 'string',
        'environment_type': 'string',
        'is_production': 'boolean',
        'infrastructure_identifier': 'string',
        'deployment_stage_status': 'string',
        'deployment_started_at': 'timestamp',
        'deployment_finished_at': 'timestamp',
        'artifact_image': 'string',
        'artifact_tag': 'string',
        'artifact_display_name': 'string',
        'service_identifiers': 'string',
        'env_identifiers': 'string',
        'environment_types': 'string',
        'ci_branch': 'string',
        'ci_repo_name': 'string',
        'ci_build_type': 'string',
        'ci_commit_sha': 'string',
        'ci_commit_message': 'string',
        'ci_commit_author': 'string',
        'ci_commit_author_email': 'string',
        'ci_commit_timestamp': 'timestamp',
        'deployed_commit_sha': 'string',
        'deployed_commit_sha_prefix': 'string',
        'deployed_commit_source': 'string',
        'deployed_commit_unknown': 'boolean',
        'url': 'string',
    }) }}

),

deduplicated as (

    {{ deduplicate('source', partition_by=['plan_execution_id'], latest_by=['_dlt_load_id']) }}

),

renamed as (

    select
        -- ids and scope
        plan_execution_id as pipeline_execution_id,
        harness_account_id,
        org_identifier as harness_org_identifier,
        project_identifier as harness_project_identifier,
        project_id,
        organisation_id,
        account_id,

        -- the pipeline run
        pipeline_identifier,
        name as pipeline_name,
        run_sequence,
        status_normalized as status,
        status as harness_status,
        is_finished,
        start_ts as started_at,
        end_ts as finished_at,
        created_at,
        {{ duration_hours('start_ts', 'end_ts') }} as execution_duration_hours,
        trigger_type,
        triggered_by,
        lower(triggered_by_email) as triggered_by_email,
        is_rerun,
        execution_mode,
        coalesce(is_rollback_execution, false) as is_rollback,
        modules,
        failure_message,

        -- the deployment it made (the last CD stage to a Production environment, else the last CD stage)
        coalesce(is_deployment, false) as is_deployment,
        cd_stage_count,
        service_identifier,
        service_name,
        deployment_type,
        environment_identifier,
        environment_name,
        environment_type,
        is_production,
        infrastructure_identifier,
        deployment_stage_status,
        deployment_started_at,
        deployment_finished_at,
        {{ duration_hours('deployment_started_at', 'deployment_finished_at') }} as deployment_duration_hours,
        artifact_image,
        artifact_tag,
        artifact_display_name,
        service_identifiers,
        env_identifiers as environment_identifiers,
        environment_types,

        -- the commit: CI stage, else artifact tag (see ingestion/harness.py)
        ci_branch as ci_branch_name,
        ci_repo_name as ci_repository_name,
        ci_build_type,
        lower(ci_commit_sha) as ci_commit_sha,
        ci_commit_message,
        ci_commit_author as ci_commit_author_name,
        lower(ci_commit_author_email) as ci_commit_author_email,
        ci_commit_timestamp as ci_committed_at,
        lower(deployed_commit_sha) as deployed_commit_sha,
        lower(deployed_commit_sha_prefix) as deployed_commit_sha_prefix,
        deployed_commit_source,
        coalesce(deployed_commit_unknown, deployed_commit_sha is null and deployed_commit_sha_prefix is null)
            as is_deployed_commit_unknown,
        url,

        _sei_deleted_at as deleted_at,
        _sei_deleted_at is not null as is_deleted,
        _sei_loaded_at as loaded_at

    from deduplicated

)

select * from renamed
