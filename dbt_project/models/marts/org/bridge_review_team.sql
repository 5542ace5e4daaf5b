-- Pull request review -> the teams its reviewer belonged to when it was submitted. Pending
-- (unsubmitted) reviews, bots and unresolved reviewers give no row.
with reviews as (

    select
        review_id,
        pull_request_id,
        project_id,
        cast('github' as {{ dbt.type_string() }}) as tool,
        {{ account_key("'github'", 'reviewer_login') }} as account,
        submitted_at as event_at
    from {{ ref('stg_github__pull_request_reviews') }}
    where not is_deleted
      and reviewer_login is not null
      and not coalesce(is_bot_reviewer, false)
      and state <> 'pending'

)

{{ attribute_to_teams('reviews', ['review_id', 'pull_request_id', 'project_id'], 'submitted_at') }}
