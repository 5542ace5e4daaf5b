-- epoch_ms_to_timestamp(col): epoch milliseconds -> UTC timestamp, hand-computed.
{% set ts = dbt.type_timestamp() %}
with cases as (

    select cast(0 as {{ dbt.type_bigint() }}) as epoch_ms, cast('1970-01-01 00:00:00' as {{ ts }}) as expected
    union all
    select cast(1704190272000 as {{ dbt.type_bigint() }}), cast('2024-01-02 10:11:12' as {{ ts }})
    union all
    select cast(1704190272123 as {{ dbt.type_bigint() }}), cast('2024-01-02 10:11:12.123' as {{ ts }})
    union all
    -- 2024-03-01T00:00:00Z is 1709251200 s: one millisecond before is still the leap day
    select cast(1709251199999 as {{ dbt.type_bigint() }}), cast('2024-02-29 23:59:59.999' as {{ ts }})
    union all
    select cast(null as {{ dbt.type_bigint() }}), cast(null as {{ ts }})

),

computed as (

    select epoch_ms, expected, {{ epoch_ms_to_timestamp('epoch_ms') }} as actual
    from cases

)

select *
from computed
where (expected is null) <> (actual is null)
   or actual <> expected
