-- The efficiency profile's list items: the applied profile's, or the shipped defaults'
-- when no profile was applied.
with applied as (

    select scope_key, list_name, value
    from {{ ref('stg_config__efficiency_values') }}

),

applied_scopes as (

    select scope_key from {{ ref('stg_config__efficiency_scopes') }}

),

shipped as (

    {%- for name, value in efficiency_default_values() %}
    select cast('default' as {{ dbt.type_string() }}) as scope_key,
           cast('{{ name }}' as {{ dbt.type_string() }}) as list_name,
           cast('{{ value }}' as {{ dbt.type_string() }}) as value
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

)

select * from applied
union all
select * from shipped
where not exists (select 1 from applied_scopes where scope_key = 'default')
