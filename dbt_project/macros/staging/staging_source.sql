{#-
  staging_source(source_name, table_name, columns, soft_delete=true, dlt_load_id=true)

  The one way staging models read a raw table. Returns a SELECT with exactly the
  declared columns, each cast to the warehouse type, so a model compiles and builds
  the same way whatever state the raw table is in:

  - the table is missing (the source is not configured, or a resource has not loaded a
    row yet; dlt creates a table with its first row): an empty relation with the same
    typed columns (`... where 1 = 0`), so `dbt build` still succeeds and downstream
    models see zero rows;
  - a declared column is missing (dlt adds a column when a non-null value first shows
    up; the deletion pass adds `_sei_deleted_at` only when it first deletes something):
    a typed null in its place;
  - otherwise the column, converted to its declared kind.

  `columns` maps raw column name -> kind, in output order:
    string | bigint | double | boolean -> cast to that type;
    timestamp -> a UTC timestamp without time zone: TIMESTAMP WITH TIME ZONE through
        to_utc_timestamp, a timestamp without zone taken as UTC, epoch milliseconds
        through epoch_ms_to_timestamp, ISO text with an offset through jira_timestamp;
    epoch_ms -> epoch milliseconds -> UTC timestamp (whatever the stored type);
    jira_timestamp -> Jira's `2024-01-02T10:11:12.000+0000` text -> UTC timestamp.

  soft_delete adds `_sei_deleted_at` (timestamp, null when the column does not exist);
  dlt_load_id adds `_dlt_load_id` (text) and `_sei_loaded_at` (its UTC timestamp): set
  it false for dlt's nested tables (`parent__child`), which have no `_dlt_load_id`.

  The source() call is made at parse time whatever happens, so lineage (and Dagster's
  dlt -> dbt dependencies) is recorded even for tables that do not exist yet. Views
  built while a table was missing read it once the next `dbt run` rebuilds them.
-#}
{% macro staging_source(source_name, table_name, columns, soft_delete=true, dlt_load_id=true) -%}
    {%- set rel = source(source_name, table_name) -%}
    {%- set wanted = {} -%}
    {%- for name, kind in columns.items() -%}
        {%- do wanted.update({name: kind}) -%}
    {%- endfor -%}
    {%- if dlt_load_id -%}
        {%- do wanted.update({'_dlt_load_id': 'string'}) -%}
    {%- endif -%}
    {%- if soft_delete -%}
        {%- do wanted.update({'_sei_deleted_at': 'timestamp'}) -%}
    {%- endif -%}

    {%- set present = {} -%}
    {%- set found = none -%}
    {%- if execute -%}
        {%- set found = adapter.get_relation(database=rel.database, schema=rel.schema, identifier=rel.identifier) -%}
        {%- if found is not none -%}
            {%- for c in adapter.get_columns_in_relation(found) -%}
                {%- do present.update({c.name | lower: c.dtype | lower}) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif %}
    {%- if found is none %}
    -- {{ rel }} does not exist (yet): an empty relation with the same typed columns
    {%- endif %}
    select
    {%- for name, kind in wanted.items() %}
        {{ sei_typed_column(name, kind, present.get(name | lower)) }} as {{ adapter.quote(name) }}
        {%- if not loop.last or dlt_load_id %},{% endif %}
    {%- endfor %}
    {%- if dlt_load_id %}
        {%- if '_dlt_load_id' in present %}
        {{ dlt_load_timestamp(adapter.quote('_dlt_load_id')) }} as _sei_loaded_at
        {%- else %}
        cast(null as {{ dbt.type_timestamp() }}) as _sei_loaded_at
        {%- endif %}
    {%- endif %}
    {%- if found is not none %}
    from {{ rel }}
    {%- else %}
    where 1 = 0
    {%- endif %}
{%- endmacro %}


{#- The warehouse type of a column kind (see staging_source). -#}
{% macro sei_type(kind) -%}
    {%- if kind == 'string' -%} {{ dbt.type_string() }}
    {%- elif kind == 'bigint' -%} {{ dbt.type_bigint() }}
    {%- elif kind == 'double' -%} {{ sei_double() }}
    {%- elif kind == 'boolean' -%} {{ dbt.type_boolean() }}
    {%- elif kind in ('timestamp', 'epoch_ms', 'jira_timestamp') -%} {{ dbt.type_timestamp() }}
    {%- else -%} {{ exceptions.raise_compiler_error("staging_source: unknown column kind '" ~ kind ~ "' (string, bigint, double, boolean, timestamp, epoch_ms, jira_timestamp)") }}
    {%- endif -%}
{%- endmacro %}


{#- One column of staging_source: `stored_type` is the raw column's type as the adapter
    reports it (lower case), or none when the column does not exist. -#}
{% macro sei_typed_column(name, kind, stored_type) -%}
    {%- set col = adapter.quote(name) -%}
    {%- if stored_type is none -%}
        cast(null as {{ sei_type(kind) }})
    {%- elif kind == 'epoch_ms' -%}
        {{ epoch_ms_to_timestamp(col) }}
    {%- elif kind == 'jira_timestamp' -%}
        {{ jira_timestamp(col) }}
    {%- elif kind == 'timestamp' -%}
        {%- if 'with time zone' in stored_type or stored_type == 'timestamptz' -%}
            {{ to_utc_timestamp(col) }}
        {%- elif stored_type.startswith('timestamp') or stored_type.startswith('datetime') -%}
            cast({{ col }} as {{ dbt.type_timestamp() }})
        {%- elif stored_type in ('bigint', 'integer', 'int', 'int8', 'int4', 'hugeint', 'numeric', 'double', 'double precision', 'decimal')
                 or stored_type.startswith('decimal') or stored_type.startswith('numeric') -%}
            {{ epoch_ms_to_timestamp(col) }}
        {%- else -%}
            {{ jira_timestamp(col) }}
        {%- endif -%}
    {%- else -%}
        cast({{ col }} as {{ sei_type(kind) }})
    {%- endif -%}
{%- endmacro %}
