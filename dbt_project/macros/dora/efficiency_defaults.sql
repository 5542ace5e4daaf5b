{#-
  The shipped efficiency profile (profiles/efficiency.yml, `defaults`), used when no
  profile has been applied to the warehouse (raw_config missing or empty), so a plain
  `dbt build` still gives the documented figures. tests/test_dora_profile.py checks that
  this equals what `sei profile apply` writes for the shipped file.
-#}
{% macro efficiency_default_scope() -%}
    {{ return({'scope_key': 'default', 'use_tool_production_flag': true, 'count_rollbacks': true,
               'incident_window_hours': 24.0, 'lead_time_start': 'first_commit'}) }}
{%- endmacro %}

{% macro efficiency_default_values() -%}
    {{ return([
        ('source', 'harness'), ('source', 'github'), ('source', 'events'),
        ('production_environment', 'prod'), ('production_environment', 'production'),
        ('failed_status', 'aborted'), ('failed_status', 'error'), ('failed_status', 'expired'),
        ('failed_status', 'failed'), ('failed_status', 'failure'),
        ('hotfix_label', 'hotfix'), ('hotfix_branch', 'hotfix-%'), ('hotfix_branch', 'hotfix/%'),
        ('jira_issue_type', 'incident'), ('in_progress_status', 'in progress'),
        ('bot', '%[bot]'), ('bot', 'acme-release-bot'),
    ]) }}
{%- endmacro %}
