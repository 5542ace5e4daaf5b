with source as (

    {{ staging_source('org', 'current_developer_identities', {
        'developer_id': 'string',
        'tool': 'string',
        'account': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select distinct
    lower(tool) as tool,
    -- accounts compare as ingestion/org/validate.py account_key does: GitHub logins case-insensitive, no `[bot]`
    case when lower(tool) = 'github' then regexp_replace(lower(trim(account)), '\[bot\]$', '')
         when lower(tool) = 'git' then lower(trim(account))
         else trim(account) end as account,
    developer_id
from source
where account is not null
