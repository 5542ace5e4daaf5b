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

deduplicated as (

    {{ deduplicate('source', partition_by=['id'], latest_by=['updated_at', '_dlt_load_id']) }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

pull_requests as (

    select * from {{ ref('stg_github__pull_requests') }}

),

-- The pull requests a run belongs to. Runs are listed with `exclude_pull_requests=true`
-- (GitHub's `pull_requests` array costs the API most of a page, and is empty for pull
-- requests from forks anyway), so the link is made here: a `pull_request` run on a PR's
-- head branch in the same repository, on the PR's head commit; a run on no PR's head
-- commit (an earlier push to the branch) goes to the PRs open on that branch when it was
-- created. Branch names come back (several PRs per Jira key): the head commit decides.
run_pull_request_candidates as (

    select
        w.id,
        pr.pull_request_number,
        case when pr.last_commit_sha = w.head_sha then 1 else 0 end as is_on_head_commit
    from deduplicated as w
    inner join pull_requests as pr
        on lower(pr.repository_full_name) = lower(w.repository)
        and pr.head_branch_name = w.head_branch
        and (
            pr.last_commit_sha = w.head_sha
            or (
                w.created_at >= pr.created_at
                and (coalesce(pr.closed_at, pr.merged_at) is null or w.created_at <= coalesce(pr.closed_at, pr.merged_at))
            )
        )
    where w.event in ('pull_request', 'pull_request_target')

),

run_pull_request_matches as (

    select
        id,
        pull_request_number,
        is_on_head_commit,
        max(is_on_head_commit) over (partition by id) as has_head_commit_match
    from run_pull_request_candidates

),

run_pull_requests as (

    select
        id,
        {{ dbt.listagg(
            'cast(pull_request_number as ' ~ dbt.type_string() ~ ')',
            "','",
            'order by pull_request_number') }} as pull_request_numbers
    from run_pull_request_matches
    where is_on_head_commit = has_head_commit_match
    group by id

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
        run_pull_requests.pull_request_numbers,
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
    left join run_pull_requests
        on w.id = run_pull_requests.id

)

select * from renamed
