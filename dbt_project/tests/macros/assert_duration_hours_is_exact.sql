-- duration_hours(start, end) = exact (end - start) seconds / 3600, hand-computed.
-- Fails (returns rows) where the macro disagrees with the expected value.
{% set ts = dbt.type_timestamp() %}
with cases as (

    select 'new year' as case_name,
           cast('2023-12-31 22:00:00' as {{ ts }}) as started, cast('2024-01-01 01:30:00' as {{ ts }}) as ended,
           3.5 as expected
    union all
    -- Europe moved its clocks that night; UTC has no DST, so 2 h 45 min
    select 'dst night', cast('2024-03-31 00:30:00' as {{ ts }}), cast('2024-03-31 03:15:00' as {{ ts }}), 2.75
    union all
    -- crosses an hour boundary in 2 s: dbt.datediff('hour') would say 1
    select 'two seconds', cast('2024-01-01 10:59:59' as {{ ts }}), cast('2024-01-01 11:00:01' as {{ ts }}), cast(2.0 as {{ sei_double() }}) / 3600
    union all
    select 'half a second', cast('2024-01-01 10:00:00' as {{ ts }}), cast('2024-01-01 10:00:00.5' as {{ ts }}), cast(0.5 as {{ sei_double() }}) / 3600
    union all
    select 'leap day', cast('2024-02-28 12:00:00' as {{ ts }}), cast('2024-03-01 12:00:00' as {{ ts }}), 48.0
    union all
    select 'end before start', cast('2024-01-02 00:00:00' as {{ ts }}), cast('2024-01-01 00:00:00' as {{ ts }}), -24.0
    union all
    select 'p50 example', cast('2024-01-01 00:00:00' as {{ ts }}), cast('2024-01-02 06:00:00' as {{ ts }}), 30.0
    union all
    select 'no end', cast('2024-01-01 00:00:00' as {{ ts }}), cast(null as {{ ts }}), cast(null as {{ sei_double() }})

),

computed as (

    select case_name, expected, {{ duration_hours('started', 'ended') }} as actual
    from cases

)

select *
from computed
where (expected is null) <> (actual is null)
   or abs(actual - expected) > 1e-9
