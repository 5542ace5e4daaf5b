-- jira_timestamp(col): Jira's `2024-01-02T10:11:12.000+0000` text -> UTC timestamp, hand-computed.
{% set ts = dbt.type_timestamp() %}
with cases as (

    select cast('2024-01-02T10:11:12.000+0000' as {{ dbt.type_string() }}) as jira_value,
           cast('2024-01-02 10:11:12' as {{ ts }}) as expected
    union all
    select '2024-01-02T12:11:12.500+0200', cast('2024-01-02 10:11:12.5' as {{ ts }})
    union all
    -- India, +05:30: the UTC instant is on the previous day
    select '2024-01-01T01:00:00.000+0530', cast('2023-12-31 19:30:00' as {{ ts }})
    union all
    -- a Data Center server in US Pacific daylight time
    select '2023-06-30T20:15:00.000-0700', cast('2023-07-01 03:15:00' as {{ ts }})
    union all
    select '2024-01-02T10:11:12.000+00:00', cast('2024-01-02 10:11:12' as {{ ts }})
    union all
    select '', cast(null as {{ ts }})
    union all
    select cast(null as {{ dbt.type_string() }}), cast(null as {{ ts }})

),

computed as (

    select jira_value, expected, {{ jira_timestamp('jira_value') }} as actual
    from cases

)

select *
from computed
where (expected is null) <> (actual is null)
   or actual <> expected
