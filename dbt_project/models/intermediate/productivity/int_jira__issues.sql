-- One row per Jira issue (not deleted) with what productivity, sprints and alignment need:
-- its work category now (productivity profile), when it was completed (entered a `done`
-- status for the last time while it is still done; `wont_do` is closed, not completed),
-- the hours it spent in `in_progress` statuses, and its epic (a sub-task's epic is its
-- parent's).
with issues as (

    select * from {{ ref('stg_jira__issues') }}
    where not is_deleted

),

periods as (

    select * from {{ ref('int_jira__issue_status_periods') }}

),

current_period as (

    select issue_id, work_category, started_at
    from periods
    where ended_at is null

),

in_progress as (

    select issue_id, sum(duration_hours) as in_progress_hours
    from periods
    where work_category = 'in_progress' and ended_at is not null
    group by issue_id

),

parents as (

    select issue_id, issue_key, issue_type, epic_issue_id, epic_issue_key
    from issues

)

select
    i.issue_id,
    i.issue_key,
    i.jira_project_key,
    i.project_id,
    i.organisation_id,
    i.account_id,
    i.issue_type,
    i.is_subtask,
    i.status,
    coalesce(cp.work_category, 'to_do') as work_category,
    coalesce(cp.work_category, 'to_do') = 'done' as is_completed,
    case when cp.work_category = 'done' then cp.started_at end as completed_at,
    case when cp.work_category in ('done', 'wont_do') then cp.started_at end as closed_at,
    i.story_points,
    coalesce(ip.in_progress_hours, 0) as in_progress_hours,
    i.assignee_account_id,
    i.parent_issue_id,
    i.parent_issue_key,
    -- the epic: the issue's own epic link, else its parent when the parent is an epic,
    -- else the parent's epic (sub-tasks)
    coalesce(i.epic_issue_key,
             case when lower(p.issue_type) = 'epic' then p.issue_key end,
             p.epic_issue_key) as epic_issue_key,
    i.created_at,
    i.resolved_at
from issues as i
left join current_period as cp
    on cp.issue_id = i.issue_id
left join in_progress as ip
    on ip.issue_id = i.issue_id
left join parents as p
    on p.issue_id = i.parent_issue_id
