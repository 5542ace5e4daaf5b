-- to_utc_timestamp (timestamptz -> UTC timestamp) and dlt_load_timestamp (dlt's
-- `_dlt_load_id` text -> UTC timestamp), hand-computed.
{% set ts = dbt.type_timestamp() %}
with cases as (

    select 'tz +02' as case_name,
           {{ to_utc_timestamp("cast('2024-01-02 12:11:12+02:00' as " ~ sei_timestamp_tz() ~ ")") }} as actual,
           cast('2024-01-02 10:11:12' as {{ ts }}) as expected
    union all
    select 'tz -05',
           {{ to_utc_timestamp("cast('2024-01-01 22:00:00-05:00' as " ~ sei_timestamp_tz() ~ ")") }},
           cast('2024-01-02 03:00:00' as {{ ts }})
    union all
    select 'dlt load id',
           {{ dlt_load_timestamp("cast('1704190272.5' as " ~ dbt.type_string() ~ ")") }},
           cast('2024-01-02 10:11:12.5' as {{ ts }})

)

select *
from cases
where actual <> expected or actual is null
