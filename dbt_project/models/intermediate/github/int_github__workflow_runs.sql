-- Workflow runs with the pull requests they belong to. A view: no model reads it yet, and
-- the link (a range join on branch and time over every run and PR) is the costly part of
-- a run's staging, so it is paid only by whoever queries it, not by every data test of
-- stg_github__workflow_runs on every build.
{{ config(materialized='view') }}
with workflow_runs as (

    select * from {{ ref('stg_github__workflow_runs') }}

),

pull_requests as (

    select * from {{ ref('stg_github__pull_requests') }}

),

-- The pull requests a run belongs to. Runs are listed with `exclude_pull_requests=true`
-- (GitHub's `pull_requests` array costs the API most of a page, and is empty for pull
-- requests from forks anyway), so the link is made from the pull requests: a `pull_request` run on a PR's
-- head branch in the same repository, on the PR's head commit; a run on no PR's head
-- commit (an earlier push to the branch) goes to the PRs open on that branch when it was
-- created. Branch names come back (several PRs per Jira key): the head commit decides.
run_pull_request_candidates as (

    select
        w.workflow_run_id,
        pr.pull_request_number,
        case when pr.last_commit_sha = w.head_sha then 1 else 0 end as is_on_head_commit
    from workflow_runs as w
    inner join pull_requests as pr
        on lower(pr.repository_full_name) = lower(w.repository_full_name)
        and pr.head_branch_name = w.head_branch_name
        and (
            pr.last_commit_sha = w.head_sha
            or (
                w.created_at >= pr.created_at
                and (coalesce(pr.closed_at, pr.merged_at) is null or w.created_at <= coalesce(pr.closed_at, pr.merged_at))
            )
        )
    where w.trigger_event in ('pull_request', 'pull_request_target')

),

run_pull_request_matches as (

    select
        workflow_run_id,
        pull_request_number,
        is_on_head_commit,
        max(is_on_head_commit) over (partition by workflow_run_id) as has_head_commit_match
    from run_pull_request_candidates

),

run_pull_requests as (

    select
        workflow_run_id,
        {{ dbt.listagg(
            'cast(pull_request_number as ' ~ dbt.type_string() ~ ')',
            "','",
            'order by pull_request_number') }} as pull_request_numbers
    from run_pull_request_matches
    where is_on_head_commit = has_head_commit_match
    group by workflow_run_id

),

final as (

    select
        w.*,
        run_pull_requests.pull_request_numbers
    from workflow_runs as w
    left join run_pull_requests
        on w.workflow_run_id = run_pull_requests.workflow_run_id

)

select * from final
