-- One row per (started sprint, issue that was in it at any time), with the issue's fate:
-- committed (in the sprint at start + grace period), added after that and before the end,
-- removed before the end, completed (in a `done` status at the end while still in the
-- sprint), carried over (not completed at the end and in a later sprint). The end is the
-- sprint's completion, else its planned end. Membership comes from the Jira changelog
-- (int_sprints__membership_events); categories and the grace period from the productivity
-- profile (per project, else the default).
with sprints as (

    select s.sprint_id, s.sprint_name, s.board_id, s.project_id, s.organisation_id, s.account_id, s.state,
           s.started_at,
           coalesce(s.completed_at, s.planned_end_at) as ended_at,
           s.state = 'closed' as is_closed,
           coalesce(cfg.grace_period_hours, 24) as grace_period_hours
    from {{ ref('stg_jira__sprints') }} as s
    left join {{ ref('stg_config__productivity_sprint_settings') }} as cfg
        on {{ effective_config('cfg', 's.project_id', ref('stg_config__productivity_sprint_settings')) }}
    where not s.is_deleted
      and s.started_at is not null

),

cutoffs as (

    select s.*,
           {{ dbt.dateadd('second', 'cast(round(s.grace_period_hours * 3600) as integer)', 's.started_at') }} as committed_by
    from sprints as s

),

events as (

    select e.*, c.committed_by, c.ended_at
    from {{ ref('int_sprints__membership_events') }} as e
    inner join cutoffs as c
        on c.sprint_id = e.sprint_id

),

ranked as (

    select
        e.*,
        case when e.event_at <= e.committed_by
             then row_number() over (partition by e.issue_id, e.sprint_id, e.event_at <= e.committed_by
                                     order by e.event_at desc, e.history_id desc nulls last, e.item_index desc) end as rn_at_commit,
        case when e.event_at <= e.ended_at
             then row_number() over (partition by e.issue_id, e.sprint_id, e.event_at <= e.ended_at
                                     order by e.event_at desc, e.history_id desc nulls last, e.item_index desc) end as rn_at_end
    from events as e

),

pairs as (

    select
        issue_id,
        sprint_id,
        min(case when event_type = 'added' then event_at end) as first_added_at,
        max(case when rn_at_commit = 1 and event_type = 'added' then 1 else 0 end) = 1 as is_committed,
        max(case when rn_at_end = 1 and event_type = 'added' then 1 else 0 end) = 1 as is_in_sprint_at_end,
        max(case when event_type = 'added' and event_at > committed_by and event_at <= ended_at then 1 else 0 end) = 1
            as was_added_during,
        max(case when event_type = 'removed' and event_at > committed_by and event_at <= ended_at then event_at end)
            as removed_at
    from ranked
    group by issue_id, sprint_id

),

status_at_end as (

    select p.issue_id, p.sprint_id, sp.work_category
    from pairs as p
    inner join cutoffs as c
        on c.sprint_id = p.sprint_id
    inner join {{ ref('int_jira__issue_status_periods') }} as sp
        on sp.issue_id = p.issue_id
       and sp.started_at <= c.ended_at
       and (sp.ended_at is null or sp.ended_at > c.ended_at)

),

issues as (

    select * from {{ ref('int_jira__issues') }}

),

facts as (

    select
        c.sprint_id,
        c.sprint_name,
        c.board_id,
        c.project_id,
        c.organisation_id,
        c.account_id,
        c.started_at as sprint_started_at,
        c.ended_at as sprint_ended_at,
        c.is_closed as is_sprint_closed,
        c.grace_period_hours,
        p.issue_id,
        i.issue_key,
        i.issue_type,
        i.story_points,
        i.assignee_account_id,
        p.first_added_at,
        p.is_committed,
        not p.is_committed and p.was_added_during as is_added_after_start,
        (p.is_committed or p.was_added_during) and not p.is_in_sprint_at_end as is_removed,
        case when (p.is_committed or p.was_added_during) and not p.is_in_sprint_at_end then p.removed_at end
            as removed_at,
        p.is_in_sprint_at_end,
        p.is_in_sprint_at_end and coalesce(se.work_category, 'to_do') = 'done' as is_completed,
        coalesce(se.work_category, 'to_do') as work_category_at_end
    from pairs as p
    inner join cutoffs as c
        on c.sprint_id = p.sprint_id
    inner join issues as i
        on i.issue_id = p.issue_id
    left join status_at_end as se
        on se.issue_id = p.issue_id and se.sprint_id = p.sprint_id

)

select
    f.*,
    f.is_in_sprint_at_end and not f.is_completed
        and exists (select 1 from facts as later
                    where later.issue_id = f.issue_id and later.sprint_started_at > f.sprint_started_at)
        as is_carried_over
from facts as f
