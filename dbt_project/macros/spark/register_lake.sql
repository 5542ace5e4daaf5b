{#-
  On-run-start hook (dbt_project.yml): on Spark, declare the lake's raw tables as external
  Parquet tables, so dbt's sources (`raw_github.pull_requests`, ...) resolve. The Dagster
  job passes the lake root and its tables as vars after exporting them (orchestration/
  engine.py): `sei_lake` (the root) and `sei_lake_tables` ({schema: [table, ...]}). Each
  table is dropped and re-declared, so a changed schema is re-read. Without the vars, or on
  another engine, it does nothing (the tables registered by an earlier run stay in the
  metastore). ingestion/lake.py:register_lake does the same from Python.
-#}
{% macro sei_register_lake() %}
    {%- if execute and target.type == 'spark' and var('sei_lake_tables', none) -%}
        {%- set lake = var('sei_lake') | string -%}
        {%- for schema, tables in var('sei_lake_tables').items() -%}
            {%- do run_query('create database if not exists `' ~ schema ~ '`') -%}
            {%- for t in tables -%}
                {%- do run_query('drop table if exists `' ~ schema ~ '`.`' ~ t ~ '`') -%}
                {%- do run_query('create table `' ~ schema ~ '`.`' ~ t ~ '` using parquet location '
                                 ~ sei_literal(lake ~ '/' ~ schema ~ '/' ~ t)) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
