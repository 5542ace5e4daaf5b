-- One row per pull request: who opened it, when each phase started and ended, and the
-- phase durations shared by DORA (fct_changes) and productivity (fct_pull_requests).
--
-- "Non-author" reviews are judged by person, not login: a review from the author's second
-- account is a self-review. Bot reviews never start pickup. A phase is null when an end is
-- missing or precedes its start (a first commit authored after the PR was marked ready,
-- e.g. after a rebase with rewritten dates): a negative duration is a data artefact, not
-- a fast team, and clamping it to 0 would bias medians down.
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window', unique_key='pull_request_id',
          sei_window='created_at') }}
with pull_requests as (

    select *
    from {{ ref('stg_github__pull_requests') }}
    where not is_deleted

),

github_identities as (

    select account, developer_id, is_bot
    from {{ ref('dim_identity') }}
    where tool = 'github'

),

authors as (

    select
        pr.pull_request_id,
        i.developer_id as author_developer_id,
        coalesce(pr.is_bot_author, false) or coalesce(i.is_bot, false) as is_bot_author
    from pull_requests as pr
    left join github_identities as i
        on i.account = {{ account_key("'github'", 'pr.author_login') }}

),

reviews as (

    select
        r.pull_request_id,
        r.state,
        r.submitted_at
    from {{ ref('stg_github__pull_request_reviews') }} as r
    -- authors holds every live PR once: joining pull_requests as well only made PostgreSQL
    -- plan nested loops over the materialised CTEs (minutes on the tiny org)
    inner join authors as a
        on a.pull_request_id = r.pull_request_id
    left join github_identities as ri
        on ri.account = {{ account_key("'github'", 'r.reviewer_login') }}
    where r.submitted_at is not null
      and r.state <> 'pending'
      and not coalesce(r.is_bot_reviewer, false)
      and not coalesce(ri.is_bot, false)
      and not coalesce(r.is_self_review, false)
      -- the same person under another login is still the author
      and not (ri.developer_id is not null and ri.developer_id = a.author_developer_id)

),

first_reviews as (

    select
        pull_request_id,
        min(submitted_at) as first_review_at,
        min(case when state = 'approved' then submitted_at end) as first_approval_at,
        count(*) as review_count
    from reviews
    group by pull_request_id

),

timeline as (

    select
        pr.pull_request_id,
        pr.repository_full_name,
        pr.pull_request_number,
        pr.project_id,
        pr.organisation_id,
        pr.account_id,
        pr.title,
        pr.author_login,
        a.author_developer_id,
        a.is_bot_author,
        pr.is_draft,
        pr.state,
        pr.base_branch_name,
        pr.head_branch_name,
        pr.merge_commit_sha,
        pr.created_at,
        coalesce(pr.ready_for_review_at, pr.created_at) as ready_at,
        pr.first_commit_authored_at as first_commit_at,
        fr.first_review_at,
        fr.first_approval_at,
        pr.merged_at,
        pr.closed_at,
        pr.additions,
        pr.deletions,
        pr.changed_files,
        coalesce(fr.review_count, 0) as review_count,
        pr.comments_count as review_comment_count,
        pr.commits_after_first_review
    from pull_requests as pr
    inner join authors as a
        on a.pull_request_id = pr.pull_request_id
    left join first_reviews as fr
        on fr.pull_request_id = pr.pull_request_id

),

final as (


    select
        timeline.*,
        {{ phase_hours('first_commit_at', 'ready_at') }} as coding_hours,
        {{ phase_hours('ready_at', 'first_review_at') }} as pickup_hours,
        {{ phase_hours('first_review_at', 'merged_at') }} as review_hours,
        {{ phase_hours('first_commit_at', 'merged_at') }} as cycle_time_hours
    from timeline

)

select * from final
{{ sei_window_filter() }}
