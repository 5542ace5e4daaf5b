{#-
  deduplicate(relation, partition_by, latest_by): one row per key, the latest version.

  `relation`: a relation or CTE name; `partition_by`: the key columns (list);
  `latest_by`: columns that order versions, most significant first (list); the row with
  the greatest values wins, nulls count as oldest. Ties are broken arbitrarily, so end
  `latest_by` with something that differs between versions (`_dlt_load_id`).

  dlt's `merge` already keeps one row per primary key; this keeps staging right if a
  table is ever appended to, replayed or merged on another key.
-#}
{% macro deduplicate(relation, partition_by, latest_by) -%}
    {{ return(adapter.dispatch('deduplicate', 'sei')(relation, partition_by, latest_by)) }}
{%- endmacro %}

{% macro sei_latest_first(latest_by) -%}
    {%- for c in latest_by -%}{{ c }} desc nulls last{% if not loop.last %}, {% endif %}{%- endfor -%}
{%- endmacro %}

{#- PostgreSQL (and the default): DISTINCT ON keeps the first row of each key in the
    ORDER BY, and adds no helper column. -#}
{% macro default__deduplicate(relation, partition_by, latest_by) -%}
    select distinct on ({{ partition_by | join(', ') }}) *
    from {{ relation }}
    order by {{ partition_by | join(', ') }}, {{ sei_latest_first(latest_by) }}
{%- endmacro %}

{#- DuckDB: QUALIFY on row_number(), which streams and parallelises better than DISTINCT ON. -#}
{% macro duckdb__deduplicate(relation, partition_by, latest_by) -%}
    select *
    from {{ relation }}
    qualify row_number() over (
        partition by {{ partition_by | join(', ') }}
        order by {{ sei_latest_first(latest_by) }}
    ) = 1
{%- endmacro %}
