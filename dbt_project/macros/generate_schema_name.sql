{#-
  Models land in the schema their folder names (`staging`, `intermediate`, `marts`), not
  `<target schema>_staging`: the marts are the public contract as `marts.<model>`
  (DESIGN.md), on DuckDB and PostgreSQL alike. A model without a custom schema goes to
  the target's schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
