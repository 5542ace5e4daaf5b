{#-
  duration_hours(start, end): the exact length of [start, end] in hours, as a double.

  (end - start) in seconds / 3600, to the microsecond: 10:59:59 -> 11:00:01 is
  0.000556 h, where dbt.datediff('hour', ...) would say 1 (it counts hour boundaries
  crossed, which is why it must never be used for durations). Negative when end is
  before start; null when either is null. Both arguments are SQL expressions of
  timestamps in UTC without time zone (what every staging model emits).
-#}
{% macro duration_hours(start, end) -%}
    {{ return(adapter.dispatch('duration_hours', 'sei')(start, end)) }}
{%- endmacro %}

{% macro default__duration_hours(start, end) -%}
    cast(extract(epoch from (({{ end }}) - ({{ start }}))) as {{ sei_double() }}) / 3600.0
{%- endmacro %}

{% macro duckdb__duration_hours(start, end) -%}
    {#- epoch_us is exact (integer microseconds); the division makes it a DOUBLE -#}
    (epoch_us({{ end }}) - epoch_us({{ start }})) / 3600000000.0
{%- endmacro %}
