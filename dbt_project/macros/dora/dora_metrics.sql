{#-
  dora_metrics(period, entities, keys, deployments, changes): the DORA figures of every
  entity (service, or team alone / with sub-teams) for every `period` (week | month) of the
  date spine, which spans the first to the last production deployment or shipped change.

  entities    relation with the `keys` columns (one row per entity) and any extra columns
  deployments relation with `keys` plus finished production deployments: deployment_id,
              finished_at, is_success, is_failure, is_rework, recovery_hours
  changes     relation with `keys` plus shipped changes: pull_request_id, deployed_at,
              lead_time_hours, coding_hours, pickup_hours, review_hours, deploy_hours

  Formulas (docs/metrics.md, # DORA):
    deployments            successful production deployments finished in the period
    deployment_days        distinct UTC days with one
    deployments_per_week   deployments * 7 / days in the period
    production_deployments finished production deployments, successful or failed
    failed_deployments     those that failed (fct_deployments.is_failure), counted once each
    change_failure_rate    failed_deployments / production_deployments (null when 0)
    rework_rate            rework deployments (rollbacks, hotfixes) / production_deployments
    recovery_time_p50_hours  median recovery_hours of the period's failed deployments
    lead_time_p50/p90_hours, coding/pickup/review/deploy_p50_hours: continuous percentiles
                           over the changes deployed in the period
  Counts are 0 and medians and rates null without data. Bands from dora_performance_bands for
  var('dora_report_year', 2023); null where the metric is null or DORA publishes no band.
-#}
{% macro dora_metrics(period, entities, keys, deployments, changes) -%}
{%- set key_list = keys | join(', ') -%}
{%- set year = var('dora_report_year', 2023) -%}
bounds as (

    select min(lo) as lo, max(hi) as hi
    from (
        select min(finished_at) as lo, max(finished_at) as hi from {{ deployments }}
        union all
        select min(deployed_at), max(deployed_at) from {{ changes }}
    ) as b

),

spine as (

    {{ period_spine(period, 'bounds') }}

),

grid as (

    select e.*, spine.period_start
    from {{ entities }} as e
    cross join spine
    -- an incremental run recomputes the periods from its window start (the spine's bounds
    -- stay those of all the data, so the periods are the ones a full build has)
    where {{ sei_window_since('spine.period_start', period) }}

),

deployment_figures as (

    select
        {{ key_list }},
        {{ period_of(period, 'finished_at') }} as period_start,
        sum(case when is_success then 1 else 0 end) as deployments,
        count(distinct case when is_success then cast(finished_at as date) end) as deployment_days,
        count(*) as production_deployments,
        sum(case when is_failure then 1 else 0 end) as failed_deployments,
        sum(case when is_rework then 1 else 0 end) as rework_deployments,
        percentile_cont(0.5) within group (order by case when is_failure then recovery_hours end)
            as recovery_time_p50_hours
    from {{ deployments }}
    where {{ sei_window_since('finished_at', period) }}
    group by {{ key_list }}, {{ period_of(period, 'finished_at') }}

),

change_figures as (

    select
        {{ key_list }},
        {{ period_of(period, 'deployed_at') }} as period_start,
        count(*) as changes,
        percentile_cont(0.5) within group (order by lead_time_hours) as lead_time_p50_hours,
        percentile_cont(0.9) within group (order by lead_time_hours) as lead_time_p90_hours,
        percentile_cont(0.5) within group (order by coding_hours) as coding_p50_hours,
        percentile_cont(0.5) within group (order by pickup_hours) as pickup_p50_hours,
        percentile_cont(0.5) within group (order by review_hours) as review_p50_hours,
        percentile_cont(0.5) within group (order by deploy_hours) as deploy_p50_hours
    from {{ changes }}
    where {{ sei_window_since('deployed_at', period) }}
    group by {{ key_list }}, {{ period_of(period, 'deployed_at') }}

),

figures as (

    select
        g.*,
        {{ duration_hours('cast(g.period_start as ' ~ dbt.type_timestamp() ~ ')',
                          'cast(' ~ dbt.dateadd(period, 1, 'g.period_start') ~ ' as ' ~ dbt.type_timestamp() ~ ')') }} / 24.0
            as period_days,
        cast(coalesce(d.deployments, 0) as {{ dbt.type_bigint() }}) as deployments,
        cast(coalesce(d.deployment_days, 0) as {{ dbt.type_bigint() }}) as deployment_days,
        cast(coalesce(d.production_deployments, 0) as {{ dbt.type_bigint() }}) as production_deployments,
        cast(coalesce(d.failed_deployments, 0) as {{ dbt.type_bigint() }}) as failed_deployments,
        cast(coalesce(d.rework_deployments, 0) as {{ dbt.type_bigint() }}) as rework_deployments,
        cast(coalesce(c.changes, 0) as {{ dbt.type_bigint() }}) as changes,
        c.lead_time_p50_hours,
        c.lead_time_p90_hours,
        c.coding_p50_hours,
        c.pickup_p50_hours,
        c.review_p50_hours,
        c.deploy_p50_hours,
        cast(d.failed_deployments as {{ sei_double() }}) / nullif(d.production_deployments, 0) as change_failure_rate,
        d.recovery_time_p50_hours,
        cast(d.rework_deployments as {{ sei_double() }}) / nullif(d.production_deployments, 0) as rework_rate
    from grid as g
    left join deployment_figures as d
        on {% for k in keys %}d.{{ k }} = g.{{ k }} and {% endfor %}d.period_start = g.period_start
    left join change_figures as c
        on {% for k in keys %}c.{{ k }} = g.{{ k }} and {% endfor %}c.period_start = g.period_start

),

with_rate as (

    select f.*, f.deployments * 7.0 / f.period_days as deployments_per_week
    from figures as f

),

bands as (

    select metric, band, lower_bound, upper_bound
    from {{ ref('dora_performance_bands') }}
    where report_year = {{ year }}

)

select
    r.*,
    {%- for metric, name in [('deployments_per_week', 'deployment_frequency_band'), ('lead_time_p50_hours', 'lead_time_band'),
                             ('change_failure_rate', 'change_failure_rate_band'), ('recovery_time_p50_hours', 'recovery_time_band'),
                             ('rework_rate', 'rework_rate_band')] %}
    (select b.band from bands as b
     where b.metric = '{{ metric }}' and r.{{ metric }} >= b.lower_bound
       and (b.upper_bound is null or r.{{ metric }} < b.upper_bound)) as {{ name }},
    {%- endfor %}
    cast({{ year }} as integer) as dora_report_year
from with_rate as r
{%- endmacro %}
