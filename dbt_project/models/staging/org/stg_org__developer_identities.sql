with source as (

    {{ staging_source('org', 'current_developer_identities', {
        'developer_id': 'string',
        'tool': 'string',
        'account': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select distinct
    lower(tool) as tool,
    {{ account_key('tool', 'account') }} as account,
    developer_id
from source
where account is not null
