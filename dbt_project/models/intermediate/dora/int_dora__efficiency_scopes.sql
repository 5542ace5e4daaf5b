-- The efficiency profile's scopes: the applied profile, or the shipped defaults when none
-- was applied (no default row in raw_config).
{%- set d = efficiency_default_scope() %}
with applied as (

    select scope_key, scope_type, project_id, tree, team_id, use_tool_production_flag, count_rollbacks,
           incident_window_hours, lead_time_start
    from {{ ref('stg_config__efficiency_scopes') }}

),

shipped as (

    select
        cast('default' as {{ dbt.type_string() }}) as scope_key,
        cast('default' as {{ dbt.type_string() }}) as scope_type,
        cast(null as {{ dbt.type_string() }}) as project_id,
        cast(null as {{ dbt.type_string() }}) as tree,
        cast(null as {{ dbt.type_string() }}) as team_id,
        {{ d.use_tool_production_flag }} as use_tool_production_flag,
        {{ d.count_rollbacks }} as count_rollbacks,
        cast({{ d.incident_window_hours }} as {{ sei_double() }}) as incident_window_hours,
        cast('{{ d.lead_time_start }}' as {{ dbt.type_string() }}) as lead_time_start

)

select * from applied
union all
select * from shipped
where not exists (select 1 from applied where scope_key = 'default')
