{#-
  jira_timestamp(col): Jira's timestamp text, `2024-01-02T10:11:12.000+0000` (Cloud
  and Data Center; the offset is the Jira user's or server's zone, `+hhmm`), -> a UTC
  timestamp without time zone: `2024-01-02T12:11:12.500+0200` -> 2024-01-02 10:11:12.5.
  Also accepts an ISO offset with a colon (`+02:00`) or `Z`. Null or '' gives null.
-#}
{% macro jira_timestamp(col) -%}
    {{ return(adapter.dispatch('jira_timestamp', 'sei')(col)) }}
{%- endmacro %}

{% macro default__jira_timestamp(col) -%}
    {#- DuckDB's and PostgreSQL's timestamptz input both read ISO 8601 with a +hhmm, +hh:mm
        or Z offset, so one SQL serves both; the result is made UTC explicitly so the
        session's TimeZone setting never matters. An adapter whose cast does not read
        `+0000` adds its own <adapter>__jira_timestamp. -#}
    (cast(nullif(trim({{ col }}), '') as timestamp with time zone) at time zone 'UTC')
{%- endmacro %}
