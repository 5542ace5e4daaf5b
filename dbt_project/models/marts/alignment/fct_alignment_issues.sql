-- The completed Jira issues behind alignment_team_monthly, one row per issue: the same
-- selection (done, not wont_do, completed_at known, epics excluded), its category and effort
-- as the alignment profile measures it. Issues reach teams through bridge_issue_team, as in
-- the monthly mart, so a team's issues of a category and month add up to its row there.
select
    c.issue_id,
    c.issue_key,
    i.project_id,
    i.issue_type,
    s.summary,
    s.url as source_url,
    c.category,
    c.category_source,
    c.effort_measure,
    i.completed_at,
    cast({{ dbt.date_trunc('month', 'i.completed_at') }} as date) as month_start,
    cast(coalesce(i.story_points, 0) as {{ sei_double() }}) as story_points,
    cast(i.in_progress_hours as {{ sei_double() }}) as in_progress_hours,
    cast(case c.effort_measure when 'story_points' then coalesce(i.story_points, 0)
                               when 'time_in_progress' then i.in_progress_hours
                               else 1 end as {{ sei_double() }}) as effort
from {{ ref('int_alignment__issue_categories') }} as c
inner join {{ ref('int_jira__issues') }} as i
    on i.issue_id = c.issue_id
left join {{ ref('stg_jira__issues') }} as s
    on s.issue_id = c.issue_id
where i.is_completed
  and i.completed_at is not null
  and lower(coalesce(i.issue_type, '')) <> 'epic'
