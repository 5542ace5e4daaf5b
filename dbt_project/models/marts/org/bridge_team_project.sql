-- Team <-> project: which projects each team works in, the relation access control uses to
-- show a team-grain row (which aggregates a team's work across projects) to a principal
-- scoped to an organisation or project (docs/access-control.md). Counted over the team
-- with its sub-teams (the org tree), as its with-sub-teams rows are: a team works in a
-- project when it or a sub-team owns one of the project's services (the services file), or
-- when at least `sei_team_project_min_share` of the work attributed to them at the time
-- (PRs, reviews, commits, issues, deployments, incidents, through the bridges) belongs to it.
with evidence as (

    select owning_tree as tree, owning_team_id as team_id, project_id, 1 as owns_service, 0 as events
    from {{ ref('dim_service') }}
    where owning_team_id is not null and project_id is not null

    {% for bridge in ['bridge_pull_request_team', 'bridge_review_team', 'bridge_commit_team',
                      'bridge_issue_team', 'bridge_deployment_team', 'bridge_incident_team'] %}
    union all

    select tree, team_id, project_id, 0 as owns_service, count(*) as events
    from {{ ref(bridge) }}
    where project_id is not null
    group by tree, team_id, project_id
    {% endfor %}

),

subtree as (

    select
        c.tree,
        c.ancestor_team_id as team_id,
        e.project_id,
        max(e.owns_service) as owns_service,
        sum(e.events) as events
    from evidence as e
    join {{ ref('dim_team_closure') }} as c
        on c.tree = e.tree
       and c.descendant_team_id = e.team_id
    group by c.tree, c.ancestor_team_id, e.project_id

),

shares as (

    select
        tree,
        team_id,
        project_id,
        owns_service = 1 as owns_service,
        cast(events as bigint) as activity_events,
        cast(events as {{ sei_double() }})
            / nullif(sum(events) over (partition by tree, team_id), 0) as activity_share
    from subtree

)

select tree, team_id, project_id, owns_service, activity_events, activity_share
from shares
where owns_service
   or activity_share >= {{ var('sei_team_project_min_share', 0.25) }}
