with source as (

    {{ staging_source('org', 'current_developers', {
        'developer_id': 'string',
        'full_name': 'string',
        'primary_email': 'string',
        'manager_developer_id': 'string',
        'role': 'string',
        'site': 'string',
        'start_date': 'string',
        'end_date': 'string',
        'in_file': 'boolean',
        'import_id': 'bigint',
    }, soft_delete=false, dlt_load_id=false) }}

)

select
    developer_id,
    full_name,
    lower(primary_email) as primary_email,
    manager_developer_id,
    role,
    site,
    cast(start_date as date) as start_date,
    cast(end_date as date) as end_date,
    coalesce(in_file, true) as is_in_file,
    import_id
from source
