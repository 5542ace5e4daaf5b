with source as (

    {{ staging_source('org', 'current_memberships', {
        'developer_id': 'string',
        'tree': 'string',
        'team_id': 'string',
        'valid_from': 'string',
        'valid_to': 'string',
        'source': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

-- dates are read as ISO text and cast (staging_source has no date kind): valid_to exclusive,
-- valid_from null = from the start of history, valid_to null = still a member
select
    developer_id,
    tree,
    team_id,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    source as membership_source
from source
