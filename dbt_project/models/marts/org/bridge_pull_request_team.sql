-- Pull request -> the teams its author belonged to when it was opened: one row per
-- (pull request, tree, team). The author's GitHub login resolves through dim_identity;
-- membership holds at created_at when valid_from <= created_at < valid_to (dates, UTC;
-- null valid_from = from the start of history, null valid_to = still a member). A person
-- in two teams gives two rows. Bot authors (flagged by GitHub or by the resolution) and
-- accounts resolved to nobody give none.
with pull_requests as (

    select pull_request_id, repository_full_name, created_at,
           regexp_replace(lower(trim(author_login)), '\[bot\]$', '') as author_account, is_bot_author
    from {{ ref('stg_github__pull_requests') }}
    where author_login is not null and not coalesce(is_bot_author, false)

),

identities as (

    select account, developer_id
    from {{ ref('dim_identity') }}
    where tool = 'github' and not is_bot and developer_id is not null

),

memberships as (

    select developer_id, tree, team_id, valid_from, valid_to
    from {{ ref('bridge_team_membership') }}

)

select
    pr.pull_request_id,
    m.tree,
    m.team_id,
    i.developer_id,
    pr.created_at
from pull_requests as pr
join identities as i
    on i.account = pr.author_account
join memberships as m
    on m.developer_id = i.developer_id
   and pr.created_at >= coalesce(cast(m.valid_from as {{ dbt.type_timestamp() }}), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
   and pr.created_at < coalesce(cast(m.valid_to as {{ dbt.type_timestamp() }}), cast('9999-12-31' as {{ dbt.type_timestamp() }}))
