{#- split_to_rows(expr, sep): a set-returning expression giving one row per element of a
    delimited string (Jira's Sprint changelog values are "51, 52"). Use in a select list;
    a null string gives no row. Elements are not trimmed. -#}
{% macro split_to_rows(expr, sep=',') -%}
    {{ return(adapter.dispatch('split_to_rows', 'sei')(expr, sep)) }}
{%- endmacro %}

{% macro default__split_to_rows(expr, sep) -%}
    unnest(string_to_array({{ expr }}, '{{ sep }}'))
{%- endmacro %}

{% macro duckdb__split_to_rows(expr, sep) -%}
    unnest(string_split({{ expr }}, '{{ sep }}'))
{%- endmacro %}
