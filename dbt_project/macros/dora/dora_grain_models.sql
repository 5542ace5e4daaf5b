{#- The bodies of the weekly and monthly DORA marts: one per entity, the grain ('week' or
    'month') the only difference, so the two models of a pair cannot drift apart. Both are
    incremental by period (macros/incremental/sei_window.sql): an hourly run recomputes the
    periods from the window start on. -#}
{% macro dora_service_metrics(grain) -%}
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window', sei_window='period_start',
          sei_window_grain=grain) }}
with services as (

    select service, owning_tree, owning_team_id as team_id, project_id
    from {{ ref('stg_org__services') }}

),

deployments as (

    select * from {{ ref('int_dora__service_facts') }}

),

changes as (

    select * from {{ ref('fct_changes') }} where service is not null

),

{{ dora_metrics(grain, 'services', ['service'], 'deployments', 'changes') }}
{%- endmacro %}


{% macro dora_team_metrics(grain) -%}
{{ config(materialized=sei_incremental(), incremental_strategy='sei_window', sei_window='period_start',
          sei_window_grain=grain) }}
with teams as (

    select t.tree, t.team_id, t.name as team_name, f.includes_subteams
    from {{ ref('dim_team') }} as t
    cross join (select false as includes_subteams union all select true) as f

),

deployments as (

    select * from {{ ref('int_dora__team_deployments') }}

),

changes as (

    select * from {{ ref('int_dora__team_changes') }}

),

{{ dora_metrics(grain, 'teams', ['tree', 'team_id', 'includes_subteams'], 'deployments', 'changes') }}
{%- endmacro %}
