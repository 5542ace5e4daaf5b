-- sei_typed_column, the per-column conversion inside staging_source: each stored type a raw
-- column can have, converted to the declared kind, hand-computed. (staging_source itself,
-- on missing tables and columns, is exercised by tests/test_dbt_staging.py.)
{% set ts = dbt.type_timestamp() %}
with raw as (

    select
        cast('2024-01-02 12:11:12+02:00' as {{ sei_timestamp_tz() }}) as tz_value,
        cast('2024-01-02 10:11:12' as {{ ts }}) as naive_value,
        cast(1704190272123 as {{ dbt.type_bigint() }}) as epoch_ms_value,
        cast('2024-01-02T12:11:12.000+0200' as {{ dbt.type_string() }}) as text_value,
        cast('42' as {{ dbt.type_string() }}) as number_text

),

converted as (

    select
        {{ sei_typed_column('tz_value', 'timestamp', 'timestamp with time zone') }} as from_tz,
        {{ sei_typed_column('naive_value', 'timestamp', 'timestamp') }} as from_naive,
        {{ sei_typed_column('epoch_ms_value', 'timestamp', 'bigint') }} as from_epoch_ms,
        {{ sei_typed_column('text_value', 'timestamp', 'varchar') }} as from_text,
        {{ sei_typed_column('text_value', 'jira_timestamp', 'text') }} as from_jira_text,
        {{ sei_typed_column('number_text', 'bigint', 'varchar') }} as number,
        {{ sei_typed_column('no_such_column', 'timestamp', none) }} as missing_column
    from raw

)

select *
from converted
where from_tz <> cast('2024-01-02 10:11:12' as {{ ts }})
   or from_naive <> cast('2024-01-02 10:11:12' as {{ ts }})
   or from_epoch_ms <> cast('2024-01-02 10:11:12.123' as {{ ts }})
   or from_text <> cast('2024-01-02 10:11:12' as {{ ts }})
   or from_jira_text <> cast('2024-01-02 10:11:12' as {{ ts }})
   or number <> 42
   or missing_column is not null
