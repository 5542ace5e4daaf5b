-- One row per (started sprint, tree, team): the sprint's issues whose assignee belonged to
-- the team (bridge_issue_team), and what happened to them. A board's sprint maps to the
-- teams that worked in it; a sprint shared by two teams gives each its own slice.
-- Ratios with no denominator are null. Predictability is the spread (sample standard
-- deviation) of say/do over the team's last N closed sprints on the board (N from the
-- productivity profile), null for open sprints and with fewer than two sprints.
with issues as (

    select f.*, b.tree, b.team_id
    from {{ ref('fct_sprint_issues') }} as f
    inner join {{ ref('bridge_issue_team') }} as b
        on b.issue_id = f.issue_id

),

per_team as (

    select
        sprint_id,
        tree,
        team_id,
        min(sprint_name) as sprint_name,
        min(board_id) as board_id,
        min(project_id) as project_id,
        min(organisation_id) as organisation_id,
        min(account_id) as account_id,
        min(sprint_started_at) as sprint_started_at,
        min(sprint_ended_at) as sprint_ended_at,
        {{ dbt.bool_or('is_sprint_closed') }} as is_sprint_closed,
        sum(case when is_committed then 1 else 0 end) as committed_issues,
        sum(case when is_committed then coalesce(story_points, 0) else 0 end) as committed_points,
        sum(case when is_added_after_start then 1 else 0 end) as added_issues,
        sum(case when is_added_after_start then coalesce(story_points, 0) else 0 end) as added_points,
        sum(case when is_removed then 1 else 0 end) as removed_issues,
        sum(case when is_removed then coalesce(story_points, 0) else 0 end) as removed_points,
        sum(case when is_completed then 1 else 0 end) as delivered_issues,
        sum(case when is_completed then coalesce(story_points, 0) else 0 end) as delivered_points,
        sum(case when is_completed and is_committed then 1 else 0 end) as delivered_committed_issues,
        sum(case when is_completed and is_committed then coalesce(story_points, 0) else 0 end)
            as delivered_committed_points,
        sum(case when is_carried_over then 1 else 0 end) as carried_over_issues
    from issues
    where is_committed or is_added_after_start
    group by sprint_id, tree, team_id

),

ratios as (

    select
        p.*,
        case when committed_issues > 0 then 100.0 * added_issues / committed_issues end as scope_creep_pct,
        case when committed_issues > 0 then 100.0 * (added_issues + removed_issues) / committed_issues end as churn_pct,
        case when committed_issues > 0 then 1.0 * delivered_committed_issues / committed_issues end as say_do_ratio,
        case when committed_points > 0 then 1.0 * delivered_committed_points / committed_points end as say_do_points_ratio,
        cast(delivered_points as {{ sei_double() }}) as velocity_points
    from per_team as p

),

closed_seq as (

    select sprint_id, tree, team_id, board_id, say_do_ratio,
           row_number() over (partition by board_id, tree, team_id order by sprint_started_at, sprint_id) as seq
    from ratios
    where is_sprint_closed

),

windowed as (

    select
        cur.sprint_id, cur.tree, cur.team_id,
        count(prev.say_do_ratio) as predictability_sprints,
        stddev_samp(prev.say_do_ratio) as say_do_ratio_stddev,
        avg(prev.say_do_ratio) as say_do_ratio_mean
    from closed_seq as cur
    inner join ratios as r
        on r.sprint_id = cur.sprint_id and r.tree = cur.tree and r.team_id = cur.team_id
    left join {{ ref('stg_config__productivity_sprint_settings') }} as cfg
        on {{ effective_config('cfg', 'r.project_id', ref('stg_config__productivity_sprint_settings')) }}
    inner join closed_seq as prev
        on prev.board_id = cur.board_id and prev.tree = cur.tree and prev.team_id = cur.team_id
       and prev.seq <= cur.seq and prev.seq > cur.seq - coalesce(cfg.predictability_sprints, 6)
    group by cur.sprint_id, cur.tree, cur.team_id

)

select
    r.sprint_id,
    r.tree,
    r.team_id,
    r.sprint_name,
    r.board_id,
    r.project_id,
    r.organisation_id,
    r.account_id,
    r.sprint_started_at,
    r.sprint_ended_at,
    r.is_sprint_closed,
    cast(r.committed_issues as bigint) as committed_issues,
    cast(r.committed_points as {{ sei_double() }}) as committed_points,
    cast(r.added_issues as bigint) as added_issues,
    cast(r.added_points as {{ sei_double() }}) as added_points,
    cast(r.removed_issues as bigint) as removed_issues,
    cast(r.removed_points as {{ sei_double() }}) as removed_points,
    cast(r.delivered_issues as bigint) as delivered_issues,
    cast(r.delivered_points as {{ sei_double() }}) as delivered_points,
    cast(r.delivered_committed_issues as bigint) as delivered_committed_issues,
    cast(r.carried_over_issues as bigint) as carried_over_issues,
    cast(r.scope_creep_pct as {{ sei_double() }}) as scope_creep_pct,
    cast(r.churn_pct as {{ sei_double() }}) as churn_pct,
    cast(r.say_do_ratio as {{ sei_double() }}) as say_do_ratio,
    cast(r.say_do_points_ratio as {{ sei_double() }}) as say_do_points_ratio,
    r.velocity_points,
    cast(w.predictability_sprints as bigint) as predictability_sprints,
    cast(case when w.predictability_sprints >= 2 then w.say_do_ratio_stddev end as {{ sei_double() }})
        as say_do_ratio_stddev,
    cast(w.say_do_ratio_mean as {{ sei_double() }}) as say_do_ratio_mean
from ratios as r
left join windowed as w
    on w.sprint_id = r.sprint_id and w.tree = r.tree and w.team_id = r.team_id
