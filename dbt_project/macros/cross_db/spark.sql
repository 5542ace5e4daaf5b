{#-
  Spark (dbt-spark) forms of the project's cross-database macros, and the few dbt
  built-ins whose default SQL Spark does not parse. Spark 4.1 reads most of the shared
  SQL as it is (recursive CTEs, `is not distinct from`, `filter (where ...)`,
  `percentile_cont ... within group`, date_trunc); what differs is here, never in a
  model. Every timestamp is an instant read in the session's time zone, which the
  `spark` target sets to UTC (profiles.yml): that is what makes a Spark TIMESTAMP the
  same value as the UTC timestamps without time zone the other engines hold.
-#}

{#- sei_double(): the 8-byte floating point type (`double precision` is not Spark SQL). -#}
{% macro sei_double() -%}
    {{ return(adapter.dispatch('sei_double', 'sei')()) }}
{%- endmacro %}

{% macro default__sei_double() -%}double precision{%- endmacro %}

{% macro spark__sei_double() -%}double{%- endmacro %}

{% macro spark__duration_hours(start, end) -%}
    {#- unix_micros is exact (integer microseconds), as DuckDB's epoch_us; a double divisor
        keeps the quotient a DOUBLE (a decimal literal would make it a DECIMAL) -#}
    (unix_micros({{ end }}) - unix_micros({{ start }})) / cast(3600000000 as double)
{%- endmacro %}

{% macro spark__epoch_ms_to_timestamp(col) -%}
    timestamp_millis(cast({{ col }} as bigint))
{%- endmacro %}

{% macro spark__jira_timestamp(col) -%}
    {#- Spark's cast reads ISO 8601 with `+hhmm`, `+hh:mm` or `Z`, as the instant in UTC -#}
    cast(nullif(trim({{ col }}), '') as timestamp)
{%- endmacro %}

{% macro spark__to_utc_timestamp(col) -%}
    {#- a Parquet UTC instant is already the right value in a UTC session -#}
    cast({{ col }} as timestamp)
{%- endmacro %}

{% macro spark__dlt_load_timestamp(col) -%}
    cast(cast({{ col }} as double) as timestamp)
{%- endmacro %}

{% macro spark__split_to_rows(expr, sep) -%}
    {#- split() takes a regular expression: \Q...\E makes the separator literal -#}
    explode(split({{ expr }}, '\\Q{{ sep }}\\E'))
{%- endmacro %}

{#- No QUALIFY in Spark SQL: the row number in a subquery, dropped with `* except`. -#}
{% macro spark__deduplicate(relation, partition_by, latest_by) -%}
    select * except (_sei_version_rank)
    from (
        select *, row_number() over (
            partition by {{ partition_by | join(', ') }}
            order by {{ sei_latest_first(latest_by) }}
        ) as _sei_version_rank
        from {{ relation }}
    )
    where _sei_version_rank = 1
{%- endmacro %}

{#- Contracts: the YAML declares PostgreSQL/DuckDB type names (`varchar`, `double
    precision`, `float8`, `integer`); Spark's names for the same types are compared. -#}
{% macro spark__get_empty_schema_sql(columns) %}
    {%- set names = {'varchar': 'string', 'text': 'string', 'double precision': 'double', 'float8': 'double',
                     'integer': 'int', 'int4': 'int', 'int8': 'bigint'} -%}
    select
    {% for i in columns %}
      {%- set col = columns[i] -%}
      {%- set t = col['data_type'].strip().lower() -%}
      {% set col_name = adapter.quote(col['name']) if col.get('quote') else col['name'] %}
      cast(null as {{ names.get(t, t) }}) as {{ col_name }}{{ ", " if not loop.last }}
    {%- endfor -%}
{% endmacro %}

{#- sei_literal(text): `text` as an SQL string literal. Spark's parser reads a backslash in
    a literal as an escape (`'\'` never ends), so there backslashes are doubled; DuckDB and
    PostgreSQL (standard_conforming_strings) take them as they are. Quotes are doubled. -#}
{% macro sei_literal(text) -%}
    {{ return(adapter.dispatch('sei_literal', 'sei')(text)) }}
{%- endmacro %}

{% macro default__sei_literal(text) -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__sei_literal(text) -%}
    '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{#- sei_timestamp_tz(): the type of an instant (what dlt loads). Spark's TIMESTAMP is one:
    an instant shown in the session's zone. -#}
{% macro sei_timestamp_tz() -%}
    {{ return(adapter.dispatch('sei_timestamp_tz', 'sei')()) }}
{%- endmacro %}

{% macro default__sei_timestamp_tz() -%}timestamp with time zone{%- endmacro %}

{% macro spark__sei_timestamp_tz() -%}timestamp{%- endmacro %}

{#- Seeds on Spark: dbt-spark's session method pastes each value between quotes without
    escaping them, so a seed text with an apostrophe (the DORA bands' notes) breaks the
    insert and an empty cell becomes the text 'None'. The same insert with each value
    written as a literal of its own. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set statements = [] -%}
  {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
    {%- set sql -%}
      insert into {{ this.render() }} values
      {% for row in chunk -%}
        ({%- for value in row -%}
            {%- set type = column_override.get(agate_table.column_names[loop.index0],
                                               adapter.convert_type(agate_table, loop.index0)) -%}
            cast({{ sei_seed_literal(value) }} as {{ type }}){%- if not loop.last %}, {% endif -%}
        {%- endfor -%}){%- if not loop.last %},{% endif %}
      {% endfor -%}
    {%- endset -%}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {%- if loop.index0 == 0 -%}{%- do statements.append(sql) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(statements[0]) }}
{% endmacro %}

{% macro sei_seed_literal(value) -%}
    {%- if value is none -%} null
    {%- elif value is boolean -%} {{ 'true' if value else 'false' }}
    {%- elif value is number -%} {{ value }}
    {%- else -%} {{ sei_literal(value | string) }}
    {%- endif -%}
{%- endmacro %}

{#- dbt.listagg on Spark: dbt-spark's own ignores the ORDER BY (a warning, then
    collect_list's arbitrary order). Here the values are sorted by the ORDER BY key
    (one ascending expression, what the models use) through sorted (key, value) structs. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- if order_by_clause -%}
        {%- set key = order_by_clause | trim -%}
        {%- if key.lower().startswith('order by') -%}{%- set key = key[8:] | trim -%}{%- endif -%}
        {%- if ',' in key or key.lower().endswith(' desc') -%}
            {{ exceptions.raise_compiler_error("listagg on Spark: order by one ascending expression, got '" ~ order_by_clause ~ "'") }}
        {%- endif -%}
        {%- set collected = 'transform(array_sort(collect_list(struct(' ~ key ~ ' as k, ' ~ measure ~ ' as v))), e -> e.v)' -%}
    {%- endif -%}
    {%- if limit_num -%}{%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}{%- endif -%}
    array_join({{ collected }}, {{ delimiter_text }})
{%- endmacro %}
