-- Every status an issue has been in, as intervals [started_at, ended_at): the first from
-- creation (the first status change's "from", else the current status), then one per
-- status change; ended_at is null for the current status. The work category of each status
-- comes from the productivity profile (per project, else the default), else from Jira's own
-- status category as seen on issues (new -> to_do, indeterminate -> in_progress, done -> done).
with issues as (

    select issue_id, project_id, created_at, status
    from {{ ref('stg_jira__issues') }}
    where not is_deleted

),

changes as (

    select
        c.issue_id,
        c.changed_at,
        c.from_string,
        c.to_string,
        row_number() over (partition by c.issue_id order by c.changed_at, c.history_id, c.item_index) as change_index
    from {{ ref('stg_jira__issue_changelogs') }} as c
    inner join issues as i
        on i.issue_id = c.issue_id
    where c.is_status_change and not c.is_deleted

),

periods as (

    -- before the first change (or always, without changes)
    select
        i.issue_id,
        i.project_id,
        0 as period_index,
        coalesce(first_change.from_string, i.status) as status_name,
        i.created_at as started_at,
        first_change.changed_at as ended_at
    from issues as i
    left join changes as first_change
        on first_change.issue_id = i.issue_id and first_change.change_index = 1

    union all

    select
        c.issue_id,
        i.project_id,
        c.change_index as period_index,
        c.to_string as status_name,
        c.changed_at as started_at,
        next_change.changed_at as ended_at
    from changes as c
    inner join issues as i
        on i.issue_id = c.issue_id
    left join changes as next_change
        on next_change.issue_id = c.issue_id and next_change.change_index = c.change_index + 1

),

jira_categories as (

    select lower(status) as status_name,
           max(case status_category when 'new' then 'to_do' when 'indeterminate' then 'in_progress'
                                    when 'done' then 'done' end) as category
    from {{ ref('stg_jira__issues') }}
    where status is not null
    group by lower(status)

),

profile as (

    select * from {{ ref('stg_config__productivity_status_categories') }}

)

select
    p.issue_id,
    p.project_id,
    p.period_index,
    p.status_name,
    coalesce(profile.category, jira_categories.category, 'to_do') as work_category,
    p.started_at,
    p.ended_at,
    {{ duration_hours('p.started_at', 'p.ended_at') }} as duration_hours
from periods as p
left join profile
    on profile.status_name = lower(p.status_name)
   and {{ effective_config('profile', 'p.project_id', ref('stg_config__productivity_status_categories')) }}
left join jira_categories
    on jira_categories.status_name = lower(p.status_name)
