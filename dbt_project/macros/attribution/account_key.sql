{#- A tool account as identity resolution keys it (ingestion/org/validate.py account_key):
    GitHub logins case-insensitive without a `[bot]` suffix, git emails lower-case, other
    tools' ids as given. `tool` is a SQL literal or column. -#}
{% macro account_key(tool, account) -%}
    case when lower({{ tool }}) = 'github' then regexp_replace(lower(trim({{ account }})), {{ sei_literal('\\[bot\\]$') }}, '')
         when lower({{ tool }}) = 'git' then lower(trim({{ account }}))
         else trim({{ account }}) end
{%- endmacro %}
