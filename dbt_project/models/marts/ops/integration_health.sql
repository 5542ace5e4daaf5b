{#-
  Health of every integration and resource from the ingestion run log: the last run, the
  last success and how long ago it was, that run's figures, the last error, and a status
  (`healthy`, `degraded`, `unhealthy`, `not_configured`). The allowed lag per source comes
  from the var `sei_health_max_lag_hours` (the Dagster job passes SEI_FRESHNESS_LAG_HOURS,
  so the freshness checks and this model agree). The lag is measured to the build's clock,
  or to the var `sei_health_as_of` (a UTC timestamp, 'YYYY-MM-DD HH:MM:SS') when set: a
  report as of a fixed instant, reproducible whenever it is built.
-#}
{%- set max_lag = var('sei_health_max_lag_hours', {'github': 3, 'jira': 3, 'harness': 3, 'events': 26}) -%}
{%- set default_lag = var('sei_health_default_max_lag_hours', 25) -%}
{%- set as_of = var('sei_health_as_of', none) -%}
{%- if as_of -%}
    {%- set parsed = modules.datetime.datetime.fromisoformat(as_of | string) if modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?$', as_of | string) else none -%}
    {%- if parsed is none -%}
        {{ exceptions.raise_compiler_error("integration_health: var sei_health_as_of = '" ~ as_of ~ "' is not a UTC timestamp. Fix: pass it as 'YYYY-MM-DD HH:MM:SS', or leave it unset to measure lag to the build's clock.") }}
    {%- endif -%}
{%- endif %}

with resources as (

    select * from {{ ref('stg_ops__ingest_resources') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by source_name, resource_name order by finished_at desc, ingest_run_id desc
        ) as run_rank
    from resources

),

last_run as (

    select * from ranked where run_rank = 1

),

last_success as (

    select source_name, resource_name, max(finished_at) as last_success_at
    from resources
    where status in ('success', 'partial')
    group by source_name, resource_name

),

last_error as (

    select source_name, resource_name, finished_at as last_error_at, error_message as last_error_message
    from (
        select
            *,
            row_number() over (
                partition by source_name, resource_name order by finished_at desc, ingest_run_id desc
            ) as error_rank
        from resources
        where error_message is not null
    ) errors
    where error_rank = 1

),

checked as (

    {%- if as_of %}
    select cast('{{ parsed.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}) as checked_at
    {%- else %}
    select {{ to_utc_timestamp(dbt.current_timestamp()) }} as checked_at
    {%- endif %}

),

joined as (

    select
        r.source_name,
        r.resource_name,
        r.ingest_run_id as last_run_id,
        r.finished_at as last_run_at,
        r.status as last_status,
        s.last_success_at,
        case when s.last_success_at is not null
            then {{ duration_hours('s.last_success_at', 'c.checked_at') }} end as lag_hours,
        cast(case r.source_name
            {%- for source, hours in max_lag.items() %}
            when '{{ source }}' then {{ hours }}
            {%- endfor %}
            else {{ default_lag }}
        end as {{ sei_double() }}) as max_lag_hours,
        r.rows_loaded as rows_last_run,
        r.request_count as requests_last_run,
        r.retry_count as retries_last_run,
        r.wait_seconds as wait_seconds_last_run,
        r.min_ratelimit_remaining,
        e.last_error_at,
        e.last_error_message,
        c.checked_at
    from last_run r
    cross join checked c
    left join last_success s on s.source_name = r.source_name and s.resource_name = r.resource_name
    left join last_error e on e.source_name = r.source_name and e.resource_name = r.resource_name

),

final as (

    select
        source_name,
        resource_name,
        case
            when last_status = 'skipped' and last_success_at is null then 'not_configured'
            when last_status = 'failed' or last_success_at is null or lag_hours > max_lag_hours then 'unhealthy'
            when last_status = 'partial' then 'degraded'
            else 'healthy'
        end as status,
        last_status,
        last_run_id,
        last_run_at,
        last_success_at,
        lag_hours,
        max_lag_hours,
        rows_last_run,
        requests_last_run,
        retries_last_run,
        wait_seconds_last_run,
        min_ratelimit_remaining,
        last_error_at,
        last_error_message,
        checked_at
    from joined

)

select * from final
