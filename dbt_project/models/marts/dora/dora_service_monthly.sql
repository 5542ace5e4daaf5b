-- DORA per service and UTC month (calendar month): one row per service of the
-- services file and period of the date spine. Formulas: macros/dora/dora_metrics.sql.
with services as (

    select service, owning_tree, owning_team_id as team_id, project_id
    from {{ ref('stg_org__services') }}

),

deployments as (

    select * from {{ ref('int_dora__service_facts') }}

),

changes as (

    select * from {{ ref('fct_changes') }} where service is not null

),

{{ dora_metrics('month', 'services', ['service'], 'deployments', 'changes') }}
