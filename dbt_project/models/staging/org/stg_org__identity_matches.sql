with source as (

    {{ staging_source('org', 'identity_matches', {
        'tool': 'string',
        'account_id': 'string',
        'login': 'string',
        'developer_id': 'string',
        'rule': 'string',
        'confidence': 'double',
        'is_bot': 'boolean',
        'activity': 'bigint',
        'resolved_at': 'timestamp',
    }, soft_delete=false, dlt_load_id=false) }}

)

select
    lower(tool) as tool,
    -- accounts compare as ingestion/org/validate.py account_key does: GitHub logins case-insensitive, no `[bot]`
    case when lower(tool) = 'github' then regexp_replace(lower(trim(account_id)), '\[bot\]$', '')
         when lower(tool) = 'git' then lower(trim(account_id))
         else trim(account_id) end as account,
    login,
    developer_id,
    rule,
    confidence,
    coalesce(is_bot, false) as is_bot,
    activity,
    resolved_at
from source
where account_id is not null
