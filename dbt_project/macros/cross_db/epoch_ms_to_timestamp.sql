{#-
  epoch_ms_to_timestamp(col): milliseconds since 1970-01-01T00:00:00Z (Harness's
  startTs / endTs) -> a UTC timestamp without time zone, keeping the milliseconds.
  1704190272123 -> 2024-01-02 10:11:12.123. Null stays null.
-#}
{% macro epoch_ms_to_timestamp(col) -%}
    {{ return(adapter.dispatch('epoch_ms_to_timestamp', 'sei')(col)) }}
{%- endmacro %}

{% macro default__epoch_ms_to_timestamp(col) -%}
    (to_timestamp(cast({{ col }} as {{ sei_double() }}) / 1000.0) at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__epoch_ms_to_timestamp(col) -%}
    {#- epoch_ms(BIGINT) returns a TIMESTAMP (UTC, no time zone), exact to the millisecond -#}
    epoch_ms(cast({{ col }} as bigint))
{%- endmacro %}
