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
    {{ account_key('tool', 'account_id') }} as account,
    login,
    developer_id,
    rule,
    confidence,
    coalesce(is_bot, false) as is_bot,
    activity,
    resolved_at
from source
where account_id is not null
