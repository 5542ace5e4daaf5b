{#-
  period_spine(period, bounds): one row `period_start` (a date) per UTC week (ISO, from
  Monday) or calendar month from `lo` to `hi` inclusive, where `bounds` is a relation or CTE
  with one row and timestamp columns `lo` and `hi` (null bounds give no rows).
-#}
{% macro period_spine(period, bounds) -%}
    {{ return(adapter.dispatch('period_spine', 'sei')(period, bounds)) }}
{%- endmacro %}

{% macro default__period_spine(period, bounds) -%}
    select cast(generate_series(
        {{ dbt.date_trunc(period, 'lo') }}, {{ dbt.date_trunc(period, 'hi') }}, interval '1 {{ period }}'
    ) as date) as period_start
    from {{ bounds }}
    where lo is not null and hi is not null
{%- endmacro %}

{% macro duckdb__period_spine(period, bounds) -%}
    select cast(unnest(generate_series(
        {{ dbt.date_trunc(period, 'lo') }}, {{ dbt.date_trunc(period, 'hi') }}, interval '1 {{ period }}'
    )) as date) as period_start
    from {{ bounds }}
    where lo is not null and hi is not null
{%- endmacro %}

{#- The UTC period (week from Monday, month) a timestamp falls in, as a date. -#}
{% macro period_of(period, ts) -%}
    cast({{ dbt.date_trunc(period, ts) }} as date)
{%- endmacro %}

{#- Spark: sequence() of dates with a one-period step, exploded to rows. -#}
{% macro spark__period_spine(period, bounds) -%}
    select explode(sequence(
        cast({{ dbt.date_trunc(period, 'lo') }} as date), cast({{ dbt.date_trunc(period, 'hi') }} as date),
        interval 1 {{ period }}
    )) as period_start
    from {{ bounds }}
    where lo is not null and hi is not null
{%- endmacro %}
