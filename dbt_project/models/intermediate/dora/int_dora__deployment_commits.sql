-- Change set of each successful production deployment that moved its service forward: the
-- default branch's first-parent commits after the live commit (exclusive) up to the deployed
-- one (inclusive), with the PR whose merge or squash commit each one is (null for a direct
-- push). Baselines (nothing known live before), re-deploys of the live commit, rollbacks
-- (an older commit) and deployments whose commit is unknown ship nothing.
with deployments as (

    select deployment_id, service, project_id, repository_full_name, commit_position, live_position, finished_at
    from {{ ref('int_dora__deployments') }}
    where is_production and is_success and not is_baseline
      and commit_position is not null and live_position is not null
      and commit_position > live_position

),

history as (

    select * from {{ ref('int_dora__default_branch_history') }}

),

pull_requests as (

    select pull_request_id, repository_full_name, lower(merge_commit_sha) as merge_commit_sha
    from {{ ref('stg_github__pull_requests') }}
    where merged_at is not null and merge_commit_sha is not null and not is_deleted

)

select
    d.deployment_id,
    d.service,
    d.project_id,
    h.repository_full_name,
    h.commit_sha,
    h.position as commit_position,
    pr.pull_request_id,
    d.finished_at as deployed_at
from deployments as d
join history as h
    on lower(h.repository_full_name) = lower(d.repository_full_name)
   and h.position > d.live_position
   and h.position <= d.commit_position
left join pull_requests as pr
    on lower(pr.repository_full_name) = lower(h.repository_full_name)
   and pr.merge_commit_sha = h.commit_sha
