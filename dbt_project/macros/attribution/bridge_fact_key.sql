{#- The column(s) that identify a bridge's fact, as one string expression (a fact reaching
    two teams is one piece of work). -#}
{% macro bridge_fact_key(bridge) -%}
{%- set keys = {'bridge_pull_request_team': 'pull_request_id', 'bridge_review_team': 'review_id',
                'bridge_issue_team': 'issue_id',
                'bridge_commit_team': dbt.concat(['repository_full_name', "'@'", 'commit_sha'])} -%}
{{ keys[bridge] }}
{%- endmacro %}
