-- DORA per team and UTC month: every team of every tree, alone (includes_subteams false)
-- and with the teams below it (true), for every period of the date spine. Deployments,
-- failures and recovery follow the services the team owns; lead time follows the PR
-- author's team. Formulas: macros/dora/dora_metrics.sql.
with teams as (

    select t.tree, t.team_id, t.name as team_name, f.includes_subteams
    from {{ ref('dim_team') }} as t
    cross join (select false as includes_subteams union all select true) as f

),

deployments as (

    select * from {{ ref('int_dora__team_deployments') }}

),

changes as (

    select * from {{ ref('int_dora__team_changes') }}

),

{{ dora_metrics('month', 'teams', ['tree', 'team_id', 'includes_subteams'], 'deployments', 'changes') }}
