{#- True when `event` falls in an effective-dated row: valid_from <= event < valid_to, a null
    valid_from meaning "from the start of history" and a null valid_to "still in force".
    Memberships and service ownership are both dated this way (dates, valid_to exclusive). -#}
{% macro effective_at(event, valid_from, valid_to) -%}
{{ event }} >= coalesce(cast({{ valid_from }} as {{ dbt.type_timestamp() }}), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
   and {{ event }} < coalesce(cast({{ valid_to }} as {{ dbt.type_timestamp() }}), cast('9999-12-31' as {{ dbt.type_timestamp() }}))
{%- endmacro %}
