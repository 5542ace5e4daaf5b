-- Shipped changes per team, through the PR author's teams when the PR was opened
-- (bridge_pull_request_team: lead time belongs to the author's team, DESIGN.md §3): the team
-- alone and every ancestor (includes_subteams). A PR counts once per (tree, team, flag) even
-- when its author was in two of the sub-teams.
with changes as (

    select b.tree, b.team_id, f.pull_request_id, f.deployed_at, f.lead_time_hours, f.coding_hours, f.pickup_hours,
           f.review_hours, f.deploy_hours
    from {{ ref('fct_changes') }} as f
    join {{ ref('bridge_pull_request_team') }} as b
        on b.pull_request_id = f.pull_request_id

)

select distinct tree, team_id, false as includes_subteams, pull_request_id, deployed_at, lead_time_hours,
       coding_hours, pickup_hours, review_hours, deploy_hours
from changes

union all

select distinct c.tree, c.ancestor_team_id as team_id, true as includes_subteams, ch.pull_request_id, ch.deployed_at,
       ch.lead_time_hours, ch.coding_hours, ch.pickup_hours, ch.review_hours, ch.deploy_hours
from changes as ch
join {{ ref('dim_team_closure') }} as c
    on c.tree = ch.tree and c.descendant_team_id = ch.team_id
