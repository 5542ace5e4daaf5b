-- deduplicate(relation, partition_by, latest_by): one row per key, the greatest
-- latest_by values win, a null counts as oldest, later columns break ties.
{% set ts = dbt.type_timestamp() %}
with versions as (

    select 1 as k, 'old' as v, cast('2024-01-01' as {{ ts }}) as updated_at, '1' as load_id
    union all select 1, 'new', cast('2024-01-02' as {{ ts }}), '1'
    union all select 2, 'null is oldest', cast(null as {{ ts }}), '9'
    union all select 2, 'dated', cast('2024-01-01' as {{ ts }}), '0'
    union all select 3, 'earlier load', cast('2024-01-01' as {{ ts }}), '1'
    union all select 3, 'later load', cast('2024-01-01' as {{ ts }}), '2'
    union all select 4, 'only', cast('2024-01-01' as {{ ts }}), '1'

),

deduplicated as (

    {{ deduplicate('versions', partition_by=['k'], latest_by=['updated_at', 'load_id']) }}

),

expected as (

    select 1 as k, 'new' as v
    union all select 2, 'dated'
    union all select 3, 'later load'
    union all select 4, 'only'

),

compared as (

    select coalesce(e.k, d.k) as k, e.v as expected_v, d.v as actual_v
    from expected as e
    full outer join deduplicated as d on e.k = d.k

)

select *
from compared
where expected_v is null or actual_v is null or expected_v <> actual_v
