-- Jira issue -> the teams its assignee belonged to at the issue's attribution time: when it
-- was resolved, else (still open) when it was created. The assignee is who did the work;
-- the reporter often belongs to another team (support, product). Unassigned issues and
-- unresolved accounts give no row.
with issues as (

    select
        issue_id,
        project_id,
        cast('jira' as {{ dbt.type_string() }}) as tool,
        {{ account_key("'jira'", 'assignee_account_id') }} as account,
        coalesce(resolved_at, created_at) as event_at
    from {{ ref('stg_jira__issues') }}
    where not is_deleted
      and assignee_account_id is not null

)

{{ attribute_to_teams('issues', ['issue_id', 'project_id'], 'attributed_at') }}
