-- Who owned each service when: one row per (service, accepted import that lists it), valid
-- from the import's effective date (null = from the start of history: the first import
-- without a date) until the next accepted import's (exclusive; null = still in force).
with imports as (

    {{ staging_source('org', 'imports', {
        'import_id': 'bigint',
        'effective_date': 'string',
        'status': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

),

accepted as (

    select
        import_id,
        cast(effective_date as date) as valid_from,
        lead(cast(effective_date as date)) over (order by import_id) as valid_to
    from imports
    where status = 'accepted'

),

services as (

    {{ staging_source('org', 'services', {
        'import_id': 'bigint',
        'service': 'string',
        'owning_tree': 'string',
        'owning_team_id': 'string',
        'project_id': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select
    s.service,
    s.owning_tree,
    s.owning_team_id,
    s.project_id,
    s.import_id,
    a.valid_from,
    a.valid_to
from services as s
join accepted as a
    on a.import_id = s.import_id
