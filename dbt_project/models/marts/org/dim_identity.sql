-- Every tool account -> developer. The stored resolution (`sei org identities`) wins; an
-- account the developers file declares but the resolution has not seen (or the resolution
-- never ran) is taken as declared.
with matches as (

    select tool, account, developer_id, rule, confidence, is_bot
    from {{ ref('stg_org__identity_matches') }}

),

declared as (

    select d.tool, d.account, min(d.developer_id) as developer_id,
           cast('declared' as {{ dbt.type_string() }}) as rule,
           cast(1.0 as {{ sei_double() }}) as confidence, false as is_bot
    from {{ ref('stg_org__developer_identities') }} as d
    where not exists (select 1 from matches as m where m.tool = d.tool and m.account = d.account)
    group by d.tool, d.account

),

developers as (

    select developer_id from {{ ref('stg_org__developers') }}

)

select u.tool, u.account,
       -- a match to a developer missing from the current import is dropped (unmatched)
       case when u.developer_id in (select developer_id from developers) then u.developer_id end as developer_id,
       u.rule, u.confidence, u.is_bot
from (select * from matches union all select * from declared) as u
