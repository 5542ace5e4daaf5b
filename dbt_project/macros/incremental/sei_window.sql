{#-
  Incremental models by time window (docs/incremental.md).

  The hourly run does not rebuild the large facts and the period marts: it recomputes the
  rows whose window column is at or after a window start that the orchestrator chooses from
  what changed since the last build (orchestration/incremental.py) and passes in the
  environment as SEI_DBT_WINDOW_START (an ISO timestamp; by hand, the var `sei_window_start`
  does the same). Rows before it are kept as they are. Without either (a plain `dbt build`)
  an incremental model recomputes every row; `--full-refresh`, a first build and Spark (no
  incremental models there) build the table from scratch.

  A model opts in with
      {{ config(materialized=sei_incremental(), incremental_strategy='sei_window',
                unique_key='deployment_id', sei_window='coalesce(finished_at, started_at)',
                sei_window_grain='week') }}
  and ends with `select * from final {{ sei_window_filter() }}`.

    sei_window        SQL over the model's output columns: the time a row belongs to. A row
                      with a null window is recomputed on every run.
    sei_window_grain  week | month: the window start is truncated to the period (period
                      marts: a period is recomputed whole); period: to the earlier of the
                      two (a model holding both grains, keyed by its `period_start`).
    unique_key        rows whose key the new batch holds are replaced wherever they were
                      (a row whose window moved forward); period marts need none.
-#}

{#- table on Spark (dbt-spark's incremental strategies need Delta or Hive tables), else incremental -#}
{% macro sei_incremental() -%}
    {{- return('table' if target.type == 'spark' else 'incremental') -}}
{%- endmacro %}


{#- The window start, or none. Read only when executing: a var that changes every build makes
    dbt parse the whole project again (about 7 s on two cores), and an env var read while
    parsing makes it parse again every model that reads it; neither is needed to plan. -#}
{% macro sei_window_start() -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {{- return(env_var('SEI_DBT_WINDOW_START', '') or var('sei_window_start', none)) -}}
{%- endmacro %}


{#- The window start as a timestamp literal, truncated to `grain`, or none (every row). -#}
{% macro sei_window_bound(grain=none) -%}
    {%- set start = sei_window_start() -%}
    {%- if not start -%}{{ return(none) }}{%- endif -%}
    {%- set ts = modules.datetime.datetime.fromisoformat(start | string) -%}
    {%- set day = ts.date() -%}
    {%- if grain == 'week' -%}
        {%- set day = day - modules.datetime.timedelta(days=day.weekday()) -%}
    {%- elif grain == 'month' -%}
        {%- set day = day.replace(day=1) -%}
    {%- elif grain == 'period' -%}
        {%- set day = [day - modules.datetime.timedelta(days=day.weekday()), day.replace(day=1)] | min -%}
    {%- endif -%}
    {%- set lit = (ts.strftime('%Y-%m-%d %H:%M:%S') if grain is none else day.strftime('%Y-%m-%d 00:00:00')) -%}
    {{- return("cast('" ~ lit ~ "' as " ~ dbt.type_timestamp() ~ ")") -}}
{%- endmacro %}


{#- true for a row the run recomputes: its window is unknown or not before the bound -#}
{% macro sei_in_window(window, bound) -%}
    not coalesce(({{ window }}) < {{ bound }}, false)
{%- endmacro %}


{#- Whether this run recomputes a window: an incremental run with the var set. Checked in
    that order: a unit test has no relation of its own (`this`), so is_incremental() cannot
    be asked there, and unit tests run without the var. -#}
{% macro sei_windowed(bound) -%}
    {{- return(bound is not none and this is not none and is_incremental()) -}}
{%- endmacro %}


{#- The final filter of an opted-in model: on an incremental run with a window, only the
    rows of the window. -#}
{% macro sei_window_filter() -%}
    {%- set bound = sei_window_bound(config.get('sei_window_grain')) -%}
    {%- if sei_windowed(bound) -%}
    where {{ sei_in_window(config.get('sei_window'), bound) }}
    {%- endif -%}
{%- endmacro %}


{#- For inputs a model can safely narrow before the window filter (each output row depends
    only on input rows of its own period): `column >= bound` on an incremental run, else
    `true`. -#}
{% macro sei_window_since(column, grain=none) -%}
    {%- set bound = sei_window_bound(grain) -%}
    {%- if sei_windowed(bound) -%}{{ column }} >= {{ bound }}{%- else -%}1 = 1{%- endif -%}
{%- endmacro %}


{#- The strategy: delete the target's rows of the window (all rows without one) and the rows
    whose key the batch holds, then insert the batch; inside the materialisation's
    transaction, so a failure leaves the table as it was. -#}
{% macro get_incremental_sei_window_sql(arg_dict) -%}
    {%- set target_rel = arg_dict['target_relation'] -%}
    {%- set temp_rel = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set keys = ([] if not key else ([key] if key is string else key)) -%}
    {%- set bound = sei_window_bound(config.get('sei_window_grain')) -%}
    {%- set cols = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target_rel }}
    {%- if bound is not none %}
    where {{ sei_in_window(config.get('sei_window'), bound) }}
    {%- if keys %}
       or exists (select 1 from {{ temp_rel }} as b
                  where {% for k in keys %}b.{{ k }} = {{ target_rel }}.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %})
    {%- endif %}
    {%- endif %};
    insert into {{ target_rel }} ({{ cols }})
    select {{ cols }} from {{ temp_rel }}
{%- endmacro %}
