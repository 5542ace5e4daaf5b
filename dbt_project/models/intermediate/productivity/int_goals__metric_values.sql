{#- Every metric a goal may target (core/profiles/goals.py METRICS), one row per (tree,
    team, team alone / with sub-teams, week or month, metric): productivity and DORA team
    marts unpivoted, and sprint figures over the closed sprints that ended in the period. -#}
{%- set productivity = ['merged_prs', 'merged_prs_per_developer', 'active_developers', 'pr_cycle_time_p50_hours',
    'pr_cycle_time_p90_hours', 'coding_time_p50_hours', 'pickup_time_p50_hours', 'review_time_p50_hours',
    'pr_size_p50_lines', 'review_depth', 'pr_rework_rate', 'coding_days_per_developer',
    'issues_completed_per_developer', 'story_points_completed_per_developer'] -%}
{%- set dora = ['deployments_per_week', 'lead_time_p50_hours', 'change_failure_rate', 'recovery_time_p50_hours',
    'rework_rate'] -%}
with
{% for grain in ['week', 'month'] %}
productivity_{{ grain }} as (
    {%- for m in productivity %}
    select tree, team_id, includes_subteams, '{{ grain }}' as period_grain, {{ grain }}_start as period_start,
           '{{ m }}' as metric, cast({{ m }} as {{ sei_double() }}) as metric_value
    from {{ ref('productivity_team_' ~ grain ~ 'ly') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

dora_{{ grain }} as (
    {%- for m in dora %}
    select tree, team_id, includes_subteams as includes_subteams, '{{ grain }}' as period_grain,
           cast(period_start as date) as period_start, '{{ m }}' as metric, cast({{ m }} as {{ sei_double() }}) as metric_value
    from {{ ref('dora_team_' ~ grain ~ 'ly') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),
{% endfor %}

sprint_slices as (

    -- closed sprints by the period they ended in; with sub-teams, the slices of every
    -- descendant team
    select s.tree, s.team_id, false as includes_subteams, s.sprint_id, s.sprint_ended_at,
           s.committed_issues, s.delivered_committed_issues, s.added_issues, s.velocity_points
    from {{ ref('sprint_metrics') }} as s
    where s.is_sprint_closed
    union all
    select s.tree, c.ancestor_team_id, true, s.sprint_id, s.sprint_ended_at,
           s.committed_issues, s.delivered_committed_issues, s.added_issues, s.velocity_points
    from {{ ref('sprint_metrics') }} as s
    inner join {{ ref('dim_team_closure') }} as c
        on c.tree = s.tree and c.descendant_team_id = s.team_id
    where s.is_sprint_closed

),

sprint_periods as (

    select p.period_grain, p.period_start, s.tree, s.team_id, s.includes_subteams,
           sum(s.committed_issues) as committed, sum(s.delivered_committed_issues) as delivered,
           sum(s.added_issues) as added, count(distinct s.sprint_id) as sprints, sum(s.velocity_points) as points
    from sprint_slices as s
    inner join {{ ref('int_calendar__periods') }} as p
        on s.sprint_ended_at >= cast(p.period_start as {{ dbt.type_timestamp() }})
       and s.sprint_ended_at < cast(p.period_end as {{ dbt.type_timestamp() }})
    group by p.period_grain, p.period_start, s.tree, s.team_id, s.includes_subteams

),

sprints as (

    select tree, team_id, includes_subteams, period_grain, period_start, 'sprint_say_do_ratio' as metric,
           cast(case when committed > 0 then 1.0 * delivered / committed end as {{ sei_double() }}) as metric_value
    from sprint_periods
    union all
    select tree, team_id, includes_subteams, period_grain, period_start, 'sprint_scope_creep_pct',
           cast(case when committed > 0 then 100.0 * added / committed end as {{ sei_double() }})
    from sprint_periods
    union all
    select tree, team_id, includes_subteams, period_grain, period_start, 'sprint_velocity_points',
           cast(1.0 * points / sprints as {{ sei_double() }})
    from sprint_periods

)

select * from productivity_week
union all select * from productivity_month
union all select * from dora_week
union all select * from dora_month
union all select * from sprints
