{#- A PR phase in exact hours; null when either end is missing or the end precedes the
    start (documented in int_pull_requests__timeline: negative phases are data artefacts). -#}
{% macro phase_hours(start, end) -%}
    case when {{ start }} is not null and {{ end }} is not null and {{ end }} >= {{ start }}
         then {{ duration_hours(start, end) }} end
{%- endmacro %}
