-- Default-branch commit -> the teams its author belonged to when it was authored. The
-- author is the GitHub login when GitHub linked one, else the commit email (a `git`
-- account in identity resolution). Bots and unresolved authors give no row.
with commits as (

    select
        repository_full_name,
        commit_sha,
        project_id,
        case when author_login is not null then 'github' else 'git' end as tool,
        case when author_login is not null then {{ account_key("'github'", 'author_login') }}
             else {{ account_key("'git'", 'author_email') }} end as account,
        authored_at as event_at
    from {{ ref('stg_github__commits') }}
    where not is_deleted
      and coalesce(author_login, author_email) is not null

)

{{ attribute_to_teams('commits', ['repository_full_name', 'commit_sha', 'project_id'], 'authored_at') }}
