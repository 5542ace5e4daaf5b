{#-
  Staging tables of the largest raw tables, kept by load (docs/incremental.md).

  A staging view re-reads and de-duplicates its whole raw table each time something selects
  from it: every data test on it and every model over it. For the raw tables with millions of
  rows that was most of an hourly build's test time (the changelogs, PRs, workflow runs).
  These models are tables instead, and a window build (the orchestrator's, with the var
  SEI_DBT_WINDOW_START; docs/incremental.md) merges only the raw rows loaded, or stamped
  deleted, after the newest the table already holds; everything else about a row (its
  repository's project, whether the repository is deleted) comes from sources the planner
  fingerprints, whose change makes the build a full one.

  A model opts in with
      {{ config(materialized=sei_incremental(), incremental_strategy='sei_loads', unique_key='pull_request_id') }}
  and narrows its raw rows with `where {{ sei_new_loads() }}` right after staging_source
  (before de-duplicating: the newest load of a key wins there, as in the whole table).

  Without the var (a plain `dbt build`) the table is recomputed whole; `--full-refresh`, a
  first build and Spark build it from scratch.
-#}

{#- Whether this run merges new loads only: an incremental window build. -#}
{% macro sei_loads_windowed() -%}
    {{- return(sei_window_start() is not none and this is not none and is_incremental()) -}}
{%- endmacro %}


{#- Over staging_source's columns: the raw rows loaded, or stamped deleted, after the newest
    the table holds (its `loaded_at` and `deleted_at`); `1 = 1` when recomputing whole. -#}
{% macro sei_new_loads(loaded='_sei_loaded_at', deleted='_sei_deleted_at') -%}
    {%- if sei_loads_windowed() -%}
    {%- set epoch = "cast('1900-01-01' as " ~ dbt.type_timestamp() ~ ")" %}
    ({{ loaded }} > coalesce((select max(loaded_at) from {{ this }}), {{ epoch }})
        or {{ deleted }} > coalesce((select max(deleted_at) from {{ this }}), {{ epoch }}))
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}


{#- The strategy: on a window build, replace the rows whose key the batch holds; otherwise
    replace every row. Inside the materialisation's transaction: a failure leaves the table
    as it was. -#}
{% macro get_incremental_sei_loads_sql(arg_dict) -%}
    {%- set target_rel = arg_dict['target_relation'] -%}
    {%- set temp_rel = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set keys = ([] if not key else ([key] if key is string else key)) -%}
    {%- set cols = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target_rel }}
    {%- if sei_loads_windowed() and keys %}
    where exists (select 1 from {{ temp_rel }} as b
                  where {% for k in keys %}b.{{ k }} = {{ target_rel }}.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %})
    {%- endif %};
    insert into {{ target_rel }} ({{ cols }})
    select {{ cols }} from {{ temp_rel }}
{%- endmacro %}
