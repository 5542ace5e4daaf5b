{#- The body of productivity_team_weekly and _monthly: the grain ('week' or 'month') is the
    only difference between the two. Ratios divide by the period's active developers or PRs
    and are null without a denominator. -#}
{% macro productivity_team_metrics(grain) -%}
select
    tree,
    team_id,
    includes_subteams,
    period_start as {{ grain }}_start,
    cast(active_developers as bigint) as active_developers,
    cast(merged_prs as bigint) as merged_prs,
    cast(case when active_developers > 0 then 1.0 * merged_prs / active_developers end as {{ sei_double() }})
        as merged_prs_per_developer,
    cast(pr_cycle_time_p50_hours as {{ sei_double() }}) as pr_cycle_time_p50_hours,
    cast(pr_cycle_time_p90_hours as {{ sei_double() }}) as pr_cycle_time_p90_hours,
    cast(coding_time_p50_hours as {{ sei_double() }}) as coding_time_p50_hours,
    cast(coding_time_p90_hours as {{ sei_double() }}) as coding_time_p90_hours,
    cast(pickup_time_p50_hours as {{ sei_double() }}) as pickup_time_p50_hours,
    cast(pickup_time_p90_hours as {{ sei_double() }}) as pickup_time_p90_hours,
    cast(review_time_p50_hours as {{ sei_double() }}) as review_time_p50_hours,
    cast(review_time_p90_hours as {{ sei_double() }}) as review_time_p90_hours,
    cast(time_to_first_review_p50_hours as {{ sei_double() }}) as time_to_first_review_p50_hours,
    cast(pr_size_p50_lines as {{ sei_double() }}) as pr_size_p50_lines,
    cast(reviewed_prs as bigint) as reviewed_prs,
    cast(case when reviewed_prs > 0 then 1.0 * review_comments / reviewed_prs end as {{ sei_double() }}) as review_depth,
    cast(case when prs_with_first_review > 0 then 1.0 * reworked_prs / prs_with_first_review end as {{ sei_double() }})
        as pr_rework_rate,
    cast(coding_days as bigint) as coding_days,
    cast(case when active_developers > 0 then 1.0 * coding_days / active_developers end as {{ sei_double() }})
        as coding_days_per_developer,
    cast(completed_issues as bigint) as completed_issues,
    cast(completed_story_points as {{ sei_double() }}) as completed_story_points,
    cast(case when active_developers > 0 then 1.0 * completed_issues / active_developers end as {{ sei_double() }})
        as issues_completed_per_developer,
    cast(case when active_developers > 0 then 1.0 * completed_story_points / active_developers end as {{ sei_double() }})
        as story_points_completed_per_developer
from {{ ref('int_productivity__team_periods') }}
where period_grain = '{{ grain }}'
{%- endmacro %}
