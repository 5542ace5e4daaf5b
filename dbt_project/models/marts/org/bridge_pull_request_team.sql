-- Pull request -> the teams its author belonged to when it was opened (attribute_to_teams).
-- Bot authors (flagged by GitHub or by the resolution) and unresolved accounts give none.
with pull_requests as (

    select
        pull_request_id,
        project_id,
        cast('github' as {{ dbt.type_string() }}) as tool,
        {{ account_key("'github'", 'author_login') }} as account,
        created_at as event_at
    from {{ ref('stg_github__pull_requests') }}
    where author_login is not null and not coalesce(is_bot_author, false)

)

{{ attribute_to_teams('pull_requests', ['pull_request_id', 'project_id'], 'created_at') }}
