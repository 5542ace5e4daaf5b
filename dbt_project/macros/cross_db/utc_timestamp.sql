{#-
  to_utc_timestamp(col): a TIMESTAMP WITH TIME ZONE (what dlt loads) -> the same
  instant as a timestamp without time zone in UTC. Every staging model emits UTC
  timestamps without time zone, so periods (date_trunc to ISO weeks, months) never
  depend on a session's TimeZone setting or a BI tool's. Same SQL on DuckDB and
  PostgreSQL; Spark's form is in spark.sql.
-#}
{% macro to_utc_timestamp(col) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'sei')(col)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(col) -%}
    ({{ col }} at time zone 'UTC')
{%- endmacro %}

{#-
  dlt_load_timestamp(col): dlt's `_dlt_load_id` ('1763900706.416814', seconds since
  the epoch as text) -> the UTC timestamp of the load that last wrote the row.
-#}
{% macro dlt_load_timestamp(col='_dlt_load_id') -%}
    {{ return(adapter.dispatch('dlt_load_timestamp', 'sei')(col)) }}
{%- endmacro %}

{% macro default__dlt_load_timestamp(col) -%}
    (to_timestamp(cast({{ col }} as {{ sei_double() }})) at time zone 'UTC')
{%- endmacro %}
