{#- effective_config(config, facts_project): the join condition picking a profile table's
    rows for a fact's project: the project's own rows when the profile has any for it,
    else the default rows (project_id null). `config` is the profile relation's alias,
    `facts_project` the fact's project_id expression. -#}
{% macro effective_config(config, facts_project, relation) -%}
    (
        {{ config }}.project_id = {{ facts_project }}
        or (
            {{ config }}.project_id is null
            and not exists (
                select 1 from {{ relation }} as own
                where own.project_id = {{ facts_project }}
            )
        )
    )
{%- endmacro %}
