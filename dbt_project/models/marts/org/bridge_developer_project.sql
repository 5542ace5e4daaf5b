-- Person <-> project: which projects each developer works in, the relation access control
-- uses to show a person's rows that carry no project (dim_developer, dim_identity) to a
-- principal scoped to an organisation or project (docs/access-control.md). Team
-- membership cannot say it: cross-cutting trees (regions) put everyone in a team that works
-- everywhere. A developer works in a project when at least `sei_team_project_min_share` of
-- the work attributed to them (PRs, reviews, commits, issues) belongs to it.
with evidence as (

    {% for bridge in ['bridge_pull_request_team', 'bridge_review_team', 'bridge_commit_team', 'bridge_issue_team'] %}
    {% if not loop.first %}union all{% endif %}
    -- one row per fact, whatever number of teams it reached
    select distinct developer_id, project_id, {{ bridge_fact_key(bridge) }} as fact_key
    from {{ ref(bridge) }}
    where project_id is not null
    {% endfor %}

),

counted as (

    select developer_id, project_id, count(*) as events
    from evidence
    group by developer_id, project_id

),

shares as (

    select
        developer_id,
        project_id,
        cast(events as bigint) as activity_events,
        cast(events as {{ sei_double() }}) / nullif(sum(events) over (partition by developer_id), 0) as activity_share
    from counted

)

select developer_id, project_id, activity_events, activity_share
from shares
where activity_share >= {{ var('sei_team_project_min_share', 0.25) }}
