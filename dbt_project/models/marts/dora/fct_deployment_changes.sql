-- What each successful production deployment shipped: one row per default-branch commit in
-- its change set (int_dora__deployment_commits: after the live commit, up to the deployed
-- one, on the first-parent chain) with the PR whose merge or squash commit it is.
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window',
          unique_key=['deployment_id', 'commit_sha'], sei_window='deployed_at') }}
with final as (

    select
        c.deployment_id,
        c.service,
        c.project_id,
        c.repository_full_name,
        c.commit_sha,
        c.commit_position,
        c.pull_request_id,
        c.deployed_at,
        -- the first production deployment that shipped this PR (the one its lead time ends at)
        coalesce(c.pull_request_id is not null
                 and row_number() over (partition by c.pull_request_id order by c.deployed_at, c.deployment_id) = 1,
                 false) as is_first_deployment_of_pull_request
    from {{ ref('int_dora__deployment_commits') }} as c

)

select * from final
{{ sei_window_filter() }}
