-- DORA per team and UTC week: every team of every tree, alone (includes_subteams false)
-- and with the teams below it (true), for every period of the date spine. Deployments,
-- failures and recovery follow the services the team owns; lead time follows the PR
-- author's team. Formulas: macros/dora/dora_metrics.sql.
{{ dora_team_metrics('week') }}
